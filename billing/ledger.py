"""The revenue ledger from paid invoices, and dunning when a payment fails."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.customers import (
    billing_url,
    customer_subscriber,
    id_of,
    link_customer,
    subscriber_by_email,
    subscriber_by_id,
    timestamp,
)
from billing.models import Invoice, StripeEvent
from growth import emails
from growth.models import Subscriber


def _invoice_subscriber(session: Session, obj: dict[str, Any]) -> Subscriber | None:
    details = ((obj.get("parent") or {}).get("subscription_details")) or {}
    customer_id = id_of(obj.get("customer"))
    subscriber = (
        subscriber_by_id(session, (details.get("metadata") or {}).get("subscriber_id"))
        or customer_subscriber(session, customer_id)
        or subscriber_by_email(session, obj.get("customer_email"))
    )
    if customer_id:
        link_customer(session, customer_id, subscriber, obj.get("customer_email"))
    return subscriber


def _invoice_subscription_id(obj: dict[str, Any]) -> str | None:
    """Since API 2025-03-31 an invoice's subscription is under parent.subscription_details."""
    details = ((obj.get("parent") or {}).get("subscription_details")) or {}
    return id_of(details.get("subscription"))


def apply_invoice_paid(session: Session, row: StripeEvent, obj: dict[str, Any]) -> Subscriber | None:
    """Add the paid invoice to the revenue ledger, once."""
    subscriber = _invoice_subscriber(session, obj)
    invoice_id = str(obj["id"])
    if session.scalar(select(Invoice.id).where(Invoice.stripe_invoice_id == invoice_id)) is not None:
        return subscriber
    lines = ((obj.get("lines") or {}).get("data")) or []
    period = (lines[0].get("period") or {}) if lines else {}
    tax = sum(int(t.get("amount") or 0) for t in obj.get("total_taxes") or [])
    paid_at = timestamp((obj.get("status_transitions") or {}).get("paid_at")) or row.created
    invoice = Invoice(
        stripe_invoice_id=invoice_id,
        stripe_customer_id=id_of(obj.get("customer")) or "",
        stripe_subscription_id=_invoice_subscription_id(obj),
        subscriber_id=subscriber.id if subscriber else None,
        currency=str(obj.get("currency") or "usd").lower(),
        amount_paid_cents=int(obj.get("amount_paid") or 0),
        tax_cents=tax,
        period_start=timestamp(period.get("start")) or timestamp(obj.get("period_start")),
        period_end=timestamp(period.get("end")) or timestamp(obj.get("period_end")),
        paid_at=paid_at,
    )
    try:
        with session.begin_nested():
            session.add(invoice)
    except IntegrityError:
        pass  # another worker recorded the same invoice
    return subscriber


def apply_payment_failed(session: Session, row: StripeEvent, obj: dict[str, Any]) -> Subscriber | None:
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
            next_attempt=timestamp(obj.get("next_payment_attempt")),
            billing_url=billing_url(subscriber),
        )
    return subscriber
