"""Stripe webhooks: verify, store each event once, then apply it without calling Stripe back.

Events arrive twice and in any order. The event id is unique; each subscription event becomes a
snapshot at the event's `created`, and the mirror is recomputed from all snapshots with the same
ordering rule the metrics use (newest wins, terminal wins ties, canceled is final).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import stripe
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import metrics
from billing.models import (
    ACCESS_STATUSES,
    SUBSCRIPTION_STATUSES,
    Invoice,
    StripeCustomer,
    StripeDiscount,
    StripeEvent,
    Subscription,
    SubscriptionSnapshot,
    Tier,
)
from billing.service import tier_for_price
from growth import emails, jobs, links
from growth.db import db, utcnow
from growth.errors import DomainError, InvalidRequest
from growth.models import Stage, Status, Subscriber
from growth.subscribers import find_by_email, set_stage

log = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300
SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "customer.subscription.trial_will_end",
    }
)


def verify(raw_body: bytes, signature: str | None, secret: str | None) -> dict[str, Any]:
    """The event, once its Stripe-Signature holds; InvalidRequest (400) otherwise."""
    if not secret:
        log.warning("Stripe webhook refused: STRIPE_WEBHOOK_SECRET is not configured")
        raise InvalidRequest(
            "Webhooks are not configured on this installation.", code="webhooks_not_configured"
        )
    if not signature:
        raise InvalidRequest("Missing Stripe-Signature header.", code="invalid_signature")
    try:
        stripe.Webhook.construct_event(raw_body, signature, secret, tolerance=TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        raise InvalidRequest(
            "The Stripe signature does not match or is too old.", code="invalid_signature"
        ) from exc
    except ValueError as exc:
        raise InvalidRequest("The body is not a Stripe event.", code="malformed_event") from exc
    # The verified raw body, as plain JSON: what we store and apply.
    payload = json.loads(raw_body)
    if not isinstance(payload, dict) or not all(
        k in payload for k in ("id", "type", "created", "data")
    ):
        raise InvalidRequest("The body is not a Stripe event.", code="malformed_event")
    if not isinstance(payload["data"], dict) or not isinstance(payload["data"].get("object"), dict):
        raise InvalidRequest("The event has no data.object.", code="malformed_event")
    return payload


def _ts(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def record_event(
    session: Session, payload: dict[str, Any], now: dt.datetime
) -> tuple[StripeEvent, bool]:
    """Store the event once by id; (row, False) for a redelivery."""
    created = _ts(payload["created"])
    if created is None:
        raise InvalidRequest("The event has no valid `created`.", code="malformed_event")
    existing = session.scalars(
        select(StripeEvent).where(StripeEvent.event_id == payload["id"])
    ).first()
    if existing is not None:
        return existing, False
    row = StripeEvent(
        event_id=str(payload["id"]),
        type=str(payload["type"]),
        created=created,
        livemode=bool(payload.get("livemode")),
        payload=payload,
        received_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same event, delivered twice at once
        existing = session.scalars(
            select(StripeEvent).where(StripeEvent.event_id == payload["id"])
        ).one()
        return existing, False
    return row, True


@jobs.task("billing.process_event")
def process_event_task(event_row_id: int) -> None:
    """Apply one stored event in its own unit of work."""
    from growth.db import commit

    process_event(db.session, event_row_id, utcnow())
    commit()


def process_event(session: Session, event_row_id: int, now: dt.datetime) -> str | None:
    """Apply a stored event once; returns its outcome (applied, ignored, unmatched)."""
    row = session.scalars(
        select(StripeEvent).where(StripeEvent.id == event_row_id).with_for_update()
    ).first()
    if row is None or row.processed_at is not None:
        return row.outcome if row else None
    handler = HANDLERS.get(row.type)
    if handler is None:
        row.outcome, row.note = "ignored", "event type not handled"
    else:
        obj = row.payload["data"]["object"]
        try:
            with session.begin_nested():
                subscriber = handler(session, row, obj)
        except (InvalidRequest, KeyError, TypeError, ValueError) as exc:
            # A signed event we cannot read: keep it for review rather than retry for ever.
            log.warning(
                "stripe event %s (%s) could not be applied: %s", row.event_id, row.type, exc
            )
            row.outcome, row.note = "invalid", str(exc)[:500]
        else:
            row.subscriber_id = subscriber.id if subscriber else None
            row.outcome = "applied" if subscriber else "unmatched"
            if subscriber is None:
                log.warning(
                    "stripe event %s (%s) matches no subscriber: kept for review",
                    row.event_id,
                    row.type,
                )
    row.processed_at = now
    session.flush()
    return row.outcome


def unprocessed_event_ids(session: Session) -> list[int]:
    """Stored events not yet applied, oldest first."""
    return list(
        session.scalars(
            select(StripeEvent.id)
            .where(StripeEvent.processed_at.is_(None))
            .order_by(StripeEvent.created, StripeEvent.id)
        )
    )


# -- linking customers to subscribers -------------------------------------------------------------


def _subscriber_by_id(session: Session, raw: Any) -> Subscriber | None:
    try:
        subscriber_id = int(str(raw))
    except (TypeError, ValueError):
        return None
    subscriber = session.get(Subscriber, subscriber_id)
    return None if subscriber is None or subscriber.status == Status.ERASED else subscriber


def _subscriber_by_email(session: Session, email: Any) -> Subscriber | None:
    if not isinstance(email, str) or not email:
        return None
    try:
        subscriber = find_by_email(session, email)
    except DomainError:  # a malformed address names nobody
        return None
    return None if subscriber is None or subscriber.status == Status.ERASED else subscriber


def link_customer(
    session: Session, customer_id: str, subscriber: Subscriber | None, email: str | None = None
) -> StripeCustomer:
    """The customer row, created once; a known subscriber is attached to it and its rows."""
    customer = session.scalars(
        select(StripeCustomer).where(StripeCustomer.stripe_customer_id == customer_id)
    ).first()
    if customer is None:
        customer = StripeCustomer(stripe_customer_id=customer_id, email=email)
        try:
            with session.begin_nested():
                session.add(customer)
        except IntegrityError:
            customer = session.scalars(
                select(StripeCustomer).where(StripeCustomer.stripe_customer_id == customer_id)
            ).one()
    if email and not customer.email:
        customer.email = email
    if subscriber is not None and customer.subscriber_id != subscriber.id:
        customer.subscriber_id = subscriber.id
        for sub in session.scalars(
            select(Subscription).where(Subscription.stripe_customer_id == customer_id)
        ):
            sub.subscriber_id = subscriber.id
        for invoice in session.scalars(
            select(Invoice).where(Invoice.stripe_customer_id == customer_id)
        ):
            invoice.subscriber_id = subscriber.id
    session.flush()
    return customer


def _customer_subscriber(session: Session, customer_id: str | None) -> Subscriber | None:
    if not customer_id:
        return None
    subscriber_id = session.scalar(
        select(StripeCustomer.subscriber_id).where(StripeCustomer.stripe_customer_id == customer_id)
    )
    return session.get(Subscriber, subscriber_id) if subscriber_id else None


def _id_of(value: Any) -> str | None:
    """An expandable field: the id string, or the id of the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


# -- subscriptions --------------------------------------------------------------------------------


def parse_discounts(raw: Any, currency: str) -> list[dict[str, Any]]:
    """Discount objects as plain data; bare ids (not expanded) are kept, marked unresolved."""
    result: list[dict[str, Any]] = []
    for item in raw or []:
        if not isinstance(item, dict):
            result.append({"id": str(item), "unresolved": True})
            continue
        source = item.get("source") or {}
        coupon = source.get("coupon") if isinstance(source, dict) else None
        coupon = coupon or item.get("coupon")
        if not isinstance(coupon, dict):
            result.append({"id": item.get("id"), "unresolved": True})
            continue
        amount_off = coupon.get("amount_off")
        if amount_off is not None and (coupon.get("currency") or currency) != currency:
            amount_off = None  # an amount off in another currency does not apply
        result.append(
            {
                "id": item.get("id"),
                "percent_off": coupon.get("percent_off"),
                "amount_off_cents": amount_off,
                "start": item.get("start"),
                "end": item.get("end"),
            }
        )
    return result


def parse_subscription(obj: dict[str, Any]) -> dict[str, Any]:
    """The fields we mirror, from a subscription object of the pinned API version."""
    items = ((obj.get("items") or {}).get("data")) or []
    item = items[0] if items else {}
    # Stripe bills every item of a subscription on the same interval: add-ons add to the amount.
    extra = sum(
        int((i.get("price") or {}).get("unit_amount") or 0) * int(i.get("quantity") or 1)
        for i in items[1:]
    )
    price = item.get("price") or {}
    recurring = price.get("recurring") or {}
    currency = str(price.get("currency") or obj.get("currency") or "usd").lower()
    status = str(obj.get("status"))
    if status not in SUBSCRIPTION_STATUSES:
        raise InvalidRequest(f"unknown subscription status {status!r}", code="malformed_event")
    metadata = obj.get("metadata") or {}
    return {
        "stripe_subscription_id": str(obj["id"]),
        "stripe_customer_id": _id_of(obj.get("customer")) or "",
        "status": status,
        "stripe_price_id": price.get("id"),
        "unit_amount_cents": int(price.get("unit_amount") or 0),
        "currency": currency,
        "interval": str(recurring.get("interval") or "month"),
        "interval_count": int(recurring.get("interval_count") or 1),
        "quantity": int(item.get("quantity") or 1),
        "extra_items_cents": extra,
        "discounts": parse_discounts(obj.get("discounts"), currency),
        "cancel_at_period_end": bool(obj.get("cancel_at_period_end"))
        or obj.get("cancel_at") is not None,
        "collection_paused": obj.get("pause_collection") is not None,
        # Since API 2025-03-31 the period lives on the subscription items.
        "current_period_end": _ts(item.get("current_period_end")),
        "trial_end": _ts(obj.get("trial_end")),
        "canceled_at": _ts(obj.get("canceled_at")),
        "subscriber_id_hint": _int_or_none(metadata.get("subscriber_id")),
    }


def _int_or_none(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def snapshot_state(
    snap: SubscriptionSnapshot,
    customer_key: str,
    known_discounts: dict[str, dict[str, Any]] | None = None,
) -> metrics.SubscriptionState:
    """A stored snapshot as the metrics' plain dataclass; bare discount ids resolved when known."""
    discounts = []
    for raw in snap.discounts or []:
        if raw.get("unresolved"):
            raw = (known_discounts or {}).get(str(raw.get("id")), raw)
        if not raw.get("unresolved"):
            discounts.append(to_discount(raw, snap.currency))
    return metrics.SubscriptionState(
        subscription_id=snap.stripe_subscription_id,
        customer=customer_key,
        at=snap.at,
        status=snap.status,
        currency=snap.currency,
        unit_amount_cents=snap.unit_amount_cents,
        quantity=snap.quantity,
        extra_items_cents=snap.extra_items_cents,
        interval=snap.interval,
        interval_count=snap.interval_count,
        discounts=tuple(discounts),
        cancel_at_period_end=snap.cancel_at_period_end,
        collection_paused=snap.collection_paused,
        event_type=snap.event_type,
        seq=snap.id,
    )


def to_discount(raw: dict[str, Any], currency: str) -> metrics.Discount:
    """A stored discount as the metrics' dataclass; an amount off in another currency is dropped."""
    percent = raw.get("percent_off")
    amount = raw.get("amount_off_cents")
    if amount is not None and raw.get("currency") and raw["currency"] != currency:
        amount = None
    return metrics.Discount(
        percent_off=Fraction(str(percent)) if percent is not None else None,
        amount_off_cents=int(amount) if amount is not None else None,
        start=_ts(raw.get("start")),
        end=_ts(raw.get("end")),
    )


_MIRRORED = (
    "status",
    "stripe_price_id",
    "unit_amount_cents",
    "currency",
    "interval",
    "interval_count",
    "quantity",
    "extra_items_cents",
    "discounts",
    "cancel_at_period_end",
    "collection_paused",
    "current_period_end",
    "trial_end",
    "canceled_at",
)


def _mirror_row(session: Session, fields: dict[str, Any], at: dt.datetime) -> Subscription:
    """The subscription's mirror row, created once and locked for this unit of work."""
    sub_id = fields["stripe_subscription_id"]
    query = (
        select(Subscription).where(Subscription.stripe_subscription_id == sub_id).with_for_update()
    )
    sub = session.scalars(query).first()
    if sub is None:
        try:
            with session.begin_nested():
                sub = Subscription(
                    stripe_subscription_id=sub_id,
                    stripe_customer_id=fields["stripe_customer_id"],
                    state_at=at,
                    **{k: fields[k] for k in _MIRRORED},
                )
                session.add(sub)
        except IntegrityError:
            sub = session.scalars(query).one()
    return sub


def apply_subscription(
    session: Session, row: StripeEvent, obj: dict[str, Any]
) -> Subscriber | None:
    """Record the event's subscription state and recompute the mirror from every state seen."""
    fields = parse_subscription(obj)
    sub = _mirror_row(session, fields, row.created)
    hint = fields.pop("subscriber_id_hint")
    session.add(
        SubscriptionSnapshot(
            event_id=row.event_id,
            event_type=row.type,
            at=row.created,
            subscriber_id_hint=hint,
            **fields,
        )
    )
    session.flush()
    subscriber = _subscriber_by_id(session, hint) or _customer_subscriber(
        session, fields["stripe_customer_id"]
    )
    if fields["stripe_customer_id"]:
        link_customer(session, fields["stripe_customer_id"], subscriber)
    snapshots = list(
        session.scalars(
            select(SubscriptionSnapshot).where(
                SubscriptionSnapshot.stripe_subscription_id == sub.stripe_subscription_id
            )
        )
    )
    by_seq = {s.id: s for s in snapshots}
    newest = metrics.latest_states(snapshot_state(s, "") for s in snapshots)[
        sub.stripe_subscription_id
    ]
    winner = by_seq[newest.seq]
    for attr in _MIRRORED:
        setattr(sub, attr, getattr(winner, attr))
    sub.state_at = winner.at
    sub.updated_at = utcnow()
    # The price names the tier; the metadata Checkout set covers prices synced after the event.
    sub.tier_id = tier_for_price(session, winner.stripe_price_id) or _tier_from_metadata(
        session, obj
    )
    if subscriber is not None:
        sub.subscriber_id = subscriber.id
    session.flush()
    if sub.subscriber_id is not None:
        refresh_stage(session, session.get(Subscriber, sub.subscriber_id), row.created)
    if (
        row.type == "customer.subscription.trial_will_end"
        and subscriber is not None
        and winner.status == "trialing"
    ):
        emails.queue_email(
            session,
            subscriber,
            "trial_ending",
            list_mail=False,
            trial_end=winner.trial_end,
            billing_url=billing_url(subscriber),
        )
    return (
        subscriber
        if subscriber is not None
        else (session.get(Subscriber, sub.subscriber_id) if sub.subscriber_id else None)
    )


def _tier_from_metadata(session: Session, obj: dict[str, Any]) -> int | None:
    tier_id = _int_or_none((obj.get("metadata") or {}).get("tier_id"))
    return tier_id if tier_id is not None and session.get(Tier, tier_id) is not None else None


def refresh_stage(session: Session, subscriber: Subscriber | None, at: dt.datetime) -> None:
    """`paying` while a subscription grants a tier; `churned` once none does after one did."""
    if subscriber is None or subscriber.status == Status.ERASED:
        return
    subs = list(
        session.scalars(select(Subscription).where(Subscription.subscriber_id == subscriber.id))
    )
    if any(s.status in ACCESS_STATUSES for s in subs):
        set_stage(session, subscriber, Stage.PAYING, at, reason="stripe_subscription")
        return
    ids = [s.stripe_subscription_id for s in subs]
    ever_paid = (
        bool(ids)
        and session.scalar(
            select(SubscriptionSnapshot.id)
            .where(
                SubscriptionSnapshot.stripe_subscription_id.in_(ids),
                SubscriptionSnapshot.status.in_(ACCESS_STATUSES),
            )
            .limit(1)
        )
        is not None
    )
    if ever_paid or subscriber.stage == Stage.PAYING:
        set_stage(session, subscriber, Stage.CHURNED, at, reason="stripe_subscription_ended")


def billing_url(subscriber: Subscriber) -> str:
    """The subscriber's billing page, from which the Stripe portal opens."""
    return links.absolute(f"/me/{links.manage_token(subscriber)}/billing")


# -- checkout and invoices ------------------------------------------------------------------------


def apply_checkout_completed(
    session: Session, row: StripeEvent, obj: dict[str, Any]
) -> Subscriber | None:
    """Link the customer to the subscriber: metadata, then client_reference_id, then email."""
    metadata = obj.get("metadata") or {}
    email = (obj.get("customer_details") or {}).get("email") or obj.get("customer_email")
    subscriber = (
        _subscriber_by_id(session, metadata.get("subscriber_id"))
        or _subscriber_by_id(session, obj.get("client_reference_id"))
        or _subscriber_by_email(session, email)
    )
    customer_id = _id_of(obj.get("customer"))
    if customer_id:
        link_customer(session, customer_id, subscriber, email)
        if subscriber is not None:
            refresh_stage(session, subscriber, row.created)
    return subscriber


def _invoice_subscriber(session: Session, obj: dict[str, Any]) -> Subscriber | None:
    details = ((obj.get("parent") or {}).get("subscription_details")) or {}
    customer_id = _id_of(obj.get("customer"))
    subscriber = (
        _subscriber_by_id(session, (details.get("metadata") or {}).get("subscriber_id"))
        or _customer_subscriber(session, customer_id)
        or _subscriber_by_email(session, obj.get("customer_email"))
    )
    if customer_id:
        link_customer(session, customer_id, subscriber, obj.get("customer_email"))
    return subscriber


def _invoice_subscription_id(obj: dict[str, Any]) -> str | None:
    """Since API 2025-03-31 an invoice's subscription is under parent.subscription_details."""
    details = ((obj.get("parent") or {}).get("subscription_details")) or {}
    return _id_of(details.get("subscription"))


def apply_invoice_paid(
    session: Session, row: StripeEvent, obj: dict[str, Any]
) -> Subscriber | None:
    """Add the paid invoice to the revenue ledger, once."""
    subscriber = _invoice_subscriber(session, obj)
    invoice_id = str(obj["id"])
    if (
        session.scalar(select(Invoice.id).where(Invoice.stripe_invoice_id == invoice_id))
        is not None
    ):
        return subscriber
    lines = ((obj.get("lines") or {}).get("data")) or []
    period = (lines[0].get("period") or {}) if lines else {}
    tax = sum(int(t.get("amount") or 0) for t in obj.get("total_taxes") or [])
    paid_at = _ts((obj.get("status_transitions") or {}).get("paid_at")) or row.created
    invoice = Invoice(
        stripe_invoice_id=invoice_id,
        stripe_customer_id=_id_of(obj.get("customer")) or "",
        stripe_subscription_id=_invoice_subscription_id(obj),
        subscriber_id=subscriber.id if subscriber else None,
        currency=str(obj.get("currency") or "usd").lower(),
        amount_paid_cents=int(obj.get("amount_paid") or 0),
        tax_cents=tax,
        period_start=_ts(period.get("start")) or _ts(obj.get("period_start")),
        period_end=_ts(period.get("end")) or _ts(obj.get("period_end")),
        paid_at=paid_at,
    )
    try:
        with session.begin_nested():
            session.add(invoice)
    except IntegrityError:
        pass  # another worker recorded the same invoice
    return subscriber


def apply_payment_failed(
    session: Session, row: StripeEvent, obj: dict[str, Any]
) -> Subscriber | None:
    """Tell the subscriber their payment failed, with the way to fix it (the billing portal)."""
    subscriber = _invoice_subscriber(session, obj)
    if subscriber is not None:
        emails.queue_email(
            session,
            subscriber,
            "dunning",
            list_mail=False,
            amount_due_cents=int(obj.get("amount_due") or 0),
            currency=str(obj.get("currency") or "usd").upper(),
            next_attempt=_ts(obj.get("next_payment_attempt")),
            billing_url=billing_url(subscriber),
        )
    return subscriber


DISCOUNT_EVENTS = frozenset(
    {"customer.discount.created", "customer.discount.updated", "customer.discount.deleted"}
)


def apply_discount(session: Session, row: StripeEvent, obj: dict[str, Any]) -> Subscriber | None:
    """Keep what a discount is worth: subscription events name discounts only by id."""
    discount_id = str(obj["id"])
    found = session.scalars(
        select(StripeDiscount).where(StripeDiscount.stripe_discount_id == discount_id)
    ).first()
    customer_id = _id_of(obj.get("customer"))
    subscriber = _customer_subscriber(session, customer_id)
    if found is not None and found.state_at > row.created:
        return subscriber  # an older description arriving late
    parsed = parse_discounts([obj], "")[0]
    coupon = ((obj.get("source") or {}).get("coupon")) or obj.get("coupon") or {}
    values = {
        "stripe_customer_id": customer_id,
        "stripe_subscription_id": _id_of(obj.get("subscription")),
        "percent_off": str(parsed["percent_off"])
        if parsed.get("percent_off") is not None
        else None,
        "amount_off_cents": coupon.get("amount_off") if isinstance(coupon, dict) else None,
        "currency": (coupon.get("currency") or None) if isinstance(coupon, dict) else None,
        "start": _ts(obj.get("start")),
        "end": _ts(obj.get("end")),
        "state_at": row.created,
    }
    if row.type == "customer.discount.deleted":
        values["deleted_at"] = row.created
    if found is None:
        found = StripeDiscount(stripe_discount_id=discount_id, **values)
        try:
            with session.begin_nested():
                session.add(found)
        except IntegrityError:
            found = session.scalars(
                select(StripeDiscount).where(StripeDiscount.stripe_discount_id == discount_id)
            ).one()
    for key, value in values.items():
        setattr(found, key, value)
    session.flush()
    return subscriber


Handler = Callable[[Session, StripeEvent, dict[str, Any]], Subscriber | None]
HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": apply_checkout_completed,
    "invoice.paid": apply_invoice_paid,
    "invoice.payment_failed": apply_payment_failed,
    **{name: apply_subscription for name in SUBSCRIPTION_EVENTS},
    **{name: apply_discount for name in DISCOUNT_EVENTS},
}


def receive(
    session: Session, raw_body: bytes, signature: str | None, secret: str | None, now: dt.datetime
) -> bool:
    """Verify and store an event, then queue its processing; False for a redelivery."""
    payload = verify(raw_body, signature, secret)
    row, created = record_event(session, payload, now)
    if created or row.processed_at is None:
        jobs.enqueue("billing.process_event", row.id)
    return created
