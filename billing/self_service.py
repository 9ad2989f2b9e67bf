"""What a paying reader changes themselves from /me/<token>/billing: cancel (through Stripe's
portal cancel flow), and what the portal lacks: pause and switch to yearly.

Each change is asked of Stripe; the mirror learns the result from the webhook that follows,
never from the answer here. Functions take the session first, may flush, and never commit.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from billing import retention
from billing.gateway import StripeGateway
from billing.models import Subscription, Tier
from billing.service import customer_of, is_synced, paying_subscription
from growth.errors import Conflict, NotFound, ValidationFailed
from growth.models import Subscriber

log = logging.getLogger(__name__)

PAUSE_MONTHS = (1, 2, 3)


def _paying(session: Session, subscriber: Subscriber) -> Subscription:
    sub = paying_subscription(session, subscriber)
    if sub is None:
        raise NotFound("There is no paid plan to change.", code="no_subscription")
    return sub


def open_cancel_flow(
    session: Session, gateway: StripeGateway, subscriber: Subscriber, return_url: str, now: dt.datetime
) -> str:
    """A portal session that goes straight to cancelling, the tier's retention coupon offered."""
    sub = _paying(session, subscriber)
    if sub.cancel_at_period_end:
        raise Conflict("Your plan already ends at the end of this period.", code="already_cancelling")
    customer = customer_of(session, subscriber)
    customer_id = customer.stripe_customer_id if customer is not None else sub.stripe_customer_id
    flow = retention.cancel_flow(session, sub, return_url)
    portal = gateway.create_portal_session(
        customer_id, return_url, configuration=retention.portal_configuration_id(session), flow_data=flow
    )
    if "retention" in flow["subscription_cancel"]:
        retention.note_offer_shown(session, str(portal.id), sub, now)
    return str(portal.url)


def pause(
    session: Session, gateway: StripeGateway, subscriber: Subscriber, months: int | None, now: dt.datetime
) -> None:
    """Pause collection for `months` (Stripe voids the invoices meanwhile), or resume (None)."""
    sub = _paying(session, subscriber)
    if months is None:
        if not sub.collection_paused:
            raise Conflict("Your plan is not paused.", code="not_paused")
        params: dict = {"pause_collection": ""}  # an empty value unsets it at Stripe
        key = f"masthead-resume-{sub.stripe_subscription_id}-{now:%Y%m%d%H%M}"
    else:
        if months not in PAUSE_MONTHS:
            raise ValidationFailed("a pause lasts 1, 2 or 3 months", code="invalid_pause")
        if sub.collection_paused:
            raise Conflict("Your plan is paused already.", code="already_paused")
        resumes = now + dt.timedelta(days=30 * months)
        params = {"pause_collection": {"behavior": "void", "resumes_at": int(resumes.timestamp())}}
        key = f"masthead-pause-{sub.stripe_subscription_id}-{now:%Y%m%d%H%M}"
    gateway.update_subscription(sub.stripe_subscription_id, params, idempotency_key=key)
    log.info("subscription %s: pause %s", sub.stripe_subscription_id, months)


def yearly_price_for(session: Session, sub: Subscription) -> tuple[Tier, int] | None:
    """(tier, yearly cents) when the subscription is monthly and its tier sells yearly."""
    if sub.interval != "month" or sub.interval_count != 1 or sub.tier_id is None:
        return None
    tier = session.get(Tier, sub.tier_id)
    if tier is None or not tier.active or not is_synced(tier):
        return None
    return tier, tier.yearly_price_cents


def switch_to_yearly(
    session: Session, gateway: StripeGateway, subscriber: Subscriber, now: dt.datetime
) -> None:
    """Move a monthly plan to its tier's yearly price now, prorated (Stripe bills the rest)."""
    sub = _paying(session, subscriber)
    found = yearly_price_for(session, sub)
    if found is None:
        raise Conflict("This plan cannot switch to yearly.", code="no_yearly_price")
    tier, _ = found
    yearly = tier.current_price("year")
    assert yearly is not None  # is_synced checked it
    current = gateway.retrieve_subscription(sub.stripe_subscription_id)
    items = ((current or {}).get("items") or {}).get("data") or []
    if not items:
        raise NotFound("Stripe has no such subscription.", code="no_subscription")
    gateway.update_subscription(
        sub.stripe_subscription_id,
        {
            "items": [{"id": items[0]["id"], "price": yearly.stripe_price_id}],
            "proration_behavior": "always_invoice",
        },
        idempotency_key=f"masthead-yearly-{sub.stripe_subscription_id}-{yearly.stripe_price_id}",
    )
    log.info("subscription %s: switched to yearly %s", sub.stripe_subscription_id, yearly.stripe_price_id)
