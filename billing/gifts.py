"""Gifts: a reader pays once, at Checkout, for a period of a tier for someone else's address.

The Checkout Session's metadata carries the tier, the months and the recipient, so the
completed session alone makes the gift (once per session): no webhook asks Stripe anything.
The recipient gets a signed redeem link; redeeming confirms their address and grants the tier
for the period (billing.grants). A week before the period ends they are invited to subscribe.
A gift is a one-time payment: never an invoice of the ledger, never MRR; the revenue report
shows gift revenue apart. Functions take the session first, may flush, and never commit.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.gateway import StripeGateway
from billing.models import Gift, Grant, Tier
from billing.service import get_tier, is_synced, paying_subscription
from growth import emails, links
from growth.db import lock_row
from growth.errors import Conflict, DomainError, NotFound, ValidationFailed
from growth.models import SUPPRESSED_STATUSES, DeliveryKind, Status, Subscriber
from growth.subscribers import confirm, invitee, normalize_email
from growth.tokens import make_token, read_token

log = logging.getLogger(__name__)

GIFT_METADATA = "masthead_gift"
GIFT_MONTHS = (1, 3, 6, 12)
GIFT_PURPOSE = "gift"
INVITE_DAYS_BEFORE_END = 7
REDEEM_FORM = "gift_redeem"


def add_months(at: dt.datetime, months: int) -> dt.datetime:
    """The same day `months` later (the month's last day when it is shorter)."""
    month = at.month - 1 + months
    year, month = at.year + month // 12, month % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))


def gift_price(tier: Tier, months: int) -> int:
    """What a gift costs: a year at the yearly price, shorter periods at the monthly one."""
    return tier.yearly_price_cents if months == 12 else tier.monthly_price_cents * months


def start_gift_checkout(
    session: Session,
    gateway: StripeGateway,
    tier_id: int,
    months: int,
    recipient_email: str,
    *,
    success_url: str,
    cancel_url: str,
) -> str:
    """A payment-mode Checkout Session for a gift; the buyer gives their own email there."""
    if months not in GIFT_MONTHS:
        raise ValidationFailed("months must be 1, 3, 6 or 12", code="invalid_months")
    recipient, _ = normalize_email(recipient_email)
    tier = get_tier(session, tier_id)
    if not tier.active:
        raise Conflict("This tier is no longer offered.", code="tier_inactive")
    if tier.stripe_product_id is None or not is_synced(tier):
        raise Conflict("This tier is not synced with Stripe yet (run sync-tiers).", code="tier_not_synced")
    metadata = {
        GIFT_METADATA: "1",
        "tier_id": str(tier.id),
        "months": str(months),
        "recipient_email": recipient,
    }
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": tier.currency,
                    "unit_amount": gift_price(tier, months),
                    "product": tier.stripe_product_id,
                },
                "quantity": 1,
            }
        ],
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    checkout = gateway.create_checkout_session(params)
    log.info("gift checkout %s: tier %s for %s months", checkout.id, tier.id, months)
    return str(checkout.url)


def is_gift_session(obj: dict[str, Any]) -> bool:
    """Whether a Checkout Session is a gift's (its metadata says so)."""
    return obj.get("mode") == "payment" and bool((obj.get("metadata") or {}).get(GIFT_METADATA))


def apply_gift_paid(
    session: Session, session_id: str, obj: dict[str, Any], at: dt.datetime
) -> Subscriber | None:
    """A paid gift session: the gift, once per session, and the recipient's redeem email."""
    from billing.customers import int_or_none

    if obj.get("payment_status") != "paid":
        return None  # a delayed payment method: checkout.session.async_payment_succeeded follows
    metadata = obj.get("metadata") or {}
    months = int_or_none(metadata.get("months"))
    if months not in GIFT_MONTHS:
        raise ValidationFailed("the gift's months are not one we sell", code="malformed_event")
    existing = session.scalars(select(Gift).where(Gift.stripe_checkout_session_id == session_id)).first()
    if existing is not None:
        return session.get(Subscriber, existing.recipient_id) if existing.recipient_id else None
    recipient = invitee(session, str(metadata.get("recipient_email") or ""), at, source="gift")
    tier_id = int_or_none(metadata.get("tier_id"))
    gift = Gift(
        stripe_checkout_session_id=session_id,
        tier_id=tier_id if tier_id is not None and session.get(Tier, tier_id) is not None else None,
        months=months,
        amount_cents=int(obj.get("amount_total") or 0),
        currency=str(obj.get("currency") or "usd").lower(),
        recipient_id=recipient.id if recipient is not None else None,
        giver_email=(obj.get("customer_details") or {}).get("email"),
        paid_at=at,
    )
    try:
        with session.begin_nested():
            session.add(gift)
    except IntegrityError:  # the same session, delivered twice at once
        return None
    if recipient is None or recipient.status == Status.ERASED:
        log.warning("gift %s: its recipient address cannot be mailed", gift.id)
        return None
    if recipient.status in SUPPRESSED_STATUSES:
        log.warning("gift %s: recipient %s is suppressed, no email", gift.id, recipient.id)
        return recipient
    tier = session.get(Tier, gift.tier_id) if gift.tier_id else None
    emails.queue_email(
        session,
        recipient,
        "gift",
        kind=DeliveryKind.TRANSACTIONAL,
        list_mail=False,
        redeem_url=links.absolute(f"/gift/{redeem_token(gift)}"),
        tier_name=tier.name if tier else "a paid plan",
        months=gift.months,
        giver_email=gift.giver_email,
    )
    return recipient


def redeem_token(gift: Gift) -> str:
    return make_token(GIFT_PURPOSE, {"g": gift.id})


def gift_for_token(session: Session, token: str) -> Gift:
    """The gift a redeem link names; NotFound otherwise."""
    try:
        payload = read_token(GIFT_PURPOSE, token)
    except DomainError as exc:
        raise NotFound("This gift link is not valid.", code="unknown_gift") from exc
    gift_id = payload.get("g") if isinstance(payload, dict) else None
    gift = session.get(Gift, gift_id) if isinstance(gift_id, int) and not isinstance(gift_id, bool) else None
    if gift is None:
        raise NotFound("This gift link is not valid.", code="unknown_gift")
    return gift


def redeem_gift(session: Session, gift_id: int, now: dt.datetime) -> tuple[Gift, bool]:
    """Grant the gift's tier to its recipient from now for its months; (gift, False) if done.

    The link was mailed to the recipient, so following it confirms a pending address.
    """
    gift = lock_row(session, Gift, gift_id)
    if gift is None:
        raise NotFound("This gift link is not valid.", code="unknown_gift")
    if gift.redeemed_at is not None:
        return gift, False
    recipient = session.get(Subscriber, gift.recipient_id) if gift.recipient_id else None
    if recipient is None or recipient.status == Status.ERASED:
        raise NotFound("This gift's recipient is no longer with us.", code="unknown_subscriber")
    if gift.tier_id is None:
        raise Conflict("This gift's plan no longer exists.", code="tier_gone")
    if recipient.status == Status.PENDING:
        confirm(session, recipient, now, form=REDEEM_FORM)
    grant = Grant(
        subscriber_id=recipient.id,
        tier_id=gift.tier_id,
        kind="gift",
        starts_at=now,
        ends_at=add_months(now, gift.months),
        created_at=now,
    )
    session.add(grant)
    session.flush()
    gift.grant_id = grant.id
    gift.redeemed_at = now
    session.flush()
    return gift, True


def invite_near_end(session: Session, now: dt.datetime) -> int:
    """Invite recipients whose gift ends within a week to subscribe, once each (the tick)."""
    due = session.execute(
        select(Gift.id, Gift.recipient_id, Grant.ends_at)
        .join(Grant, Grant.id == Gift.grant_id)
        .where(
            Gift.invited_at.is_(None),
            Grant.revoked_at.is_(None),
            Grant.ends_at > now,
            Grant.ends_at <= now + dt.timedelta(days=INVITE_DAYS_BEFORE_END),
        )
    ).all()
    sent = 0
    for gift_id, recipient_id, ends_at in due:
        claimed = session.execute(  # claim before the side effect: one invitation per gift
            update(Gift)
            .where(Gift.id == gift_id, Gift.invited_at.is_(None))
            .values(invited_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue
        recipient = session.get(Subscriber, recipient_id) if recipient_id else None
        if recipient is None or recipient.status != Status.ACTIVE:
            continue
        if paying_subscription(session, recipient) is not None:
            continue  # they subscribed already
        emails.queue_email(
            session,
            recipient,
            "gift_ending",
            kind=DeliveryKind.PITCH,
            gift_ends_at=ends_at,
            pricing_url=links.absolute(f"/me/{links.manage_token(recipient)}/upgrade"),
        )
        sent += 1
    session.flush()
    return sent


def gift_revenue(session: Session, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Gifts paid in [start, end): how many and their revenue by currency (never MRR)."""
    rows = session.execute(
        select(Gift.currency, func.count(), func.sum(Gift.amount_cents))
        .where(Gift.paid_at >= start, Gift.paid_at < end)
        .group_by(Gift.currency)
    ).all()
    return {
        "count": sum(int(n) for _, n, _ in rows),
        "revenue_cents": {currency: int(cents or 0) for currency, _, cents in rows},
    }


def invitations_work(session: Session, now: dt.datetime) -> str:
    """The tick's task: invite the recipients whose gift ends within a week; commits."""
    from growth.db import commit

    sent = invite_near_end(session, now)
    commit()
    return f"{sent} invited"
