"""Possible rings of fake accounts, read from the signals kept on referrals (`referrals.rings`).

The admin page and the API list them with their evidence; with REFERRAL_RING_ACTION=hold a
referral confirmed into one is held until an operator decides (`service.on_confirmed`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from growth.config import Config
from growth.models import Subscriber
from referrals import rings
from referrals.models import Referral, ReferralStatus

# Rings are judged on recent confirmations: a referrer's older readers are settled.
LOOKBACK_DAYS = 30
MAX_LOOKBACK_DAYS = 3650


def _accounts(
    session: Session, since: dt.datetime, referrer_id: int | None = None
) -> tuple[list[rings.Account], dict[int, tuple[int, str, dt.datetime | None]]]:
    """Confirmed referrals since `since` as ring accounts, and per referred reader its
    (referral id, status, confirmation time)."""
    query = select(
        Referral.id,
        Referral.referrer_id,
        Referral.referred_id,
        Referral.status,
        Referral.confirmed_at,
        Referral.signup_net_hash,
        Referral.confirm_net_hash,
        Referral.signup_agent_hash,
        Referral.confirm_agent_hash,
        Referral.address_pattern_hash,
    ).where(Referral.confirmed_at.is_not(None), Referral.confirmed_at >= since)
    if referrer_id is not None:
        query = query.where(Referral.referrer_id == referrer_id)
    accounts, rows = [], {}
    for rid, referrer, referred, status, at, snet, cnet, sagent, cagent, pattern in session.execute(query):
        accounts.append(
            rings.Account(
                id=referred,
                referrer_id=referrer,
                confirmed_at=at.timestamp() if at else None,
                networks=tuple(v for v in (snet, cnet) if v),
                agents=tuple(v for v in (sagent, cagent) if v),
                address=pattern,
            )
        )
        rows[referred] = (rid, status, at)
    return accounts, rows


def in_ring(session: Session, referral: Referral, config: Config) -> bool:
    """Whether this confirmed referral completes or joins a ring under its referrer."""
    assert referral.confirmed_at is not None
    session.flush()
    since = referral.confirmed_at - dt.timedelta(days=LOOKBACK_DAYS)
    accounts, _rows = _accounts(session, since, referral.referrer_id)
    found = rings.find_rings(accounts, config.referral_ring_min, config.referral_ring_minutes)
    return any(referral.referred_id in ring.members for ring in found)


def possible_rings(
    session: Session, config: Config, now: dt.datetime, days: int = LOOKBACK_DAYS
) -> list[dict[str, Any]]:
    """Rings among referrals confirmed in the last `days`, largest first, with their evidence;
    rings whose every referral is already rejected are left out (nothing to decide)."""
    accounts, rows = _accounts(session, now - dt.timedelta(days=days))
    found = rings.find_rings(accounts, config.referral_ring_min, config.referral_ring_minutes)
    people = {
        sid: (email, name)
        for sid, email, name in session.execute(
            select(Subscriber.id, Subscriber.email, Subscriber.name).where(
                Subscriber.id.in_(
                    sorted({sid for ring in found for sid in [ring.referrer_id, *ring.members]})
                )
            )
        )
    }
    out = []
    for ring in found:
        members = []
        for sid in ring.members:
            rid, status, at = rows[sid]
            members.append(
                {
                    "subscriber_id": sid,
                    "email": people.get(sid, ("", None))[0],
                    "referral_id": rid,
                    "status": status,
                    "confirmed_at": at.isoformat() if at else None,
                }
            )
        if all(m["status"] == ReferralStatus.REJECTED for m in members):
            continue
        out.append(
            {
                "referrer_id": ring.referrer_id,
                "referrer_email": people.get(ring.referrer_id, ("", None))[0],
                "size": len(members),
                "held": sum(1 for m in members if m["status"] == ReferralStatus.HELD),
                "counted": sum(1 for m in members if m["status"] == ReferralStatus.COUNTED),
                "evidence": ring.evidence,
                "signals": ring.signals,
                "signal_labels": [rings.KIND_LABELS[k] for k in ring.signals],
                "members": members,
            }
        )
    return out
