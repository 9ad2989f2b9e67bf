"""What billing adds to the core's subscriber pages: paid invoices on the timeline, tier names."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.models import Invoice, Tier
from growth.models import Subscriber
from growth.timeline import Entry


def payments(session: Session, subscriber: Subscriber) -> list[Entry]:
    """Each paid invoice of the subscriber."""
    rows = session.scalars(
        select(Invoice)
        .where(Invoice.subscriber_id == subscriber.id)
        .order_by(Invoice.paid_at.desc())
        .limit(300)
    )
    return [
        Entry(
            i.paid_at,
            "payment",
            f"paid {i.amount_paid_cents / 100:.2f} {i.currency.upper()} (invoice {i.stripe_invoice_id})",
        )
        for i in rows
    ]


def tier_names(session: Session) -> dict[int, str]:
    """{tier_id: name} of every tier."""
    return {tier_id: name for tier_id, name in session.execute(select(Tier.id, Tier.name).order_by(Tier.id))}
