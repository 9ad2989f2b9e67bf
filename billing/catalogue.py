"""The catalogue of coupons and discounts: what each discount takes off, so MRR can price it.

In the API version the SDK pins, a subscription names its discounts by id and a Discount names
its coupon by id (`source.coupon`); the coupon's terms arrive only in coupon.* events or from
Stripe. Events fill the catalogue in any order; what is still unknown is fetched from Stripe
by a background job (or by `process-stripe-events`), never during a webhook request.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.customers import customer_subscriber, id_of, timestamp
from billing.models import StripeCoupon, StripeDiscount, StripeEvent
from growth.models import Subscriber

log = logging.getLogger(__name__)

COUPON_EVENTS = frozenset({"coupon.created", "coupon.updated", "coupon.deleted"})
DISCOUNT_EVENTS = frozenset(
    {"customer.discount.created", "customer.discount.updated", "customer.discount.deleted"}
)
FETCH_TASK = "billing.fetch_catalogue"


def _earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _get_or_add(session: Session, model: Any, column: Any, key: str, make: Callable[[], Any]) -> Any:
    """The row of this provider id, added once even when two workers add it at the same time."""
    query = select(model).where(column == key)
    found = session.scalars(query).first()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            found = make()
            session.add(found)
    except IntegrityError:
        found = session.scalars(query).one()
    return found


# -- coupons ------------------------------------------------------------------------------------


def store_coupon(
    session: Session, obj: dict[str, Any], at: dt.datetime, deleted_at: dt.datetime | None = None
) -> StripeCoupon:
    """Keep a coupon's terms (immutable at Stripe: the first full copy stands); deletion sticks."""
    coupon_id = str(obj["id"])
    row = _get_or_add(
        session,
        StripeCoupon,
        StripeCoupon.stripe_coupon_id,
        coupon_id,
        lambda: StripeCoupon(stripe_coupon_id=coupon_id, currency_options={}, state_at=at),
    )
    percent, amount = obj.get("percent_off"), obj.get("amount_off")
    if not row.priced and (percent is not None or amount is not None):
        options = obj.get("currency_options") or {}
        row.percent_off = str(percent) if percent is not None else None
        row.amount_off_cents = int(amount) if amount is not None else None
        row.currency = str(obj["currency"]).lower() if obj.get("currency") else None
        row.currency_options = {
            str(cur).lower(): int(opt["amount_off"])
            for cur, opt in options.items()
            if isinstance(opt, dict) and opt.get("amount_off") is not None
        }
        row.duration = obj.get("duration")
        row.duration_in_months = obj.get("duration_in_months")
        row.missing_at = None
        row.state_at = at
    row.deleted_at = _earliest(row.deleted_at, deleted_at)
    session.flush()
    return row


def apply_coupon_event(session: Session, row: StripeEvent, obj: dict[str, Any]) -> Subscriber | None:
    """coupon.created/updated/deleted: the terms into the catalogue (a coupon has no subscriber)."""
    deleted = row.created if row.type == "coupon.deleted" else None
    store_coupon(session, obj, row.created, deleted)
    return None


# -- discounts ----------------------------------------------------------------------------------


def _coupon_of(obj: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """(coupon id, the coupon when expanded) of a Discount, in the pinned shape or an older one."""
    source = obj.get("source") if isinstance(obj.get("source"), dict) else {}
    coupon = (source or {}).get("coupon") or obj.get("coupon")
    if isinstance(coupon, dict):
        return (str(coupon["id"]) if coupon.get("id") else None), coupon
    return (str(coupon) if coupon else None), None


def describe_discount(
    session: Session,
    obj: dict[str, Any],
    at: dt.datetime,
    *,
    deleted_at: dt.datetime | None = None,
    from_event: bool = True,
) -> StripeDiscount:
    """Record what a Discount object says; an older description never overwrites a newer one."""
    discount_id = str(obj["id"])
    row = _get_or_add(
        session,
        StripeDiscount,
        StripeDiscount.stripe_discount_id,
        discount_id,
        lambda: StripeDiscount(stripe_discount_id=discount_id, state_at=at),
    )
    coupon_id, expanded = _coupon_of(obj)
    if expanded is not None and coupon_id:
        store_coupon(session, expanded, at)
    # A fetched copy only fills in what no event described; an event wins when newer.
    was_described = row.described
    newer = from_event and row.state_at <= at
    if not was_described or newer:
        row.stripe_coupon_id = coupon_id or row.stripe_coupon_id
        row.stripe_customer_id = id_of(obj.get("customer")) or row.stripe_customer_id
        row.stripe_subscription_id = id_of(obj.get("subscription")) or row.stripe_subscription_id
        row.start = timestamp(obj.get("start"))
        row.end = timestamp(obj.get("end"))
        row.missing_at = None
        if from_event:
            row.state_at = at if not was_described else max(row.state_at, at)
    row.deleted_at = _earliest(row.deleted_at, deleted_at)
    session.flush()
    return row


def apply_discount(session: Session, row: StripeEvent, obj: dict[str, Any]) -> Subscriber | None:
    """customer.discount.*: a discount's coupon, start and end (removal ends it at that instant)."""
    deleted = row.created if row.type == "customer.discount.deleted" else None
    describe_discount(session, obj, row.created, deleted_at=deleted)
    return customer_subscriber(session, id_of(obj.get("customer")))


def note_discount_ids(
    session: Session, subscription_id: str, customer_id: str, ids: Iterable[str], at: dt.datetime
) -> None:
    """A subscription event names discounts by id: keep each, to be described or fetched."""
    for discount_id in ids:
        _get_or_add(
            session,
            StripeDiscount,
            StripeDiscount.stripe_discount_id,
            discount_id,
            lambda discount_id=discount_id: StripeDiscount(  # type: ignore[misc]
                stripe_discount_id=discount_id,
                stripe_subscription_id=subscription_id,
                stripe_customer_id=customer_id or None,
                state_at=at,
            ),
        )
    session.flush()


# -- what is unknown, and fetching it -----------------------------------------------------------


def subscriptions_to_fetch(session: Session) -> list[str]:
    """Subscriptions with a discount we know only by id (and Stripe was not yet asked in vain)."""
    ids = session.scalars(
        select(StripeDiscount.stripe_subscription_id).where(
            StripeDiscount.stripe_coupon_id.is_(None),
            StripeDiscount.percent_off.is_(None),
            StripeDiscount.amount_off_cents.is_(None),
            StripeDiscount.missing_at.is_(None),
            StripeDiscount.stripe_subscription_id.is_not(None),
        )
    )
    return sorted({str(sub_id) for sub_id in ids if sub_id})


def coupons_to_fetch(session: Session) -> list[str]:
    """Coupons a discount names whose terms we do not have."""
    named = set(
        session.scalars(
            select(StripeDiscount.stripe_coupon_id).where(StripeDiscount.stripe_coupon_id.is_not(None))
        )
    )
    settled = {
        c.stripe_coupon_id
        for c in session.scalars(select(StripeCoupon).where(StripeCoupon.stripe_coupon_id.in_(named)))
        if c.priced or c.missing_at is not None
    }
    return sorted(str(c) for c in named - settled)


def has_unknown(session: Session) -> bool:
    """Whether anything in the catalogue waits to be fetched."""
    return bool(subscriptions_to_fetch(session) or coupons_to_fetch(session))


def fetch_subscription_discounts(
    session: Session, gateway: Any, subscription_id: str, now: dt.datetime
) -> int:
    """Describe a subscription's discounts from Stripe (a Discount cannot be fetched by its id:
    it is expanded on its subscription); those it no longer lists are marked missing."""
    sub = gateway.retrieve_subscription(subscription_id, expand=["discounts"])
    listed = {}
    for item in (sub.get("discounts") if sub is not None else None) or []:
        if isinstance(item, dict) and item.get("id"):
            listed[str(item["id"])] = item
    for item in listed.values():
        describe_discount(session, item, now, from_event=False)
    waiting = session.scalars(
        select(StripeDiscount).where(
            StripeDiscount.stripe_subscription_id == subscription_id,
            StripeDiscount.stripe_coupon_id.is_(None),
            StripeDiscount.missing_at.is_(None),
        )
    )
    for row in waiting:
        if not row.described and row.stripe_discount_id not in listed:
            log.warning(
                "discount %s is no longer on %s: unpriced until an event describes it",
                row.stripe_discount_id,
                subscription_id,
            )
            row.missing_at = now
    session.flush()
    return len(listed)


def fetch_coupon(session: Session, gateway: Any, coupon_id: str, now: dt.datetime) -> bool:
    """A coupon's terms from Stripe; False (noted missing) when Stripe no longer has it."""
    obj = gateway.retrieve_coupon(coupon_id)
    if obj is None:
        row = store_coupon(session, {"id": coupon_id}, now)
        if not row.priced:
            log.warning("coupon %s is gone from Stripe: its discounts stay unpriced", coupon_id)
            row.missing_at = now
        session.flush()
        return False
    store_coupon(session, obj, now, now if obj.get("deleted") else None)
    return True


def fetch_unknown(
    session: Session, gateway: Any, now: dt.datetime, commit: Callable[[], None]
) -> tuple[int, int]:
    """Fetch every unknown discount, then every unknown coupon, committing after each answer so
    a failure part-way keeps what was learnt; (subscriptions, coupons) fetched. Raises the
    gateway's error when Stripe fails, so the job is retried."""
    subs = subscriptions_to_fetch(session)
    for sub_id in subs:
        fetch_subscription_discounts(session, gateway, sub_id, now)
        commit()
    coupons = coupons_to_fetch(session)
    for coupon_id in coupons:
        fetch_coupon(session, gateway, coupon_id, now)
        commit()
    return len(subs), len(coupons)


# -- pricing ------------------------------------------------------------------------------------


def discount_terms(session: Session) -> dict[str, dict[str, Any]]:
    """{discount id: what it takes off, start, end} as plain data for the metrics.

    A discount removed early ends when it was removed; one whose coupon is not known yet is
    `priced: False` (MRR counts it at full price and reports it apart).
    """
    coupons = {c.stripe_coupon_id: c for c in session.scalars(select(StripeCoupon))}
    known: dict[str, dict[str, Any]] = {}
    for d in session.scalars(select(StripeDiscount)):
        end = _earliest(d.end, d.deleted_at)
        terms: dict[str, Any] = {
            "id": d.stripe_discount_id,
            "start": int(d.start.timestamp()) if d.start else None,
            "end": int(end.timestamp()) if end else None,
        }
        coupon = coupons.get(d.stripe_coupon_id or "")
        if coupon is not None and coupon.priced:
            terms.update(
                percent_off=coupon.percent_off,
                amount_off_cents=coupon.amount_off_cents,
                currency=coupon.currency,
                currency_options=dict(coupon.currency_options or {}),
                once=coupon.duration == "once",
            )
        elif d.percent_off is not None or d.amount_off_cents is not None:
            terms.update(percent_off=d.percent_off, amount_off_cents=d.amount_off_cents, currency=d.currency)
        else:
            terms["priced"] = False
        known[d.stripe_discount_id] = terms
    return known
