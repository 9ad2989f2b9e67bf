"""The billing domain's outgoing webhook events: subscription.started, canceled, churned."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.models import Subscription, Tier
from growth import signals
from growth.models import Subscriber
from growth.outgoing.outbox import emit
from growth.outgoing.payloads import NULLABLE_DATE_TIME, iso, subscriber_data, with_subscriber
from growth.outgoing.registry import register_event_type

SUBSCRIPTION_SCHEMA: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "the subscriber's newest Stripe subscription (null when none is mirrored)",
    "required": [
        "stripe_subscription_id",
        "status",
        "tier",
        "amount_cents",
        "currency",
        "interval",
        "cancel_at_period_end",
        "current_period_end",
    ],
    "additionalProperties": False,
    "properties": {
        "stripe_subscription_id": {"type": "string"},
        "status": {"type": "string"},
        "tier": {
            "type": ["object", "null"],
            "required": ["id", "name"],
            "additionalProperties": False,
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
        },
        "amount_cents": {"type": "integer"},
        "currency": {"type": "string"},
        "interval": {"type": "string"},
        "cancel_at_period_end": {"type": "boolean"},
        "current_period_end": NULLABLE_DATE_TIME,
    },
}
DATA = with_subscriber({"subscription": SUBSCRIPTION_SCHEMA}, ("subscription",))

EVENTS = {
    "subscription.started": ("A subscriber started paying (or paying again).", signals.subscriber_upgraded),
    "subscription.canceled": (
        "A paying subscriber scheduled the end of their subscription (cancel at period end).",
        signals.subscriber_cancel_scheduled,
    ),
    "subscription.churned": (
        "A subscriber stopped paying: no subscription grants a tier now.",
        signals.subscriber_churned,
    ),
}


def subscription_data(session: Session, subscriber: Subscriber) -> dict[str, Any] | None:
    """The subscriber's newest mirrored subscription, as the payload shows it."""
    sub = session.scalars(
        select(Subscription)
        .where(Subscription.subscriber_id == subscriber.id)
        .order_by(Subscription.state_at.desc(), Subscription.id.desc())
        .limit(1)
    ).first()
    if sub is None:
        return None
    tier = session.get(Tier, sub.tier_id) if sub.tier_id else None
    return {
        "stripe_subscription_id": sub.stripe_subscription_id,
        "status": sub.status,
        "tier": {"id": tier.id, "name": tier.name} if tier else None,
        "amount_cents": sub.unit_amount_cents * sub.quantity + sub.extra_items_cents,
        "currency": sub.currency,
        "interval": sub.interval,
        "cancel_at_period_end": bool(sub.cancel_at_period_end),
        "current_period_end": iso(sub.current_period_end),
    }


def _handler(name: str):  # type: ignore[no-untyped-def]
    def handle(subscriber: Subscriber, *, session: Session, now: dt.datetime, **_: Any) -> None:
        data = {
            "subscriber": subscriber_data(subscriber),
            "subscription": subscription_data(session, subscriber),
        }
        emit(session, name, data, now)

    handle.__name__ = f"emit_{name.replace('.', '_')}"
    return handle


_HANDLERS = {name: _handler(name) for name in EVENTS}


def register() -> None:
    """Register the subscription event types and emit them from the billing signals."""
    for name, (description, signal) in EVENTS.items():
        register_event_type(name, description, DATA)
        signal.connect(_HANDLERS[name], weak=False)
