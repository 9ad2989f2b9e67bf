"""The subscription mirror: every reported state kept as a snapshot, the newest one mirrored.

Events arrive twice and in any order. Each subscription event becomes a snapshot at the event's
`created`, and the mirror is recomputed from all snapshots with the ordering rule the metrics
use (newest wins, terminal wins ties, canceled is final). Discounts named only by id are
priced from the catalogue (billing.catalogue).
"""

from __future__ import annotations

import datetime as dt
import logging
from fractions import Fraction
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import metrics
from billing.catalogue import describe_discount, note_discount_ids
from billing.customers import (
    billing_url,
    customer_subscriber,
    id_of,
    int_or_none,
    link_customer,
    subscriber_by_email,
    subscriber_by_id,
    timestamp,
)
from billing.gifts import apply_gift_paid, is_gift_session
from billing.models import (
    ACCESS_STATUSES,
    SUBSCRIPTION_STATUSES,
    StripeEvent,
    Subscription,
    SubscriptionSnapshot,
    Tier,
)
from billing.offers import record_redemption
from billing.retention import note_subscription_event
from billing.service import POST_METADATA, SIGNUP_METADATA, tier_for_price
from growth import emails, rollups, signals
from growth.db import utcnow
from growth.errors import InvalidRequest
from growth.models import Stage, Status, Subscriber, SubscriberEvent
from growth.params import as_id
from growth.subscribers import join_by_payment, set_stage

log = logging.getLogger(__name__)


def parse_discounts(raw: Any) -> list[dict[str, Any]]:
    """A subscription's discounts by id, to be priced from the catalogue (events send ids)."""
    result: list[dict[str, Any]] = []
    for item in raw or []:
        discount_id = item.get("id") if isinstance(item, dict) else item
        if discount_id:
            result.append({"id": str(discount_id), "unresolved": True})
    return result


def parse_subscription(obj: dict[str, Any]) -> dict[str, Any]:
    """The fields we mirror, from a subscription object of the pinned API version."""
    items = ((obj.get("items") or {}).get("data")) or []
    item = items[0] if items else {}
    # Stripe bills every item of a subscription on the same interval: add-ons add to the amount.
    extra = sum(
        int((i.get("price") or {}).get("unit_amount") or 0) * int(i.get("quantity") or 1) for i in items[1:]
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
        "stripe_customer_id": id_of(obj.get("customer")) or "",
        "status": status,
        "stripe_price_id": price.get("id"),
        "unit_amount_cents": int(price.get("unit_amount") or 0),
        "currency": currency,
        "interval": str(recurring.get("interval") or "month"),
        "interval_count": int(recurring.get("interval_count") or 1),
        "quantity": int(item.get("quantity") or 1),
        "extra_items_cents": extra,
        "discounts": parse_discounts(obj.get("discounts")),
        "cancel_at_period_end": bool(obj.get("cancel_at_period_end")) or obj.get("cancel_at") is not None,
        "collection_paused": obj.get("pause_collection") is not None,
        # Since API 2025-03-31 the period lives on the subscription items.
        "current_period_end": timestamp(item.get("current_period_end")),
        "trial_end": timestamp(obj.get("trial_end")),
        "canceled_at": timestamp(obj.get("canceled_at")),
        "subscriber_id_hint": int_or_none(metadata.get("subscriber_id")),
        "checkout_post_id": as_id(metadata.get(POST_METADATA)),
    }


def snapshot_state(
    snap: SubscriptionSnapshot,
    customer_key: str,
    known_discounts: dict[str, dict[str, Any]] | None = None,
) -> metrics.SubscriptionState:
    """A stored snapshot as the metrics' plain dataclass; discounts named by id priced when known.

    A discount still unknown is kept unpriced: MRR counts it at full price and says so.
    """
    discounts = []
    for raw in snap.discounts or []:
        if raw.get("unresolved"):
            raw = (known_discounts or {}).get(str(raw.get("id")), {"id": raw.get("id"), "priced": False})
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
    """Stored terms as the metrics' dataclass, the amount off in the subscription's currency
    when the coupon defines one for it (`currency_options`)."""
    percent = raw.get("percent_off")
    amount = raw.get("amount_off_cents")
    amount_currency = raw.get("currency") or None
    options = raw.get("currency_options") or {}
    if amount_currency not in (None, currency) and currency in options:
        amount, amount_currency = options[currency], currency
    return metrics.Discount(
        percent_off=Fraction(str(percent)) if percent is not None else None,
        amount_off_cents=int(amount) if amount is not None else None,
        currency=amount_currency,
        start=timestamp(raw.get("start")),
        end=timestamp(raw.get("end")),
        priced=raw.get("priced", True) is not False,
        once=bool(raw.get("once")),
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
    query = select(Subscription).where(Subscription.stripe_subscription_id == sub_id).with_for_update()
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


class EventStamp(Protocol):
    """What a snapshot keeps of the event that reported it (a webhook's, or an import's reading)."""

    @property
    def event_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def created(self) -> dt.datetime: ...
    @property
    def payload(self) -> dict[str, Any]: ...  # the event as received ({} for a reading)


def apply_subscription(session: Session, row: EventStamp, obj: dict[str, Any]) -> Subscriber | None:
    """Record the event's subscription state and recompute the mirror from every state seen."""
    fields = parse_subscription(obj)
    sub = _mirror_row(session, fields, row.created)
    hint = fields.pop("subscriber_id_hint")
    note_checkout_post(sub, fields.pop("checkout_post_id"))
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
    note_discount_ids(
        session,
        sub.stripe_subscription_id,
        fields["stripe_customer_id"],
        [d["id"] for d in fields["discounts"]],
        row.created,
    )
    for item in obj.get("discounts") or []:
        if isinstance(item, dict) and item.get("id"):  # expanded (a retrieve, or an older API)
            describe_discount(session, item, row.created)
    subscriber = subscriber_by_id(session, hint) or customer_subscriber(session, fields["stripe_customer_id"])
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
    newest = metrics.latest_states(snapshot_state(s, "") for s in snapshots)[sub.stripe_subscription_id]
    winner = by_seq[newest.seq]
    was_cancelling = bool(sub.cancel_at_period_end)
    for attr in _MIRRORED:
        setattr(sub, attr, getattr(winner, attr))
    sub.state_at = winner.at
    sub.updated_at = utcnow()
    # The price names the tier; the metadata Checkout set covers prices synced after the event.
    # Both read the newest state, never this event's: an older event may arrive last.
    sub.tier_id = tier_for_price(session, winner.stripe_price_id) or _tier_from_metadata(
        session, obj if winner.event_id == row.event_id else _event_object(session, winner.event_id)
    )
    if subscriber is not None:
        sub.subscriber_id = subscriber.id
    session.flush()
    note_subscription_event(session, row, obj, sub)
    if sub.subscriber_id is not None:
        refresh_stage(session, session.get(Subscriber, sub.subscriber_id), row.created)
        if sub.cancel_at_period_end and not was_cancelling and sub.status in ACCESS_STATUSES:
            owner = session.get(Subscriber, sub.subscriber_id)
            signals.subscriber_cancel_scheduled.send(owner, session=session, now=row.created)
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


def note_checkout_post(sub: Subscription, post_id: int | None) -> None:
    """Keep the post that started the subscription's Checkout; the first one reported stays.

    Checkout copies the same metadata to the session and the subscription, so whichever event
    arrives first (in any order, any number of times) records it, and a later change is ignored.
    """
    if post_id is not None and sub.checkout_post_id is None:
        sub.checkout_post_id = post_id


def _event_object(session: Session, event_id: str) -> dict[str, Any]:
    """The object a stored event carried (empty when its payload is gone)."""
    payload = session.scalar(select(StripeEvent.payload).where(StripeEvent.event_id == event_id))
    return ((payload or {}).get("data") or {}).get("object") or {}


def _tier_from_metadata(session: Session, obj: dict[str, Any]) -> int | None:
    tier_id = int_or_none((obj.get("metadata") or {}).get("tier_id"))
    return tier_id if tier_id is not None and session.get(Tier, tier_id) is not None else None


def refresh_stage(session: Session, subscriber: Subscriber | None, at: dt.datetime) -> None:
    """`paying` while a subscription grants a tier; `churned` once none does after one did.

    The times are Stripe's, read from the states stored so far, not the arriving event's: an
    older event delivered late moves the start of `paying` back, and a subscription whose
    ending arrived before its start still passes through `paying` before `churned`.
    """
    if subscriber is None or subscriber.status == Status.ERASED:
        return
    subs = list(session.scalars(select(Subscription).where(Subscription.subscriber_id == subscriber.id)))
    granting = [s.stripe_subscription_id for s in subs if s.status in ACCESS_STATUSES]
    if granting:
        began = _first_access(session, granting) or at
        if set_stage(session, subscriber, Stage.PAYING, began, reason="stripe_subscription"):
            signals.subscriber_upgraded.send(subscriber, session=session, now=began)
        else:
            _restate_since(session, subscriber, Stage.PAYING, began)
        return
    ended = max((s.state_at for s in subs if s.state_at is not None), default=at)
    last = [s.stripe_subscription_id for s in subs if s.state_at == ended]
    first_paid = _first_access(session, last) if last else None
    if first_paid is None and subscriber.stage != Stage.PAYING:
        return
    if first_paid is not None:
        if subscriber.stage not in (Stage.PAYING, Stage.CHURNED):
            if set_stage(session, subscriber, Stage.PAYING, first_paid, reason="stripe_subscription"):
                signals.subscriber_upgraded.send(subscriber, session=session, now=first_paid)
        else:
            _restate_since(session, subscriber, Stage.PAYING, first_paid)
    if set_stage(session, subscriber, Stage.CHURNED, ended, reason="stripe_subscription_ended"):
        signals.subscriber_churned.send(subscriber, session=session, now=ended)


def _first_access(session: Session, subscription_ids: list[str]) -> dt.datetime | None:
    """When the first stored state of these subscriptions that grants a tier was Stripe's."""
    return session.scalar(
        select(func.min(SubscriptionSnapshot.at)).where(
            SubscriptionSnapshot.stripe_subscription_id.in_(subscription_ids),
            SubscriptionSnapshot.status.in_(ACCESS_STATUSES),
        )
    )


def _restate_since(session: Session, subscriber: Subscriber, stage: str, since: dt.datetime) -> None:
    """An older event showed the stage began earlier: its latest history row says so (and the
    subscriber, while still in it)."""
    row = session.scalars(
        select(SubscriberEvent)
        .where(
            SubscriberEvent.subscriber_id == subscriber.id,
            SubscriberEvent.field == "stage",
            SubscriberEvent.to_value == stage,
        )
        .order_by(SubscriberEvent.at.desc(), SubscriberEvent.id.desc())
        .limit(1)
    ).first()
    if row is None or since >= row.at:
        return
    row.at = since
    if subscriber.stage == stage:
        subscriber.stage_changed_at = since
    rollups.mark_dirty(session, [subscriber.id])


def apply_checkout_completed(session: Session, row: StripeEvent, obj: dict[str, Any]) -> Subscriber | None:
    """Link the customer to the subscriber: metadata, then client_reference_id, then email.

    A stranger's session (started from /pricing without a link) signs the payer up: the paid
    address becomes an active subscriber, consent recorded and welcome sent.
    """
    if is_gift_session(obj):
        return apply_gift_paid(session, str(obj["id"]), obj, row.created)
    metadata = obj.get("metadata") or {}
    email = (obj.get("customer_details") or {}).get("email") or obj.get("customer_email")
    subscriber = (
        subscriber_by_id(session, metadata.get("subscriber_id"))
        or subscriber_by_id(session, obj.get("client_reference_id"))
        or subscriber_by_email(session, email)
    )
    paid = obj.get("payment_status") in ("paid", "no_payment_required")
    joins = subscriber is None or subscriber.status == Status.PENDING
    if metadata.get(SIGNUP_METADATA) and paid and isinstance(email, str) and joins:
        subscriber = join_by_payment(session, email, row.created)
    customer_id = id_of(obj.get("customer"))
    if customer_id:
        link_customer(session, customer_id, subscriber, email)
        if subscriber is not None:
            refresh_stage(session, subscriber, row.created)
    subscription_id = id_of(obj.get("subscription"))
    if subscription_id:  # the subscription's own events carry the post too, if this one is late
        sub = session.scalars(
            select(Subscription).where(Subscription.stripe_subscription_id == subscription_id)
        ).first()
        if sub is not None:
            note_checkout_post(sub, as_id(metadata.get(POST_METADATA)))
    if metadata.get("offer_id") and obj.get("id"):
        record_redemption(
            session, metadata["offer_id"], str(obj["id"]), subscriber.id if subscriber else None, row.created
        )
    return subscriber
