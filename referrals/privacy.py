"""The referrals domain's part of a reader's data: referrals made and received, rewards.

Other readers stay out of it: a referral made shows its standing and dates, never who was
referred. Erasure keeps every referral row (the referral report counts them) and drops what
was the reader's own: their signup IP's hash, their address key, their leaderboard opt-in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from growth.models import Subscriber
from referrals.models import (
    AddressKey,
    LadderAssignment,
    LadderVariant,
    Milestone,
    Referral,
    ReferralNode,
    ReferralVisit,
    RewardGrant,
)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _referral(r: Referral) -> dict[str, Any]:
    return {
        "status": r.status,
        "reason": r.reason,
        "created_at": _iso(r.created_at),
        "confirmed_at": _iso(r.confirmed_at),
        "counted_at": _iso(r.counted_at),
    }


def export_referrals(session: Session, subscriber: Subscriber) -> dict[str, Any]:
    """Their code, who-referred-them standing, the referrals they made, their reward ladder and rewards."""
    made = session.scalars(
        select(Referral).where(Referral.referrer_id == subscriber.id).order_by(Referral.id)
    )
    received = session.scalars(select(Referral).where(Referral.referred_id == subscriber.id)).first()
    grants = session.execute(
        select(RewardGrant, Milestone)
        .join(Milestone, Milestone.id == RewardGrant.milestone_id)
        .where(RewardGrant.subscriber_id == subscriber.id)
        .order_by(RewardGrant.id)
    ).all()
    ladder = session.execute(
        select(LadderVariant.name, LadderAssignment.assigned_at)
        .join(LadderVariant, LadderVariant.id == LadderAssignment.variant_id)
        .where(LadderAssignment.subscriber_id == subscriber.id)
    ).first()
    visits = session.scalar(
        select(func.count()).select_from(ReferralVisit).where(ReferralVisit.referrer_id == subscriber.id)
    )
    return {
        "referral_code": subscriber.referral_code,
        "referred_by": _referral(received) if received else None,
        "referrals_made": [_referral(r) for r in made],
        "link_visits": visits or 0,
        # the reward ladder variant they were given at signup (None: the default ladder)
        "reward_ladder": {"name": ladder[0], "assigned_at": _iso(ladder[1])} if ladder else None,
        "rewards": [
            {
                "reward": m.reward_name,
                "referrals_required": m.referrals_required,
                "status": g.status,
                "granted_at": _iso(g.granted_at),
                "fulfilled_at": _iso(g.fulfilled_at),
            }
            for g, m in grants
        ],
    }


def erase_referrals(session: Session, subscriber: Subscriber, now: dt.datetime) -> None:
    """Rows stay for the counts; the reader's own traces go."""
    session.execute(
        update(Referral)
        .where(Referral.referred_id == subscriber.id)
        .values(
            ip_hash=None,
            signup_net_hash=None,
            signup_agent_hash=None,
            address_pattern_hash=None,
            confirm_net_hash=None,
            confirm_agent_hash=None,
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(AddressKey).where(AddressKey.subscriber_id == subscriber.id))
    session.execute(
        update(ReferralNode)
        .where(ReferralNode.subscriber_id == subscriber.id)
        .values(leaderboard_opt_in=False)
        .execution_options(synchronize_session=False)
    )


def register() -> None:
    """Called from the domain's init_app."""
    from growth import privacy

    privacy.register_part("referrals", export=export_referrals, erase=erase_referrals)
