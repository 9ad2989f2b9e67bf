"""Stripe webhooks: verify, store each event once, then apply it without calling Stripe back.

Events arrive twice and in any order: the event id is unique, and each handler (billing.mirror,
billing.ledger, billing.customers, billing.catalogue, billing.refunds) applies its event so that
order does not matter. Coupons and discounts still unknown are fetched from Stripe by a background job.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import stripe
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import catalogue, privacy, retention, sponsorships
from billing.catalogue import COUPON_EVENTS, DISCOUNT_EVENTS, apply_coupon_event, apply_discount
from billing.customers import timestamp
from billing.ledger import apply_invoice_paid, apply_payment_failed
from billing.mirror import apply_checkout_completed, apply_subscription
from billing.models import (
    StripeEvent,
)
from billing.refunds import DISPUTE_EVENTS, apply_charge_refunded, apply_charge_succeeded, apply_dispute
from growth import jobs, rollups, telemetry
from growth.db import db, utcnow
from growth.errors import InvalidRequest
from growth.models import Subscriber
from growth.schemas import has_nul, load_json

log = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300
MAX_EVENT_ID_LENGTH: int = StripeEvent.__table__.c.event_id.type.length  # type: ignore[attr-defined]
MAX_EVENT_TYPE_LENGTH: int = StripeEvent.__table__.c.type.type.length  # type: ignore[attr-defined]
MAX_EVENT_DEPTH = 64  # Stripe objects nest a handful of levels (an invoice's lines, their periods)
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


def verify(
    raw_body: bytes, signature: str | None, secret: str | None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The event, once its Stripe-Signature holds; InvalidRequest (400) otherwise.

    Stripe's tolerance only refuses old signatures; one dated more than TOLERANCE_SECONDS
    ahead of our clock is refused too. The verified raw body must then be an event we can
    store as it is: an object with a string id and type that fit their columns, `created`,
    `data.object`, no NUL anywhere and no deeper nesting than a Stripe event has.
    """
    if not secret:
        log.warning("Stripe webhook refused: STRIPE_WEBHOOK_SECRET is not configured")
        raise InvalidRequest(
            "Webhooks are not configured on this installation.", code="webhooks_not_configured"
        )
    if not signature:
        raise InvalidRequest("Missing Stripe-Signature header.", code="invalid_signature")
    try:
        stripe.WebhookSignature.verify_header(raw_body, signature, secret, tolerance=TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        raise InvalidRequest(
            "The Stripe signature does not match or is too old.", code="invalid_signature"
        ) from exc
    except ValueError as exc:  # not UTF-8
        raise InvalidRequest("The body is not a Stripe event.", code="malformed_event") from exc
    now = now or dt.datetime.now(dt.UTC)
    if _signed_at(signature) > now.timestamp() + TOLERANCE_SECONDS:
        raise InvalidRequest("The Stripe signature is dated in the future.", code="invalid_signature")
    try:
        payload = load_json(raw_body, max_depth=MAX_EVENT_DEPTH)
    except InvalidRequest as exc:
        raise InvalidRequest("The body is not a Stripe event.", code="malformed_event") from exc
    if not _is_storable_event(payload):
        raise InvalidRequest("The body is not a Stripe event.", code="malformed_event")
    return payload  # type: ignore[no-any-return]


def _signed_at(signature: str) -> int:
    """The `t=` of a Stripe-Signature that verify_header has accepted (so it is an integer)."""
    for item in signature.split(","):
        key, _, value = item.partition("=")
        if key.strip() == "t":
            return int(value)
    return 0


def _is_storable_event(payload: Any) -> bool:
    if not isinstance(payload, dict) or not all(k in payload for k in ("id", "type", "created", "data")):
        return False
    event_id, kind, data = payload["id"], payload["type"], payload["data"]
    return (
        isinstance(event_id, str)
        and 0 < len(event_id) <= MAX_EVENT_ID_LENGTH
        and isinstance(kind, str)
        and 0 < len(kind) <= MAX_EVENT_TYPE_LENGTH
        and isinstance(data, dict)
        and isinstance(data.get("object"), dict)
        and not has_nul(payload)
    )


def record_event(session: Session, payload: dict[str, Any], now: dt.datetime) -> tuple[StripeEvent, bool]:
    """Store the event once by id; (row, False) for a redelivery."""
    created = timestamp(payload["created"])
    if created is None:
        raise InvalidRequest("The event has no valid `created`.", code="malformed_event")
    existing = session.scalars(select(StripeEvent).where(StripeEvent.event_id == payload["id"])).first()
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
        existing = session.scalars(select(StripeEvent).where(StripeEvent.event_id == payload["id"])).one()
        return existing, False
    return row, True


@jobs.task("billing.process_event")
def process_event_task(event_row_id: int) -> None:
    """Apply one stored event in its own unit of work."""
    from growth.db import commit

    process_event(db.session, event_row_id, utcnow())
    commit()


@jobs.task(catalogue.FETCH_TASK)
def fetch_catalogue_task() -> None:
    """Fetch from Stripe what the catalogue lacks; a Stripe failure raises, so RQ retries."""
    from billing.gateway import get_gateway, is_configured
    from growth.db import commit

    if not is_configured():
        return
    catalogue.fetch_unknown(db.session, get_gateway(), utcnow(), commit)


def process_event(session: Session, event_row_id: int, now: dt.datetime) -> str | None:
    """Apply a stored event once; returns its outcome (applied, ignored, unmatched)."""
    row = session.scalars(select(StripeEvent).where(StripeEvent.id == event_row_id).with_for_update()).first()
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
            log.warning("stripe event %s (%s) could not be applied: %s", row.event_id, row.type, exc)
            row.outcome, row.note = "invalid", str(exc)[:500]
        else:
            row.subscriber_id = subscriber.id if subscriber else None
            rollups.mark_dirty(session, [row.subscriber_id])  # the reports refresh them in the tick
            applied = subscriber or row.type in CATALOGUE_EVENTS or row.note == sponsorships.APPLIED_NOTE
            row.outcome = "applied" if applied else "unmatched"
            if row.outcome == "unmatched":
                log.warning(
                    "stripe event %s (%s) matches no subscriber: kept for review",
                    row.event_id,
                    row.type,
                )
    row.processed_at = now
    privacy.forget_late_event(session, row)
    session.flush()
    if row.outcome in ("applied", "unmatched") and catalogue.has_unknown(session):
        # Fetched by a worker, or by process-stripe-events: never during the webhook request.
        jobs.enqueue(catalogue.FETCH_TASK, background_only=True)
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


Handler = Callable[[Session, StripeEvent, dict[str, Any]], Subscriber | None]


def _unless_sponsorship(
    sponsorship: Callable[[Session, StripeEvent, dict[str, Any]], bool], handler: Handler
) -> Handler:
    """A sponsor's invoice or payment link is booked as sponsorship, never a subscriber's payment."""

    def apply(session: Session, row: StripeEvent, obj: dict[str, Any]) -> Subscriber | None:
        return None if sponsorship(session, row, obj) else handler(session, row, obj)

    return apply


def apply_discount_and_retention(
    session: Session, row: StripeEvent, obj: dict[str, Any]
) -> Subscriber | None:
    """A discount into the catalogue; one from a tier's retention coupon is an offer taken."""
    subscriber = apply_discount(session, row, obj)
    retention.note_discount_event(session, row, obj)
    return subscriber


_checkout_completed = _unless_sponsorship(sponsorships.completed_link_checkout, apply_checkout_completed)

HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": _checkout_completed,
    # a delayed payment method (a bank debit) pays later: the same session, now paid
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "invoice.paid": _unless_sponsorship(sponsorships.paid_invoice, apply_invoice_paid),
    "invoice.payment_failed": _unless_sponsorship(sponsorships.failed_invoice, apply_payment_failed),
    **{name: apply_subscription for name in SUBSCRIPTION_EVENTS},
    **{name: apply_discount_and_retention for name in DISCOUNT_EVENTS},
    **{name: apply_coupon_event for name in COUPON_EVENTS},
    # cash after the payment: refunds and disputes (never MRR), tied to the charge's customer
    "charge.succeeded": apply_charge_succeeded,
    "charge.refunded": apply_charge_refunded,
    **{name: apply_dispute for name in DISPUTE_EVENTS},
}
# Events that describe the catalogue, not a subscriber: applied without matching anyone.
CATALOGUE_EVENTS = COUPON_EVENTS


def receive(
    session: Session, raw_body: bytes, signature: str | None, secret: str | None, now: dt.datetime
) -> bool:
    """Verify and store an event, then queue its processing; False for a redelivery."""
    payload = verify(raw_body, signature, secret, now)
    row, created = record_event(session, payload, now)
    if created:
        telemetry.observe_webhook_lag("stripe", row.created, now)
    if created or row.processed_at is None:
        jobs.enqueue("billing.process_event", row.id)
    return created
