"""Billing state changes: tiers and their Stripe sync, checkout, the portal, lookups for others.

Functions take the session first, may flush, and never commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.gateway import StripeGateway
from billing.models import (
    ACCESS_STATUSES,
    Invoice,
    StripeCustomer,
    StripeEvent,
    Subscription,
    Tier,
    TierPrice,
)
from growth.db import ids_in, utcnow
from growth.errors import Conflict, NotFound, ValidationFailed
from growth.fields import Rule
from growth.models import Status, Subscriber

log = logging.getLogger(__name__)

INTERVALS = ("month", "year")
MAX_TRIAL_DAYS = 730  # Stripe's limit on trial_period_days
MAX_PRICE_CENTS = 99_999_999  # Stripe's limit on unit_amount (8 digits)
# Checkout metadata of a stranger's session: the payment signs them up (the email is Stripe's).
SIGNUP_METADATA = "masthead_signup"
# Checkout metadata naming the post whose paywall or upgrade link started the session.
POST_METADATA = "post_id"
_CURRENCY = re.compile(r"[a-z]{3}")


@dataclass
class TierInput:
    """Validated fields of a tier; None leaves a field unchanged on update."""

    name: str | None = None
    description: str | None = None
    monthly_price_cents: int | None = None
    yearly_price_cents: int | None = None
    currency: str | None = None
    trial_days: int | None = None
    active: bool | None = None
    # (percent off, months) of the cancel flow's retention coupon; (None, None) removes it
    retention: tuple[object, object] | None = None


# What a tier's text accepts (the admin form, the API and the CLI; billing.schemas documents it).
TIER_RULES = {
    "name": Rule.of(Tier.name, min_length=1),
    "description": Rule("description", 2000, multiline=True),
}


def _check_tier_input(data: TierInput) -> None:
    if data.name is not None:
        data.name = TIER_RULES["name"].clean(data.name)
    if data.description is not None:
        data.description = TIER_RULES["description"].clean(data.description)
    for label, cents in (
        ("monthly_price_cents", data.monthly_price_cents),
        ("yearly_price_cents", data.yearly_price_cents),
    ):
        if cents is not None and (
            isinstance(cents, bool) or not isinstance(cents, int) or not 1 <= cents <= MAX_PRICE_CENTS
        ):
            raise ValidationFailed(
                f"{label} must be a whole number of cents from 1 to {MAX_PRICE_CENTS}",
                code="invalid_price",
            )
    if data.currency is not None and not _CURRENCY.fullmatch(data.currency):
        raise ValidationFailed(
            "currency must be a three-letter ISO code such as 'usd'", code="invalid_currency"
        )
    if data.trial_days is not None and not 0 <= data.trial_days <= MAX_TRIAL_DAYS:
        raise ValidationFailed(f"trial_days must be from 0 to {MAX_TRIAL_DAYS}", code="invalid_trial_days")


def _name_taken(session: Session, name: str, except_id: int | None = None) -> bool:
    query = select(Tier.id).where(func.lower(Tier.name) == name.lower())
    if except_id is not None:
        query = query.where(Tier.id != except_id)
    return session.scalar(query) is not None


def create_tier(session: Session, data: TierInput, now: dt.datetime) -> Tier:
    """A new tier (not yet at Stripe: run sync-tiers)."""
    if (
        data.name is None
        or data.monthly_price_cents is None
        or data.yearly_price_cents is None
        or data.currency is None
    ):
        raise ValidationFailed(
            "name, monthly_price_cents, yearly_price_cents and currency are required",
            code="missing_field",
        )
    data.currency = data.currency.lower()
    _check_tier_input(data)
    name = data.name.strip()
    if _name_taken(session, name):
        raise Conflict(f"a tier named {name!r} exists", code="tier_exists")
    tier = Tier(
        name=name,
        description=data.description or "",
        monthly_price_cents=data.monthly_price_cents,
        yearly_price_cents=data.yearly_price_cents,
        currency=data.currency,
        trial_days=data.trial_days or 0,
        active=True if data.active is None else data.active,
        created_at=now,
        updated_at=now,
    )
    _set_retention(tier, data)
    session.add(tier)
    session.flush()
    return tier


def update_tier(session: Session, tier: Tier, data: TierInput, now: dt.datetime) -> Tier:
    """Change a tier; new prices reach Stripe with the next sync (old subscribers keep theirs)."""
    if data.currency is not None:
        data.currency = data.currency.lower()
    _check_tier_input(data)
    if data.name is not None:
        name = data.name.strip()
        if _name_taken(session, name, except_id=tier.id):
            raise Conflict(f"a tier named {name!r} exists", code="tier_exists")
        tier.name = name
    for attr in (
        "description",
        "monthly_price_cents",
        "yearly_price_cents",
        "currency",
        "trial_days",
        "active",
    ):
        value = getattr(data, attr)
        if value is not None:
            setattr(tier, attr, value)
    _set_retention(tier, data)
    tier.updated_at = now
    session.flush()
    return tier


def _set_retention(tier: Tier, data: TierInput) -> None:
    if data.retention is None:
        return
    from billing.retention import check_retention_terms  # the cancel flow builds on this module

    tier.retention_percent_off, tier.retention_months = check_retention_terms(*data.retention)


def get_tier(session: Session, tier_id: int) -> Tier:
    """The tier, or NotFound."""
    tier = session.get(Tier, tier_id)
    if tier is None:
        raise NotFound(f"no tier {tier_id}", code="unknown_tier")
    return tier


def list_tiers(session: Session, active_only: bool = False) -> list[Tier]:
    """Tiers, cheapest first."""
    query = select(Tier).order_by(Tier.monthly_price_cents, Tier.id)
    if active_only:
        query = query.where(Tier.active)
    return list(session.scalars(query))


def tier_price_amount(tier: Tier, interval: str) -> int:
    return tier.monthly_price_cents if interval == "month" else tier.yearly_price_cents


def is_synced(tier: Tier) -> bool:
    """Whether Stripe has the tier's current prices (so it can be bought)."""
    for interval in INTERVALS:
        price = tier.current_price(interval)
        if price is None or price.unit_amount_cents != tier_price_amount(tier, interval):
            return False
        if price.currency != tier.currency:
            return False
    return True


def offered_tiers(session: Session) -> list[Tier]:
    """Active tiers whose prices are at Stripe: what Checkout can sell."""
    return [t for t in list_tiers(session, active_only=True) if is_synced(t)]


@dataclass(frozen=True)
class PricedTier:
    """A tier as the pricing page shows it: its prices, and whether Checkout can sell it now."""

    tier: Tier
    open: bool


def pricing(session: Session, payments_configured: bool) -> list[PricedTier]:
    """Every active tier with its prices, open for Checkout when Stripe is set up and has them.

    Strangers see the prices before anything is set up: the page says plans are not open yet.
    """
    return [
        PricedTier(tier, open=payments_configured and is_synced(tier))
        for tier in list_tiers(session, active_only=True)
    ]


def setup_steps(session: Session, payments_configured: bool) -> list[str]:
    """What an operator still has to do before readers can pay (shown to operators only)."""
    steps = []
    if not payments_configured:
        steps.append("Set STRIPE_SECRET_KEY (and STRIPE_WEBHOOK_SECRET) and restart.")
    tiers = list_tiers(session, active_only=True)
    if not tiers:
        steps.append("Create a tier at /admin/tiers.")
    unsynced = [t.name for t in tiers if not is_synced(t)]
    if unsynced:
        steps.append(f"Run `flask --app wsgi sync-tiers` to put {', '.join(unsynced)} at Stripe.")
    return steps


def sync_tier(session: Session, gateway: StripeGateway, tier: Tier, now: dt.datetime) -> list[str]:
    """Create or update the tier's Stripe Product and Prices; returns what changed.

    Stripe prices cannot change amount: a new amount is a new Price and the old one is archived,
    so existing subscribers keep paying what they agreed to. Idempotency keys make a retry after
    a crash find the objects the first attempt created.
    """
    changes: list[str] = []
    product_params: dict[str, Any] = {
        "name": tier.name,
        "active": tier.active,
        "metadata": {"masthead_tier_id": str(tier.id)},
    }
    if tier.description:
        product_params["description"] = tier.description
    if tier.stripe_product_id is None:
        product = gateway.create_product(product_params, idempotency_key=f"masthead-tier-{tier.id}-product")
        tier.stripe_product_id = product.id
        changes.append(f"created product {product.id}")
    else:
        gateway.update_product(tier.stripe_product_id, product_params)
        changes.append(f"updated product {tier.stripe_product_id}")
    for interval in INTERVALS:
        amount = tier_price_amount(tier, interval)
        current = tier.current_price(interval)
        if current is not None and current.unit_amount_cents == amount and current.currency == tier.currency:
            continue
        price = gateway.create_price(
            {
                "product": tier.stripe_product_id,
                "unit_amount": amount,
                "currency": tier.currency,
                "recurring": {"interval": interval, "interval_count": 1},
                "metadata": {"masthead_tier_id": str(tier.id)},
            },
            idempotency_key=f"masthead-tier-{tier.id}-{interval}-{len(tier.prices)}",
        )
        session.add(
            TierPrice(
                tier=tier,
                stripe_price_id=price.id,
                interval=interval,
                unit_amount_cents=amount,
                currency=tier.currency,
                active=True,
                created_at=now,
            )
        )
        changes.append(f"created {interval}ly price {price.id}")
        if current is not None:
            gateway.deactivate_price(current.stripe_price_id)
            current.active = False
            changes.append(f"archived price {current.stripe_price_id}")
    tier.synced_at = now
    session.flush()
    return changes


def tier_for_price(session: Session, stripe_price_id: str | None) -> int | None:
    """The tier a Stripe price belongs to (archived prices included)."""
    if not stripe_price_id:
        return None
    return session.scalar(select(TierPrice.tier_id).where(TierPrice.stripe_price_id == stripe_price_id))


def customer_of(session: Session, subscriber: Subscriber) -> StripeCustomer | None:
    """The subscriber's Stripe customer, if they ever checked out."""
    return session.scalars(
        select(StripeCustomer)
        .where(StripeCustomer.subscriber_id == subscriber.id)
        .order_by(StripeCustomer.id.desc())
    ).first()


def paying_subscription(session: Session, subscriber: Subscriber) -> Subscription | None:
    """The subscriber's subscription that grants a tier now, if any."""
    return session.scalars(
        select(Subscription)
        .where(Subscription.subscriber_id == subscriber.id, Subscription.status.in_(ACCESS_STATUSES))
        .order_by(Subscription.state_at.desc())
    ).first()


def start_checkout(
    session: Session,
    gateway: StripeGateway,
    subscriber: Subscriber | None,
    tier_id: int,
    interval: str,
    *,
    success_url: str,
    cancel_url: str,
    automatic_tax: bool,
    offer_id: int | None = None,
    post_id: int | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Create a subscription-mode Checkout Session; returns its URL.

    For a stranger (no subscriber) Checkout asks the email; the completed payment makes them
    an active subscriber (billing.mirror), so the metadata says the session signs them up.
    An offer (its tier and interval, while live) applies its promotion code or its trial.
    `post_id` (the post whose paywall or upgrade link started it) goes into the session's and
    the subscription's metadata, so the mirror can credit the conversion to it.
    """
    from billing import offers  # offers builds on this module's tiers and prices

    if interval not in INTERVALS:
        raise ValidationFailed("interval must be 'month' or 'year'", code="invalid_interval")
    if subscriber is not None and (subscriber.status == Status.ERASED or subscriber.confirmed_at is None):
        raise Conflict("Confirm your subscription before upgrading.", code="not_confirmed")
    tier = get_tier(session, tier_id)
    if not tier.active:
        raise Conflict("This tier is no longer offered.", code="tier_inactive")
    price = tier.current_price(interval)
    if price is None or not is_synced(tier):
        raise Conflict("This tier is not synced with Stripe yet (run sync-tiers).", code="tier_not_synced")
    if subscriber is not None and paying_subscription(session, subscriber) is not None:
        raise Conflict(
            "You already have a paid subscription: manage it from the billing portal.",
            code="already_paying",
        )
    offer = offers.offer_for_checkout(session, offer_id, tier, interval, now or utcnow())
    metadata = {"tier_id": str(tier.id)}
    if offer is not None:
        metadata["offer_id"] = str(offer.id)
    if post_id is not None:
        metadata[POST_METADATA] = str(post_id)
    if subscriber is not None:
        metadata["subscriber_id"] = str(subscriber.id)
    else:
        metadata[SIGNUP_METADATA] = "1"
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": price.stripe_price_id, "quantity": 1}],
        "metadata": dict(metadata),
        "subscription_data": {"metadata": dict(metadata)},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if subscriber is not None:
        params["client_reference_id"] = str(subscriber.id)
    trial_days = offer.trial_days if offer is not None and offer.kind == "trial" else tier.trial_days
    if trial_days:
        params["subscription_data"]["trial_period_days"] = trial_days
    if offer is not None and offer.stripe_promotion_code_id:
        params["discounts"] = [{"promotion_code": offer.stripe_promotion_code_id}]
    customer = customer_of(session, subscriber) if subscriber is not None else None
    if customer is not None:
        params["customer"] = customer.stripe_customer_id  # customer and customer_email exclude each other
    elif subscriber is not None:
        params["customer_email"] = subscriber.email
    if automatic_tax:
        # Subscription Checkout does not inherit the account's automatic-tax default.
        params["automatic_tax"] = {"enabled": True}
        if customer is not None:
            params["customer_update"] = {"address": "auto"}
    checkout = gateway.create_checkout_session(params)
    log.info(
        "checkout %s for subscriber %s, tier %s (%s)",
        checkout.id,
        subscriber.id if subscriber is not None else "(a stranger)",
        tier.id,
        interval,
    )
    return str(checkout.url)


def open_portal(session: Session, gateway: StripeGateway, subscriber: Subscriber, return_url: str) -> str:
    """A Stripe customer-portal session for a subscriber who has a Stripe customer."""
    customer = customer_of(session, subscriber)
    if customer is None:
        raise NotFound("There is no billing account for this subscription yet.", code="no_billing_account")
    from billing.retention import portal_configuration_id  # the cancel flow builds on this module

    portal = gateway.create_portal_session(
        customer.stripe_customer_id, return_url, configuration=portal_configuration_id(session)
    )
    return str(portal.url)


def subscriptions_of(session: Session, subscriber: Subscriber) -> list[Subscription]:
    """The subscriber's mirrored subscriptions, newest first."""
    return list(
        session.scalars(
            select(Subscription)
            .where(Subscription.subscriber_id == subscriber.id)
            .order_by(Subscription.state_at.desc())
        )
    )


def paying_tier_lookup(session: Session, subscriber_ids: Iterable[int] | None) -> dict[int, int]:
    """{subscriber_id: tier_id} of subscribers with an active, trialing or past_due subscription."""
    query = select(Subscription.subscriber_id, Subscription.tier_id, Subscription.state_at).where(
        Subscription.status.in_(ACCESS_STATUSES),
        Subscription.subscriber_id.is_not(None),
        Subscription.tier_id.is_not(None),
    )
    if subscriber_ids is not None:
        ids = list(subscriber_ids)
        if not ids:
            return {}
        query = query.where(ids_in(Subscription.subscriber_id, ids))
    result: dict[int, int] = {}
    for subscriber_id, tier_id, _ in session.execute(query.order_by(Subscription.state_at)):
        if subscriber_id is not None and tier_id is not None:
            result[subscriber_id] = tier_id  # the newest subscription wins
    return result


def revenue_lookup(session: Session) -> dict[int, dict[str, int]]:
    """{subscriber_id: {currency: cents paid before tax}} from the paid-invoice ledger."""
    rows = session.execute(
        select(
            Invoice.subscriber_id,
            Invoice.currency,
            func.sum(Invoice.amount_paid_cents - Invoice.tax_cents),
        )
        .where(Invoice.subscriber_id.is_not(None))
        .group_by(Invoice.subscriber_id, Invoice.currency)
    )
    result: dict[int, dict[str, int]] = {}
    for subscriber_id, currency, cents in rows:
        if subscriber_id is None:
            continue
        result.setdefault(subscriber_id, {})[currency] = int(cents or 0)
    return result


def events_for_review(session: Session, limit: int = 100) -> list[StripeEvent]:
    """Stripe events that matched no subscriber or could not be read, newest first."""
    return list(
        session.scalars(
            select(StripeEvent)
            .where(StripeEvent.outcome.in_(("unmatched", "invalid")))
            .order_by(StripeEvent.created.desc(), StripeEvent.id.desc())
            .limit(limit)
        )
    )


def tier_names(session: Session) -> list[tuple[int, str]]:
    """Active tiers as (id, name), for content's audience and segment pickers."""
    return [(t.id, t.name) for t in session.scalars(select(Tier).where(Tier.active).order_by(Tier.id))]
