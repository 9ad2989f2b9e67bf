"""Loading the mirrored data into the metrics' plain dataclasses, and the revenue report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import catalogue, gifts, grants, metrics, sponsorships
from billing.mirror import snapshot_state
from billing.models import (
    Invoice,
    StripeCustomer,
    Subscription,
    SubscriptionSnapshot,
)


def _customer_keys(session: Session) -> dict[str, str]:
    """Stripe customer id -> the key a customer is counted under (the subscriber when known)."""
    keys: dict[str, str] = {}
    for customer_id, subscriber_id in session.execute(
        select(StripeCustomer.stripe_customer_id, StripeCustomer.subscriber_id)
    ):
        if subscriber_id is not None:
            keys[customer_id] = f"subscriber:{subscriber_id}"
    for customer_id, subscriber_id in session.execute(
        select(Subscription.stripe_customer_id, Subscription.subscriber_id).where(
            Subscription.subscriber_id.is_not(None)
        )
    ):
        keys.setdefault(customer_id, f"subscriber:{subscriber_id}")
    return keys


def load_history(session: Session) -> list[metrics.SubscriptionState]:
    """Every subscription state Stripe reported, as plain data."""
    keys = _customer_keys(session)
    known = catalogue.discount_terms(session)
    return [
        snapshot_state(s, keys.get(s.stripe_customer_id, f"customer:{s.stripe_customer_id}"), known)
        for s in session.scalars(select(SubscriptionSnapshot).order_by(SubscriptionSnapshot.id))
    ]


def load_ledger(session: Session) -> list[metrics.LedgerEntry]:
    """The paid-invoice ledger, as plain data."""
    keys = _customer_keys(session)
    return [
        metrics.LedgerEntry(
            invoice_id=i.stripe_invoice_id,
            customer=f"subscriber:{i.subscriber_id}"
            if i.subscriber_id
            else keys.get(i.stripe_customer_id, f"customer:{i.stripe_customer_id}"),
            currency=i.currency,
            amount_paid_cents=i.amount_paid_cents,
            tax_cents=i.tax_cents,
            paid_at=i.paid_at,
            period_start=i.period_start,
            period_end=i.period_end,
        )
        for i in session.scalars(select(Invoice).order_by(Invoice.id))
    ]


def revenue_report(session: Session, start: dt.datetime, end: dt.datetime) -> dict:
    """The revenue report over [start, end) from the mirrored subscriptions and the ledger.

    Comped readers are counted apart (`comps`), never in MRR or paying subscribers; gifts
    (one-time payments) are `gifts`, never MRR nor the ledger; paid sponsorships are
    `sponsorship_cents`, never MRR.
    """
    report = metrics.revenue_report(
        load_history(session), load_ledger(session), start, end, sponsorships.paid_sponsorships(session)
    )
    report["comps"] = {"count": grants.live_count(session, "comp", end)}
    report["gifts"] = gifts.gift_revenue(session, start, end)
    return report


def default_start(now: dt.datetime) -> dt.datetime:
    """The first day of the month eleven months before `now`: twelve months, this one included."""
    year, month = now.year, now.month - 11
    if month < 1:
        year, month = year - 1, month + 12
    return dt.datetime(year, month, 1, tzinfo=dt.UTC)


def ledger_entries(session: Session, start: dt.datetime, end: dt.datetime, limit: int) -> list[Invoice]:
    """Invoices paid in [start, end), oldest first."""
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.paid_at >= start, Invoice.paid_at < end)
            .order_by(Invoice.paid_at, Invoice.id)
            .limit(limit)
        )
    )


def iter_ledger(session: Session, start: dt.datetime, end: dt.datetime) -> Iterator[Invoice]:
    """Every invoice paid in [start, end), oldest first, read in chunks (for the CSV)."""
    query = (
        select(Invoice)
        .where(Invoice.paid_at >= start, Invoice.paid_at < end)
        .order_by(Invoice.paid_at, Invoice.id)
        .execution_options(yield_per=1000)
    )
    yield from session.scalars(query)


def invoice_json(invoice: Invoice) -> dict:
    """The API shape of a ledger line (cents as integers)."""

    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "invoice_id": invoice.stripe_invoice_id,
        "subscriber_id": invoice.subscriber_id,
        "customer_id": invoice.stripe_customer_id,
        "subscription_id": invoice.stripe_subscription_id,
        "currency": invoice.currency,
        "amount_paid_cents": invoice.amount_paid_cents,
        "tax_cents": invoice.tax_cents,
        "net_cents": invoice.amount_paid_cents - invoice.tax_cents,
        "period_start": iso(invoice.period_start),
        "period_end": iso(invoice.period_end),
        "paid_at": iso(invoice.paid_at),
    }
