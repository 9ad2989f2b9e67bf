"""Paid members moving in from another platform: their Stripe customer linked, mirrored at once.

Substack, beehiiv and Ghost members pay through Stripe customers on the publication's own
account, so nobody re-enters a card: the import names the customer, and this reads its
subscriptions from Stripe (a customer retrieve, then the list by customer) and mirrors each as a
webhook would (billing.mirror), so MRR and the paying stage are right before any event arrives.
Registered with the core's growth.member_imports, which does not import billing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import gateway
from billing.customers import link_customer
from billing.mirror import apply_subscription, refresh_stage
from billing.models import ACCESS_STATUSES, StripeCustomer, Subscription, SubscriptionSnapshot, TierPrice
from billing.service import tier_for_price
from growth import rollups
from growth.errors import ValidationFailed
from growth.models import Stage, Subscriber
from growth.subscribers import set_stage

EVENT_TYPE = "import.subscription"  # a snapshot read from Stripe's API, not sent by a webhook


@dataclass(frozen=True)
class Reading:
    """A subscription as read from Stripe at `created`: what a snapshot keeps of its event."""

    event_id: str
    type: str
    created: dt.datetime
    # No event came: nothing changed "before" it (the cancel flow reads previous_attributes here).
    payload: dict[str, Any] = field(default_factory=dict)


def customer_owners(session: Session, customer_ids: list[str], chunk: int = 1000) -> dict[str, int | None]:
    """{customer id: the subscriber it is linked to, None when known but unlinked}; unknown left out."""
    found: dict[str, int | None] = {}
    for start in range(0, len(customer_ids), chunk):
        part = customer_ids[start : start + chunk]
        for customer_id, subscriber_id in session.execute(
            select(StripeCustomer.stripe_customer_id, StripeCustomer.subscriber_id).where(
                StripeCustomer.stripe_customer_id.in_(part)
            )
        ):
            found[customer_id] = subscriber_id
    return found


def payments_problem() -> str | None:
    """Why paid members cannot be linked here (no Stripe key), or None."""
    if gateway.is_configured():
        return None
    return (
        "Payments are not configured (STRIPE_SECRET_KEY is not set): paid members are imported "
        "as readers without their Stripe customer; run the import again once it is set."
    )


def link_imported_customer(
    session: Session, subscriber: Subscriber, customer_id: str, now: dt.datetime, tier_id: int | None = None
) -> dict[str, int]:
    """Link the customer to the subscriber and mirror its open subscriptions as read now.

    Stripe is asked first and the rows written after, so a refusal leaves nothing behind; a
    customer Stripe does not have (or deleted) is a ValidationFailed for the row's report.
    `tier_id`: the tier of subscriptions whose price no tier knows (the old platform's prices).
    """
    stripe = gateway.get_gateway()
    customer = stripe.retrieve_customer(customer_id)
    if customer is None or customer.get("deleted"):
        raise ValidationFailed(
            f"Stripe has no customer {customer_id} on this account.", code="unknown_stripe_customer"
        )
    listed = stripe.list_subscriptions(customer_id)
    link_customer(session, customer_id, subscriber, customer.get("email"))
    if any(obj.get("status") in ACCESS_STATUSES for obj in listed):
        # They paid before they arrived: the stage is set first, so the mirror does not announce
        # an upgrade (no "thanks for upgrading" sequence, no subscription.started webhook).
        set_stage(session, subscriber, Stage.PAYING, now, reason="imported_paying")
    mirrored = 0
    for obj in listed:
        event_id = f"import:{obj['id']}"
        if session.scalar(select(SubscriptionSnapshot.id).where(SubscriptionSnapshot.event_id == event_id)):
            continue  # this subscription was read by an import already
        apply_subscription(session, Reading(event_id, EVENT_TYPE, now), obj)
        mirrored += 1
    if tier_id is not None:
        assign_tier(session, customer_id, tier_id, now)
    refresh_stage(session, subscriber, now)
    rollups.mark_dirty(session, [subscriber.id])
    return {"subscriptions": mirrored, "untiered": len(_untiered(session, [customer_id]))}


def _untiered(session: Session, customer_ids: list[str]) -> list[Subscription]:
    """The paying subscriptions of these customers whose price no tier knows."""
    if not customer_ids:
        return []
    return list(
        session.scalars(
            select(Subscription).where(
                Subscription.stripe_customer_id.in_(customer_ids),
                Subscription.status.in_(ACCESS_STATUSES),
                Subscription.tier_id.is_(None),
            )
        )
    )


def untiered_customers(session: Session, customer_ids: list[str], chunk: int = 1000) -> set[str]:
    """Those of the customers whose paying subscriptions unlock no tier (the price is unknown)."""
    found: set[str] = set()
    for start in range(0, len(customer_ids), chunk):
        found.update(s.stripe_customer_id for s in _untiered(session, customer_ids[start : start + chunk]))
    return found


def assign_tier(session: Session, customer_id: str, tier_id: int, now: dt.datetime) -> int:
    """Give the customer's untiered subscriptions the tier, and keep their prices as the tier's
    archived prices (never offered at Checkout), so later events for them map to it too."""
    subs = _untiered(session, [customer_id])
    for sub in subs:
        if sub.stripe_price_id and tier_for_price(session, sub.stripe_price_id) is None:
            try:
                with session.begin_nested():
                    session.add(
                        TierPrice(
                            tier_id=tier_id,
                            stripe_price_id=sub.stripe_price_id,
                            interval=sub.interval,
                            unit_amount_cents=sub.unit_amount_cents,
                            currency=sub.currency,
                            active=False,
                            created_at=now,
                        )
                    )
            except IntegrityError:  # another import recorded the same price first
                pass
        sub.tier_id = tier_for_price(session, sub.stripe_price_id) or tier_id
    session.flush()
    if subs:
        owner = session.scalar(
            select(StripeCustomer.subscriber_id).where(StripeCustomer.stripe_customer_id == customer_id)
        )
        rollups.mark_dirty(session, [owner])
    return len(subs)
