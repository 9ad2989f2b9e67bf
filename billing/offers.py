"""Offers: percent or amount off, or a free trial, on one tier and interval, for a while.

A percent or amount offer is a Stripe coupon (restricted to the tier's product, recorded in the
coupon catalogue) with a promotion code whose code is the offer's; Checkout applies the code
itself (`discounts`), so a reader never types it at Stripe before the offer starts. A trial
offer sets the Checkout's trial. Readers reach an offer by its code (`/pricing?code=X`) or its
signed link (`/pricing?offer=<token>`); its limit counts completed Checkouts (one per Checkout
Session, so a redelivered event counts once). Stripe enforces the promotion code's own limit and
expiry too; a trial offer's limit can be passed by Checkouts already open when it is reached.
Functions take the session first, may flush, and never commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import catalogue
from billing.gateway import StripeGateway
from billing.models import Offer, OfferRedemption, Tier
from billing.service import INTERVALS, MAX_TRIAL_DAYS, tier_price_amount
from growth import links
from growth.errors import Conflict, DomainError, NotFound, ValidationFailed
from growth.tokens import make_token, read_token

log = logging.getLogger(__name__)

KINDS = ("percent", "amount", "trial")
DURATIONS = ("once", "repeating", "forever")
OFFER_PURPOSE = "offer"
_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{2,39}")  # Stripe: alphanumerics, dashes, underscores


@dataclass
class OfferInput:
    """What an operator sets on an offer (validated by `check_offer`)."""

    code: str
    name: str
    tier_id: int
    interval: str
    kind: str
    percent_off: int | None = None
    amount_off_cents: int | None = None
    duration: str | None = None
    duration_in_months: int | None = None
    trial_days: int | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    max_redemptions: int | None = None
    featured: bool = False


def _whole(value: Any, label: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(
            f"{label} must be a whole number from {low} to {high}", code=f"invalid_{label}"
        )
    return value


def check_offer(session: Session, data: OfferInput, now: dt.datetime) -> Tier:
    """Validate an offer's fields (ValidationFailed, NotFound, Conflict name the first problem)."""
    data.code = (data.code or "").strip().upper()
    if not _CODE.fullmatch(data.code):
        raise ValidationFailed(
            "code must be 3 to 40 letters, digits, dashes or underscores", code="invalid_code"
        )
    data.name = (data.name or "").strip()
    if not 1 <= len(data.name) <= 100 or any(ord(c) < 32 for c in data.name):
        raise ValidationFailed("name must be one line of 1 to 100 characters", code="invalid_name")
    if data.interval not in INTERVALS:
        raise ValidationFailed("interval must be 'month' or 'year'", code="invalid_interval")
    if data.kind not in KINDS:
        raise ValidationFailed("kind must be percent, amount or trial", code="invalid_kind")
    tier = session.get(Tier, data.tier_id)
    if tier is None:
        raise NotFound(f"no tier {data.tier_id}", code="unknown_tier")
    if not tier.active:
        raise Conflict("This tier is no longer offered.", code="tier_inactive")
    if data.kind == "trial":
        data.trial_days = _whole(data.trial_days, "trial_days", 1, MAX_TRIAL_DAYS)
        data.percent_off = data.amount_off_cents = data.duration = data.duration_in_months = None
    else:
        if data.kind == "percent":
            data.percent_off = _whole(data.percent_off, "percent_off", 1, 100)
            data.amount_off_cents = None
        else:
            price = tier_price_amount(tier, data.interval)
            data.amount_off_cents = _whole(data.amount_off_cents, "amount_off_cents", 1, price)
            data.percent_off = None
        data.duration = data.duration or "once"
        if data.duration not in DURATIONS:
            raise ValidationFailed("duration must be once, repeating or forever", code="invalid_duration")
        if data.duration == "repeating":
            data.duration_in_months = _whole(data.duration_in_months, "duration_in_months", 1, 36)
        else:
            data.duration_in_months = None
        data.trial_days = None
    if data.max_redemptions is not None:
        data.max_redemptions = _whole(data.max_redemptions, "max_redemptions", 1, 10_000_000)
    data.starts_at = data.starts_at or now
    if data.ends_at is not None and data.ends_at <= max(data.starts_at, now):
        raise ValidationFailed("ends_at must be after the start and after now", code="invalid_ends_at")
    return tier


def create_offer(
    session: Session, gateway: StripeGateway | None, data: OfferInput, now: dt.datetime
) -> Offer:
    """A new offer; a percent or amount one gets its Stripe coupon and promotion code first.

    The row is flushed before Stripe is called (its id keys the idempotent creates), so a
    failed call leaves nothing once the caller rolls back, and a retry finds Stripe's objects.
    """
    tier = check_offer(session, data, now)
    if session.scalar(select(Offer.id).where(Offer.code == data.code)) is not None:
        raise Conflict(f"an offer with code {data.code} exists", code="offer_exists")
    offer = Offer(
        code=data.code,
        name=data.name,
        tier_id=tier.id,
        interval=data.interval,
        kind=data.kind,
        percent_off=data.percent_off,
        amount_off_cents=data.amount_off_cents,
        duration=data.duration,
        duration_in_months=data.duration_in_months,
        trial_days=data.trial_days,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        max_redemptions=data.max_redemptions,
        featured=data.featured,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(offer)
    except IntegrityError as exc:  # the same code, created at the same time
        raise Conflict(f"an offer with code {data.code} exists", code="offer_exists") from exc
    if offer.kind != "trial":
        if gateway is None:
            raise Conflict(
                "A discount offer is made at Stripe: set STRIPE_SECRET_KEY first.",
                code="payments_not_configured",
            )
        if tier.stripe_product_id is None:
            raise Conflict("This tier is not at Stripe yet (run sync-tiers).", code="tier_not_synced")
        _make_at_stripe(session, gateway, offer, tier, now)
    session.flush()
    return offer


def _make_at_stripe(
    session: Session, gateway: StripeGateway, offer: Offer, tier: Tier, now: dt.datetime
) -> None:
    metadata = {"masthead_offer_id": str(offer.id), "masthead_tier_id": str(tier.id)}
    params: dict[str, Any] = {
        "name": offer.name[:40],  # Stripe shows a coupon's name at Checkout (40 characters)
        "duration": offer.duration,
        "applies_to": {"products": [tier.stripe_product_id]},
        "metadata": metadata,
    }
    if offer.percent_off is not None:
        params["percent_off"] = offer.percent_off
    else:
        params["amount_off"] = offer.amount_off_cents
        params["currency"] = tier.currency
    if offer.duration == "repeating":
        params["duration_in_months"] = offer.duration_in_months
    if offer.max_redemptions is not None:
        params["max_redemptions"] = offer.max_redemptions
    if offer.ends_at is not None:
        params["redeem_by"] = int(offer.ends_at.timestamp())
    coupon = gateway.create_coupon(params, idempotency_key=f"masthead-offer-{offer.id}-coupon")
    offer.stripe_coupon_id = coupon.id
    catalogue.store_coupon(session, coupon.to_dict(), now)  # priced before any event says so
    code_params: dict[str, Any] = {
        "promotion": {"type": "coupon", "coupon": coupon.id},  # since 2025-09-30.clover
        "code": offer.code,
        "metadata": metadata,
    }
    if offer.max_redemptions is not None:
        code_params["max_redemptions"] = offer.max_redemptions
    if offer.ends_at is not None:
        code_params["expires_at"] = int(offer.ends_at.timestamp())
    promotion = gateway.create_promotion_code(code_params, idempotency_key=f"masthead-offer-{offer.id}-code")
    offer.stripe_promotion_code_id = promotion.id
    log.info("offer %s: coupon %s, promotion code %s", offer.code, coupon.id, promotion.id)


def end_offer(session: Session, gateway: StripeGateway | None, offer: Offer, now: dt.datetime) -> Offer:
    """End an offer now; its promotion code is deactivated at Stripe."""
    if offer.ended_at is None:
        offer.ended_at = now
        if offer.stripe_promotion_code_id and gateway is not None:
            gateway.deactivate_promotion_code(offer.stripe_promotion_code_id)
        session.flush()
    return offer


def redemptions(session: Session, offer: Offer) -> int:
    """Completed Checkouts under this offer."""
    return int(
        session.scalar(
            select(func.count()).select_from(OfferRedemption).where(OfferRedemption.offer_id == offer.id)
        )
        or 0
    )


def why_not_live(session: Session, offer: Offer, now: dt.datetime) -> str | None:
    """None when the offer can be taken now; else what stops it, in the reader's words."""
    if offer.ended_at is not None and offer.ended_at <= now:
        return "This offer has ended."
    if now < offer.starts_at:
        return f"This offer starts on {offer.starts_at:%d %B %Y}."
    if offer.ends_at is not None and now >= offer.ends_at:
        return "This offer has ended."
    if not offer.tier.active:
        return "This offer's plan is no longer offered."
    if offer.max_redemptions is not None and redemptions(session, offer) >= offer.max_redemptions:
        return "This offer has been fully taken."
    return None


def get_offer(session: Session, offer_id: int) -> Offer:
    offer = session.get(Offer, offer_id)
    if offer is None:
        raise NotFound(f"no offer {offer_id}", code="unknown_offer")
    return offer


def list_offers(session: Session) -> list[Offer]:
    """Every offer, newest first."""
    return list(session.scalars(select(Offer).order_by(Offer.id.desc())))


def offer_for_code(session: Session, code: str | None) -> Offer | None:
    """The offer a reader's code names (any case), live or not; None for no such code."""
    if not code:
        return None
    return session.scalars(select(Offer).where(Offer.code == code.strip().upper()[:40])).first()


def offer_token(offer: Offer) -> str:
    """The signed link's token: names the offer, cannot be made up."""
    return make_token(OFFER_PURPOSE, {"o": offer.id})


def offer_url(offer: Offer) -> str:
    """The offer's signed link, to put in an announcement (a pitch)."""
    return links.absolute(f"/pricing?offer={offer_token(offer)}")


def offer_for_token(session: Session, token: str | None) -> Offer | None:
    """The offer a signed link names; None when the link is not one of ours."""
    if not token:
        return None
    try:
        payload = read_token(OFFER_PURPOSE, token)
    except DomainError:
        return None
    offer_id = payload.get("o") if isinstance(payload, dict) else None
    if not isinstance(offer_id, int) or isinstance(offer_id, bool):
        return None
    return session.get(Offer, offer_id)


def offer_for_checkout(
    session: Session, offer_id: int | None, tier: Tier, interval: str, now: dt.datetime
) -> Offer | None:
    """The offer a Checkout applies, checked: its tier and interval, live now (Conflict if not)."""
    if offer_id is None:
        return None
    offer = get_offer(session, offer_id)
    if offer.tier_id != tier.id or offer.interval != interval:
        raise Conflict(
            f"This offer is for {offer.tier.name}, paid {offer.interval}ly.", code="offer_not_applicable"
        )
    reason = why_not_live(session, offer, now)
    if reason is not None:
        raise Conflict(reason, code="offer_not_live")
    if offer.kind != "trial" and not offer.stripe_promotion_code_id:
        raise Conflict("This offer is not at Stripe.", code="offer_not_live")
    return offer


@dataclass(frozen=True)
class OfferInForce:
    """What the pricing page shows: the offer a link or code names (or a featured one)."""

    offer: Offer | None
    problem: str | None = None  # why the named offer cannot be taken now
    label: str = ""


def offer_in_force(session: Session, code: str | None, token: str | None, now: dt.datetime) -> OfferInForce:
    """The offer the reader's link or code names when it is live; else the featured one."""
    named = offer_for_token(session, token) or offer_for_code(session, code)
    if named is not None:
        reason = why_not_live(session, named, now)
        if reason is None:
            return OfferInForce(named, label=describe(named))
        return OfferInForce(None, problem=reason)
    if code or token:
        return OfferInForce(None, problem="We know no such offer.")
    featured = featured_offers(session, now)
    return OfferInForce(featured[0], label=describe(featured[0])) if featured else OfferInForce(None)


def featured_offers(session: Session, now: dt.datetime) -> list[Offer]:
    """Live offers the operator shows on /pricing to everyone."""
    return [
        o
        for o in session.scalars(select(Offer).where(Offer.featured))
        if why_not_live(session, o, now) is None
    ]


def record_redemption(
    session: Session, offer_id: Any, checkout_session_id: str, subscriber_id: int | None, at: dt.datetime
) -> None:
    """Count a completed Checkout under its offer once (Checkout metadata names the offer)."""
    from billing.customers import int_or_none

    offer_ref = int_or_none(offer_id)
    if offer_ref is None or session.get(Offer, offer_ref) is None:
        return
    exists = select(OfferRedemption.id).where(
        OfferRedemption.stripe_checkout_session_id == checkout_session_id
    )
    if session.scalar(exists) is not None:
        return
    try:
        with session.begin_nested():
            session.add(
                OfferRedemption(
                    offer_id=offer_ref,
                    stripe_checkout_session_id=checkout_session_id,
                    subscriber_id=subscriber_id,
                    at=at,
                )
            )
    except IntegrityError:  # the same session, delivered twice at once
        pass


def describe(offer: Offer) -> str:
    """The offer in a reader's words, e.g. "20% off for 3 months" or "30 days free"."""
    if offer.kind == "trial":
        return f"{offer.trial_days} days free"
    if offer.percent_off is not None:
        off = f"{offer.percent_off}% off"
    else:
        off = f"{(offer.amount_off_cents or 0) / 100:.2f} {offer.tier.currency.upper()} off"
    if offer.duration == "forever":
        return f"{off}, for as long as you stay"
    if offer.duration == "repeating":
        return f"{off} for {offer.duration_in_months} months"
    return f"{off} the first {'year' if offer.interval == 'year' else 'month'}"
