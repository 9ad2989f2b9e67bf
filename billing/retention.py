"""The cancel flow: Stripe's customer portal configured by Masthead, a retention coupon per tier,
and the facts of who tried to leave, why, and who stayed.

Cancelling happens in Stripe's portal (its cancel flow, with Stripe's cancellation reasons and
the tier's retention coupon), configured through the API (`sync_portal`). The reasons arrive in
the subscription's `cancellation_details`; each subscription event says what changed in
`previous_attributes`, so every fact is read from its own event, in any order, once per event
(`RetentionEvent` is unique per source and kind). Functions take the session first, may flush,
and never commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import catalogue
from billing.gateway import StripeGateway
from billing.models import (
    PortalConfiguration,
    RetentionEvent,
    StripeCoupon,
    StripeEvent,
    Subscription,
    Tier,
)
from growth import signals
from growth.errors import ValidationFailed
from growth.models import Subscriber

if TYPE_CHECKING:  # mirror imports this module
    from billing.mirror import EventStamp

log = logging.getLogger(__name__)

# Stripe's cancellation feedback options (cancellation_details.feedback), all offered.
FEEDBACK_OPTIONS = (
    "too_expensive",
    "missing_features",
    "switched_service",
    "unused",
    "customer_service",
    "too_complex",
    "low_quality",
    "other",
)
SAVE_KINDS = ("retention_accepted", "reactivated", "payment_recovered")
FAILED_PAYMENT_STATUSES = ("past_due", "unpaid")


# -- Stripe's side: the portal configuration and the retention coupons --------------------------


def portal_configuration_params(return_url: str) -> dict[str, Any]:
    """The portal Masthead sets up: invoices, payment methods, and cancelling at period end
    with Stripe's own feedback options (the reasons then arrive in cancellation_details)."""
    return {
        "business_profile": {"headline": "Manage your subscription"},
        "default_return_url": return_url,
        "features": {
            "invoice_history": {"enabled": True},
            "payment_method_update": {"enabled": True},
            "subscription_cancel": {
                "enabled": True,
                "mode": "at_period_end",
                "cancellation_reason": {"enabled": True, "options": list(FEEDBACK_OPTIONS)},
            },
        },
        "metadata": {"masthead": "portal"},
    }


def check_retention_terms(percent_off: object, months: object) -> tuple[int | None, int | None]:
    """A tier's retention coupon terms: both set (1-100 %, 1-12 months) or both None."""
    if percent_off is None and months is None:
        return None, None
    ok = (
        isinstance(percent_off, int)
        and not isinstance(percent_off, bool)
        and 1 <= percent_off <= 100
        and isinstance(months, int)
        and not isinstance(months, bool)
        and 1 <= months <= 12
    )
    if not ok:
        raise ValidationFailed(
            "a retention offer is retention_percent_off (1-100) with retention_months (1-12)",
            code="invalid_retention",
        )
    return percent_off, months  # type: ignore[return-value]


def sync_retention_coupon(
    session: Session, gateway: StripeGateway, tier: Tier, now: dt.datetime
) -> str | None:
    """Make the tier's retention coupon at Stripe when its terms are new; returns what changed.

    Coupons are immutable, so new terms are a new coupon (the idempotency key names the terms).
    """
    if tier.retention_percent_off is None or tier.retention_months is None or tier.stripe_product_id is None:
        return None
    current = (
        tier.stripe_retention_coupon_id
        and session.scalars(
            select(StripeCoupon).where(StripeCoupon.stripe_coupon_id == tier.stripe_retention_coupon_id)
        ).first()
    )
    if (
        current
        and current.percent_off is not None
        and float(current.percent_off) == tier.retention_percent_off
        and current.duration_in_months == tier.retention_months
    ):
        return None
    coupon = gateway.create_coupon(
        {
            "name": f"Stay with {tier.name}"[:40],
            "percent_off": tier.retention_percent_off,
            "duration": "repeating",
            "duration_in_months": tier.retention_months,
            "applies_to": {"products": [tier.stripe_product_id]},
            "metadata": {"masthead_retention_tier_id": str(tier.id)},
        },
        idempotency_key=f"masthead-retention-{tier.id}-{tier.retention_percent_off}-{tier.retention_months}",
    )
    catalogue.store_coupon(session, coupon.to_dict(), now)
    tier.stripe_retention_coupon_id = coupon.id
    session.flush()
    return f"created retention coupon {coupon.id}"


def sync_portal(session: Session, gateway: StripeGateway, return_url: str, now: dt.datetime) -> str:
    """Create or update Masthead's portal configuration at Stripe; returns what was done."""
    params = portal_configuration_params(return_url)
    row = session.scalars(select(PortalConfiguration).order_by(PortalConfiguration.id.desc())).first()
    if row is None:
        made = gateway.create_portal_configuration(params, idempotency_key="masthead-portal-configuration")
        session.add(PortalConfiguration(stripe_configuration_id=made.id, created_at=now, synced_at=now))
        session.flush()
        return f"created portal configuration {made.id}"
    gateway.update_portal_configuration(row.stripe_configuration_id, params)
    row.synced_at = now
    session.flush()
    return f"updated portal configuration {row.stripe_configuration_id}"


def portal_configuration_id(session: Session) -> str | None:
    """The configuration portal sessions open with (None: the account's default)."""
    return session.scalar(
        select(PortalConfiguration.stripe_configuration_id).order_by(PortalConfiguration.id.desc()).limit(1)
    )


def cancel_flow(session: Session, sub: Subscription, return_url: str) -> dict[str, Any]:
    """The portal session's flow_data: straight to cancelling this subscription, with the
    tier's retention coupon offered when it has one."""
    cancel: dict[str, Any] = {"subscription": sub.stripe_subscription_id}
    tier = session.get(Tier, sub.tier_id) if sub.tier_id else None
    if tier is not None and tier.stripe_retention_coupon_id:
        cancel["retention"] = {
            "type": "coupon_offer",
            "coupon_offer": {"coupon": tier.stripe_retention_coupon_id},
        }
    return {
        "type": "subscription_cancel",
        "subscription_cancel": cancel,
        "after_completion": {"type": "redirect", "redirect": {"return_url": return_url}},
    }


# -- the facts -------------------------------------------------------------------------------


def _record(
    session: Session,
    source_id: str,
    kind: str,
    at: dt.datetime,
    *,
    subscription_id: str | None,
    subscriber_id: int | None,
    tier_id: int | None,
    details: dict[str, Any] | None = None,
) -> bool:
    """Keep one fact once; False when this source already gave it."""
    exists = select(RetentionEvent.id).where(
        RetentionEvent.source_id == source_id, RetentionEvent.kind == kind
    )
    if session.scalar(exists) is not None:
        return False
    details = details or {}
    try:
        with session.begin_nested():
            session.add(
                RetentionEvent(
                    source_id=source_id,
                    kind=kind,
                    stripe_subscription_id=subscription_id,
                    subscriber_id=subscriber_id,
                    tier_id=tier_id,
                    feedback=_short(details.get("feedback")),
                    reason=_short(details.get("reason")),
                    comment=str(details["comment"])[:2000] if details.get("comment") else None,
                    at=at,
                )
            )
    except IntegrityError:
        return False
    return True


def _short(value: Any) -> str | None:
    return str(value)[:32] if value else None


def note_offer_shown(session: Session, portal_session_id: str, sub: Subscription, at: dt.datetime) -> None:
    """A cancel flow with a retention coupon was opened for this subscription."""
    _record(
        session,
        portal_session_id,
        "retention_offered",
        at,
        subscription_id=sub.stripe_subscription_id,
        subscriber_id=sub.subscriber_id,
        tier_id=sub.tier_id,
    )


def note_subscription_event(
    session: Session, row: EventStamp, obj: dict[str, Any], sub: Subscription
) -> None:
    """What this subscription event tells of the cancel flow, read from the event alone."""
    previous = (row.payload.get("data") or {}).get("previous_attributes") or {}
    details = obj.get("cancellation_details") or {}

    def record(kind: str, with_details: bool = False) -> bool:
        return _record(
            session,
            row.event_id,
            kind,
            row.created,
            subscription_id=sub.stripe_subscription_id,
            subscriber_id=sub.subscriber_id,
            tier_id=sub.tier_id,
            details=details if with_details else None,
        )

    cancelling = bool(obj.get("cancel_at_period_end")) or obj.get("cancel_at") is not None
    cancel_changed = "cancel_at_period_end" in previous or "cancel_at" in previous
    was_cancelling = bool(previous.get("cancel_at_period_end")) or previous.get("cancel_at") is not None
    status = obj.get("status")
    kept = False
    if row.type == "customer.subscription.deleted":
        record("canceled", with_details=True)
    elif cancel_changed and cancelling and not was_cancelling:
        record("cancel_scheduled", with_details=True)
    elif cancel_changed and was_cancelling and not cancelling and status in ("active", "trialing"):
        kept = record("reactivated")
    if previous.get("status") in FAILED_PAYMENT_STATUSES and status == "active":
        kept = record("payment_recovered") or kept
    subscriber = session.get(Subscriber, sub.subscriber_id) if sub.subscriber_id else None
    if kept and subscriber is not None:
        signals.subscriber_kept.send(subscriber, session=session, now=row.created)


def note_discount_event(session: Session, row: StripeEvent, obj: dict[str, Any]) -> None:
    """A discount from a tier's retention coupon on a subscription: the offer was taken."""
    if row.type != "customer.discount.created":
        return
    coupon_id, _ = catalogue._coupon_of(obj)
    subscription_id = obj.get("subscription")
    if not coupon_id or not subscription_id:
        return
    tier_id = session.scalar(select(Tier.id).where(Tier.stripe_retention_coupon_id == coupon_id))
    if tier_id is None:
        return
    sub = session.scalars(
        select(Subscription).where(Subscription.stripe_subscription_id == subscription_id)
    ).first()
    subscriber_id = sub.subscriber_id if sub is not None else None
    if (
        _record(
            session,
            row.event_id,
            "retention_accepted",
            row.created,
            subscription_id=str(subscription_id),
            subscriber_id=subscriber_id,
            tier_id=tier_id,
        )
        and subscriber_id is not None
    ):
        signals.subscriber_kept.send(session.get(Subscriber, subscriber_id), session=session, now=row.created)


# -- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """One retention fact as plain data."""

    kind: str
    at: dt.datetime
    subscription_id: str | None = None
    feedback: str | None = None


def cancellation_report(facts: Iterable[Fact], start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Cancellations, their reasons, retention offers shown and taken, and saves in [start, end).

    `cancel_requests`: cancellations scheduled plus immediate ones not scheduled first (one per
    subscription and request); `reasons` counts their feedback (`none` when not given);
    `retention.offered` is cancel flows opened with a coupon, `accepted` the coupons taken
    (`acceptance_rate` = accepted / offered); `saves` are offers taken, scheduled cancellations
    undone while still paying, and failed payments recovered; `churned` subscriptions that ended
    (a recovered failed payment is a save, never churn). `save_rate` = saves / (saves + churned).
    """
    window = [f for f in facts if start <= f.at < end]
    kinds = Counter(f.kind for f in window)
    scheduled_subs = {f.subscription_id for f in window if f.kind == "cancel_scheduled"}
    requests = [
        f
        for f in window
        if f.kind == "cancel_scheduled" or (f.kind == "canceled" and f.subscription_id not in scheduled_subs)
    ]
    reasons = Counter(f.feedback or "none" for f in requests)
    saves = {k: kinds[k] for k in SAVE_KINDS}
    total_saves = sum(saves.values())
    churned = kinds["canceled"]
    offered = kinds["retention_offered"]
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "cancel_requests": len(requests),
        "reasons": dict(sorted(reasons.items())),
        "retention": {
            "offered": offered,
            "accepted": kinds["retention_accepted"],
            "acceptance_rate": kinds["retention_accepted"] / offered if offered else None,
        },
        "saves": {"total": total_saves, **saves},
        "churned": churned,
        "save_rate": total_saves / (total_saves + churned) if total_saves + churned else None,
    }


def load_facts(session: Session, start: dt.datetime, end: dt.datetime) -> list[Fact]:
    """The stored facts of [start, end)."""
    return [
        Fact(kind=r.kind, at=r.at, subscription_id=r.stripe_subscription_id, feedback=r.feedback)
        for r in session.scalars(
            select(RetentionEvent)
            .where(RetentionEvent.at >= start, RetentionEvent.at < end)
            .order_by(RetentionEvent.id)
        )
    ]
