"""Refunds and disputes from Stripe events: money that leaves after it was paid.

`charge.succeeded` and `charge.refunded` carry the Charge (whose customer it is; since API
2025-03-31 it names no invoice); `charge.dispute.*` carry the Dispute (it names its charge by id
only). Each is stored once (unique Stripe ids; a refund by its charge and the cumulative
`amount_refunded`), and joined with its charge when the reports load them, so events in any
order or twice give the same rows. None of this touches MRR: refunds and disputes are cash.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.customers import customer_subscriber, id_of, link_customer, timestamp
from billing.models import Charge, Dispute, Refund, StripeEvent
from growth.errors import InvalidRequest
from growth.models import Subscriber

DISPUTE_EVENTS = frozenset(
    {
        "charge.dispute.created",
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
    }
)
# Inquiries (warning_*) and prevented disputes move no money; a chargeback withdraws it at once.
NO_MONEY_STATUSES = frozenset(
    {"warning_needs_response", "warning_under_review", "warning_closed", "prevented"}
)
FINAL_STATUSES = frozenset({"won", "lost"})  # a closed chargeback: no later status replaces it
MAX_STATUS_LENGTH = 32


def _cents(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequest(f"`{name}` is not an amount in cents", code="malformed_event")
    return value


def _currency(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 3:
        raise InvalidRequest("`currency` is not a currency code", code="malformed_event")
    return value.lower()


def _charge_subscriber(session: Session, charge: Charge) -> Subscriber | None:
    return session.get(Subscriber, charge.subscriber_id) if charge.subscriber_id else None


def record_charge(session: Session, obj: dict[str, Any]) -> Charge:
    """The charge row, once per Stripe charge; its subscriber found through its customer."""
    charge_id = str(obj["id"])
    customer_id = id_of(obj.get("customer"))
    existing = session.scalars(select(Charge).where(Charge.stripe_charge_id == charge_id)).first()
    subscriber = customer_subscriber(session, customer_id)
    if existing is not None:
        if existing.subscriber_id is None and subscriber is not None:
            existing.subscriber_id = subscriber.id
        return existing
    if customer_id:
        link_customer(session, customer_id, subscriber)
    created = timestamp(obj.get("created"))
    if created is None:
        raise InvalidRequest("the charge has no valid `created`", code="malformed_event")
    charge = Charge(
        stripe_charge_id=charge_id,
        stripe_customer_id=customer_id,
        stripe_payment_intent_id=id_of(obj.get("payment_intent")),
        subscriber_id=subscriber.id if subscriber else None,
        currency=_currency(obj.get("currency")),
        amount_cents=_cents(obj.get("amount"), "amount"),
        created=created,
    )
    try:
        with session.begin_nested():
            session.add(charge)
    except IntegrityError:  # the same charge, from another event at once
        return session.scalars(select(Charge).where(Charge.stripe_charge_id == charge_id)).one()
    return charge


def apply_charge_succeeded(session: Session, row: StripeEvent, obj: dict[str, Any]) -> Subscriber | None:
    """Remember whose charge it is, so a later dispute (which names only the charge) is tied."""
    return _charge_subscriber(session, record_charge(session, obj))


def apply_charge_refunded(session: Session, row: StripeEvent, obj: dict[str, Any]) -> Subscriber | None:
    """A refund step: the charge's cumulative `amount_refunded` at the event's time, once."""
    charge = record_charge(session, obj)
    refunded = _cents(obj.get("amount_refunded"), "amount_refunded")
    if refunded > 0:
        step = Refund(
            stripe_charge_id=charge.stripe_charge_id,
            amount_refunded_cents=refunded,
            currency=charge.currency,
            refunded_at=row.created,
            stripe_event_id=row.event_id,
        )
        exists = session.scalar(
            select(Refund.id).where(
                Refund.stripe_charge_id == step.stripe_charge_id,
                Refund.amount_refunded_cents == step.amount_refunded_cents,
            )
        )
        if exists is None:
            try:
                with session.begin_nested():
                    session.add(step)
            except IntegrityError:
                pass  # the same step from a redelivery processed at once
        else:
            earlier = session.get(Refund, exists)
            if earlier is not None and row.created < earlier.refunded_at:
                earlier.refunded_at = row.created  # the step happened at its first report
    return _charge_subscriber(session, charge)


def _money_moves(obj: dict[str, Any], status: str, created: dt.datetime, event_at: dt.datetime):  # type: ignore[no-untyped-def]
    """(withdrawn_at, reinstated_at) from the dispute's balance transactions, else its status."""
    withdrawn: dt.datetime | None = None
    reinstated: dt.datetime | None = None
    for bt in obj.get("balance_transactions") or []:
        if not isinstance(bt, dict):
            continue
        at, amount = timestamp(bt.get("created")), bt.get("amount")
        if at is None or isinstance(amount, bool) or not isinstance(amount, int):
            continue
        if amount < 0:
            withdrawn = at if withdrawn is None else min(withdrawn, at)
        elif amount > 0:
            reinstated = at if reinstated is None else min(reinstated, at)
    if withdrawn is None and status not in NO_MONEY_STATUSES:
        withdrawn = created
    if reinstated is None and status == "won" and withdrawn is not None:
        reinstated = event_at
    return withdrawn, reinstated


def _earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return b if a is None else a if b is None else min(a, b)


def apply_dispute(session: Session, row: StripeEvent, obj: dict[str, Any]) -> Subscriber | None:
    """Mirror a dispute by id: newest status wins (a final one is kept), money moves only earlier."""
    dispute_id = str(obj["id"])
    status = obj.get("status")
    if not isinstance(status, str) or not 0 < len(status) <= MAX_STATUS_LENGTH:
        raise InvalidRequest("the dispute has no valid `status`", code="malformed_event")
    created = timestamp(obj.get("created")) or row.created
    withdrawn, reinstated = _money_moves(obj, status, created, row.created)
    reason = obj.get("reason")
    dispute = session.scalars(select(Dispute).where(Dispute.stripe_dispute_id == dispute_id)).first()
    if dispute is None:
        dispute = Dispute(
            stripe_dispute_id=dispute_id,
            stripe_charge_id=id_of(obj.get("charge")),
            currency=_currency(obj.get("currency")),
            amount_cents=_cents(obj.get("amount"), "amount"),
            status=status,
            reason=str(reason)[:64] if reason else None,
            created=created,
            withdrawn_at=withdrawn,
            reinstated_at=reinstated,
            state_at=row.created,
        )
        try:
            with session.begin_nested():
                session.add(dispute)
        except IntegrityError:
            dispute = session.scalars(select(Dispute).where(Dispute.stripe_dispute_id == dispute_id)).one()
        else:
            return _dispute_subscriber(session, dispute)
    newer = row.created > dispute.state_at or (row.created == dispute.state_at and status in FINAL_STATUSES)
    if newer and dispute.status not in FINAL_STATUSES:
        dispute.status, dispute.state_at = status, row.created
        dispute.amount_cents = _cents(obj.get("amount"), "amount")
    dispute.withdrawn_at = _earliest(dispute.withdrawn_at, withdrawn)
    if dispute.status == "lost":
        dispute.reinstated_at = None  # lost keeps the money withdrawn, whatever came before
    else:
        dispute.reinstated_at = _earliest(dispute.reinstated_at, reinstated)
    return _dispute_subscriber(session, dispute)


def _dispute_subscriber(session: Session, dispute: Dispute) -> Subscriber | None:
    if dispute.stripe_charge_id is None:
        return None
    charge = session.scalars(
        select(Charge).where(Charge.stripe_charge_id == dispute.stripe_charge_id)
    ).first()
    return _charge_subscriber(session, charge) if charge else None
