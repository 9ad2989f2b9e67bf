"""The core's own event types (subscriber.*), emitted from the core's signals."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from growth import signals
from growth.models import Stage, Status, Subscriber
from growth.outgoing.outbox import emit
from growth.outgoing.payloads import subscriber_data, with_subscriber
from growth.outgoing.registry import TEST_EVENT, register_event_type

SUPPRESSED = {Status.BOUNCED: "bounced", Status.COMPLAINED: "complained"}
STAGES = {"enum": [str(s) for s in Stage]}


def register() -> None:
    """Register the subscriber event types and connect their signals."""
    register_event_type(
        "subscriber.created", "A new address signed up (pending until confirmed).", with_subscriber()
    )
    register_event_type("subscriber.confirmed", "A subscriber confirmed (double opt-in).", with_subscriber())
    register_event_type(
        "subscriber.unsubscribed",
        "A subscriber left every list.",
        with_subscriber({"reason": {"type": ["string", "null"]}}, ("reason",)),
    )
    register_event_type(
        "subscriber.suppressed",
        "Mail to a subscriber stopped because it bounced or they complained (reported spam).",
        with_subscriber({"reason": {"enum": list(SUPPRESSED.values())}}, ("reason",)),
    )
    register_event_type(
        "subscriber.stage_changed",
        "A subscriber moved to another funnel stage.",
        with_subscriber({"from": {"anyOf": [STAGES, {"type": "null"}]}, "to": STAGES}, ("from", "to")),
    )
    register_event_type(
        TEST_EVENT,
        "A test event, sent from the admin to one endpoint.",
        {
            "type": "object",
            "required": ["endpoint_id", "message"],
            "additionalProperties": False,
            "properties": {"endpoint_id": {"type": "integer"}, "message": {"type": "string"}},
        },
    )
    signals.subscriber_signed_up.connect(on_signed_up, weak=False)
    signals.subscriber_confirmed.connect(on_confirmed, weak=False)
    signals.subscriber_changed.connect(on_changed, weak=False)


def subscriber_created(session: Session, subscriber: Subscriber, now: dt.datetime) -> None:
    """Emit subscriber.created (signups through the signal, imports directly)."""
    emit(session, "subscriber.created", {"subscriber": subscriber_data(subscriber)}, now)


def on_signed_up(subscriber: Subscriber, *, session: Session, now: dt.datetime, **_: Any) -> None:
    subscriber_created(session, subscriber, now)


def on_confirmed(subscriber: Subscriber, *, session: Session, now: dt.datetime, **_: Any) -> None:
    emit(session, "subscriber.confirmed", {"subscriber": subscriber_data(subscriber)}, now)


def on_changed(
    subscriber: Subscriber,
    *,
    session: Session,
    field: str,
    old: str | None,
    new: str,
    now: dt.datetime,
    reason: str | None = None,
    **_: Any,
) -> None:
    if field == "status" and new == Status.ERASED:
        forget_subscriber(session, subscriber)
        return
    data: dict[str, Any] = {"subscriber": subscriber_data(subscriber)}
    if field == "stage":
        emit(session, "subscriber.stage_changed", {**data, "from": old, "to": new}, now)
    elif new == Status.UNSUBSCRIBED:
        emit(session, "subscriber.unsubscribed", {**data, "reason": reason}, now)
    elif new in SUPPRESSED:
        emit(session, "subscriber.suppressed", {**data, "reason": SUPPRESSED[Status(new)]}, now)


def forget_subscriber(session: Session, subscriber: Subscriber) -> int:
    """Erasure: drop every stored event that names the address (and its deliveries and log).

    Runs while the address is still on the row; events are found by the address as the JSON
    column stores it, so an event naming the reader as referrer or as referred goes too.
    """
    import json

    from sqlalchemy import String, cast, delete

    from growth.outgoing.models import WebhookEvent

    needle = json.dumps(subscriber.email)  # quoted and escaped as the JSON column stores it
    result = session.execute(
        delete(WebhookEvent)
        .where(cast(WebhookEvent.payload, String).contains(needle, autoescape=True))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
