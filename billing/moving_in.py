"""Paid members moving in from another platform: their Stripe customer linked, mirrored at once.

Substack, beehiiv and Ghost members pay through Stripe customers on the publication's own
account, so nobody re-enters a card: the import names the customer, and this reads its
subscriptions from Stripe (a customer retrieve, then the list by customer) and mirrors each as a
webhook would (billing.mirror), so MRR and the paying stage are right before any event arrives.
Registered with the core's growth.member_imports, which does not import billing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import gateway
from billing.customers import link_customer
from billing.mirror import apply_subscription, refresh_stage
from billing.models import StripeCustomer, SubscriptionSnapshot
from growth import rollups
from growth.errors import ValidationFailed
from growth.models import Subscriber

EVENT_TYPE = "import.subscription"  # a snapshot read from Stripe's API, not sent by a webhook


@dataclass(frozen=True)
class Reading:
    """A subscription as read from Stripe at `created`: what a snapshot keeps of its event."""

    event_id: str
    type: str
    created: dt.datetime


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
    session: Session, subscriber: Subscriber, customer_id: str, now: dt.datetime
) -> dict[str, Any]:
    """Link the customer to the subscriber and mirror its open subscriptions as read now.

    Stripe is asked first and the rows written after, so a refusal leaves nothing behind; a
    customer Stripe does not have (or deleted) is a ValidationFailed for the row's report.
    """
    stripe = gateway.get_gateway()
    customer = stripe.retrieve_customer(customer_id)
    if customer is None or customer.get("deleted"):
        raise ValidationFailed(
            f"Stripe has no customer {customer_id} on this account.", code="unknown_stripe_customer"
        )
    listed = stripe.list_subscriptions(customer_id)
    link_customer(session, customer_id, subscriber, customer.get("email"))
    mirrored = 0
    for obj in listed:
        event_id = f"import:{obj['id']}"
        if session.scalar(select(SubscriptionSnapshot.id).where(SubscriptionSnapshot.event_id == event_id)):
            continue  # this subscription was read by an import already
        apply_subscription(session, Reading(event_id, EVENT_TYPE, now), obj)
        mirrored += 1
    refresh_stage(session, subscriber, now)
    rollups.mark_dirty(session, [subscriber.id])
    return {"customer": customer_id, "subscriptions": mirrored}
