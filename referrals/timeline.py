"""What referrals add to a subscriber's timeline: who brought them, whom they brought."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from growth.models import Subscriber
from growth.timeline import Entry
from referrals.models import Referral


def referral_entries(session: Session, subscriber: Subscriber) -> list[Entry]:
    """The referral that brought this reader (if any) and each referral they made."""
    other = aliased(Subscriber)
    entries = []
    came = session.execute(
        select(Referral, other.email)
        .join(other, other.id == Referral.referrer_id)
        .where(Referral.referred_id == subscriber.id)
    ).first()
    if came is not None:
        referral, email = came
        entries.append(Entry(referral.created_at, "referral", f"referred by {email} ({referral.status})"))
    made = session.execute(
        select(Referral, other.email)
        .join(other, other.id == Referral.referred_id)
        .where(Referral.referrer_id == subscriber.id)
        .order_by(Referral.created_at.desc())
        .limit(300)
    )
    for referral, email in made:
        reason = f", {referral.reason}" if referral.reason else ""
        entries.append(
            Entry(referral.created_at, "referral", f"referred {email} ({referral.status}{reason})")
        )
    return entries
