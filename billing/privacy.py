"""The billing domain's part of a reader's data: Stripe customers, subscriptions, payments,
tiers given (comps, gifts).

Erasure keeps every subscription, snapshot and invoice (the revenue report sums them; they
carry Stripe ids and amounts, nothing that names the reader) and removes the address billing
stored: the customer rows' email and whatever the stored Stripe event payloads carry about
the person (email, name, phone, addresses), also in events that arrive after the erasure.
Stripe keeps its own customer record: delete it in the Stripe dashboard when asked to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from billing.customers import id_of
from billing.models import (
    Gift,
    Grant,
    Invoice,
    RetentionEvent,
    StripeCustomer,
    StripeEvent,
    Subscription,
    Tier,
)
from growth.models import Status, Subscriber

# Keys under which Stripe objects carry a person's details (customer, invoice, checkout session,
# payment method, charge): their values are dropped from stored payloads on erasure.
PERSONAL_KEYS = frozenset(
    {
        "email",
        "name",
        "phone",
        "address",
        "shipping",
        "receipt_email",
        "customer_email",
        "customer_name",
        "customer_phone",
        "customer_address",
        "customer_shipping",
        "customer_details",
        "customer_tax_ids",
        "billing_details",
        "shipping_details",
        "collected_information",
    }
)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_billing(session: Session, subscriber: Subscriber) -> dict[str, Any]:
    """Their Stripe customers, subscriptions and paid invoices."""
    customers = session.scalars(
        select(StripeCustomer)
        .where(StripeCustomer.subscriber_id == subscriber.id)
        .order_by(StripeCustomer.id)
    )
    subscriptions = session.execute(
        select(Subscription, Tier.name)
        .outerjoin(Tier, Tier.id == Subscription.tier_id)
        .where(Subscription.subscriber_id == subscriber.id)
        .order_by(Subscription.id)
    ).all()
    invoices = session.scalars(
        select(Invoice).where(Invoice.subscriber_id == subscriber.id).order_by(Invoice.paid_at, Invoice.id)
    )
    grants = session.execute(
        select(Grant, Tier.name)
        .join(Tier, Tier.id == Grant.tier_id)
        .where(Grant.subscriber_id == subscriber.id)
        .order_by(Grant.id)
    ).all()
    return {
        "customers": [
            {"stripe_customer_id": c.stripe_customer_id, "email": c.email, "created_at": _iso(c.created_at)}
            for c in customers
        ],
        "subscriptions": [
            {
                "stripe_subscription_id": s.stripe_subscription_id,
                "tier": tier,
                "status": s.status,
                "unit_amount_cents": s.unit_amount_cents,
                "currency": s.currency,
                "interval": s.interval,
                "cancel_at_period_end": s.cancel_at_period_end,
                "current_period_end": _iso(s.current_period_end),
                "canceled_at": _iso(s.canceled_at),
            }
            for s, tier in subscriptions
        ],
        "payments": [
            {
                "stripe_invoice_id": i.stripe_invoice_id,
                "amount_paid_cents": i.amount_paid_cents,
                "tax_cents": i.tax_cents,
                "currency": i.currency,
                "paid_at": _iso(i.paid_at),
                "period_start": _iso(i.period_start),
                "period_end": _iso(i.period_end),
            }
            for i in invoices
        ],
        "given_tiers": [
            {
                "kind": g.kind,
                "tier": tier,
                "starts_at": _iso(g.starts_at),
                "ends_at": _iso(g.ends_at),
                "ended_at": _iso(g.revoked_at),
            }
            for g, tier in grants
        ],
        "gifts_received": [
            {"months": g.months, "paid_at": _iso(g.paid_at), "redeemed_at": _iso(g.redeemed_at)}
            for g in session.scalars(select(Gift).where(Gift.recipient_id == subscriber.id).order_by(Gift.id))
        ],
        "cancellation_feedback": [
            {"kind": f.kind, "feedback": f.feedback, "comment": f.comment, "at": _iso(f.at)}
            for f in session.scalars(
                select(RetentionEvent)
                .where(RetentionEvent.subscriber_id == subscriber.id, RetentionEvent.feedback.is_not(None))
                .order_by(RetentionEvent.id)
            )
        ],
    }


def scrub(value: Any, addresses: frozenset[str] = frozenset()) -> Any:
    """A copy of a Stripe payload without personal details, nor any text holding `addresses`
    (lower-cased): a description or a metadata field may repeat the address too."""
    if isinstance(value, dict):
        return {k: (None if k in PERSONAL_KEYS else scrub(v, addresses)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, addresses) for v in value]
    if isinstance(value, str) and any(a in value.lower() for a in addresses):
        return None
    return value


def _customer_ids(session: Session, subscriber_id: int) -> set[str]:
    ids = set(
        session.scalars(
            select(StripeCustomer.stripe_customer_id).where(StripeCustomer.subscriber_id == subscriber_id)
        )
    )
    ids.update(
        session.scalars(
            select(Subscription.stripe_customer_id).where(Subscription.subscriber_id == subscriber_id)
        )
    )
    ids.update(
        session.scalars(select(Invoice.stripe_customer_id).where(Invoice.subscriber_id == subscriber_id))
    )
    return ids


def erase_billing(session: Session, subscriber: Subscriber, now: dt.datetime) -> None:
    """Customers lose their email; every stored event about them loses the person's details."""
    addresses = frozenset(
        a.lower()
        for a in (subscriber.email_normalized, subscriber.email)
        if a and subscriber.status != Status.ERASED
    )
    customer_ids = _customer_ids(session, subscriber.id)
    for customer in session.scalars(
        select(StripeCustomer).where(StripeCustomer.stripe_customer_id.in_(customer_ids))
    ):
        customer.email = None
    # Events matched to them, and those that name one of their customers or their address
    # (an event stored before the customer was linked): a scan, but erasure is rare.
    text = func.lower(cast(StripeEvent.payload, Text))
    needles = [*customer_ids, *addresses]
    condition = or_(
        StripeEvent.subscriber_id == subscriber.id,
        *(text.contains(n.lower(), autoescape=True) for n in needles),
    )
    for event in session.scalars(select(StripeEvent).where(condition)):
        event.payload = scrub(event.payload, addresses)  # a new dict: JSON columns track assignment
    # The gifts they gave name them; what they wrote when cancelling is theirs.
    for gift in session.scalars(select(Gift).where(func.lower(Gift.giver_email).in_(addresses or {""}))):
        gift.giver_email = None
    for fact in session.scalars(select(RetentionEvent).where(RetentionEvent.subscriber_id == subscriber.id)):
        fact.comment = None
    session.flush()


def forget_late_event(session: Session, event: StripeEvent) -> None:
    """After processing: an event about an erased reader's customer keeps no personal details."""
    obj = (event.payload.get("data") or {}).get("object")
    if not isinstance(obj, dict):
        return
    customer_id = id_of(obj.get("id")) if obj.get("object") == "customer" else id_of(obj.get("customer"))
    if not customer_id:
        return
    customer = session.scalars(
        select(StripeCustomer).where(StripeCustomer.stripe_customer_id == customer_id)
    ).first()
    if customer is None or customer.subscriber_id is None:
        return
    owner = session.get(Subscriber, customer.subscriber_id)
    if owner is not None and owner.status == Status.ERASED:
        event.payload = scrub(event.payload)
        customer.email = None


def register() -> None:
    """Called from the domain's init_app."""
    from growth import privacy

    privacy.register_part("billing", export=export_billing, erase=erase_billing)
