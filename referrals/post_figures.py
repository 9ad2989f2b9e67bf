"""Referral figures per post, for content's post report (through growth.post_figures).

A post's share link is `/p/<slug>?ref=<code>`; its visits carry the post. A signup is credited
to a post when the referrer's last visit from the new reader's address before they signed up
came through that post's link (an /r/<code> visit in between takes the credit away).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from growth.db import ids_in
from referrals.models import Referral, ReferralStatus, ReferralVisit


def credit_signups(rows: Iterable[tuple[int, dt.datetime, int | None]]) -> dict[int, int]:
    """{post_id: signups} from (referral id, visit time, visit's post id or None) candidates.

    Each referral goes to the post of its latest visit; a latest visit without a post credits none.
    """
    latest: dict[int, tuple[dt.datetime, int | None]] = {}
    for referral_id, at, post_id in rows:
        if referral_id not in latest or at >= latest[referral_id][0]:
            latest[referral_id] = (at, post_id)
    credited: dict[int, int] = {}
    for _, post_id in latest.values():
        if post_id is not None:
            credited[post_id] = credited.get(post_id, 0) + 1
    return credited


def referral_post_figures(session: Session, post_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """{post_id: {referral_visits, referral_signups}}: counted visits, and signups not rejected."""
    visits = dict(
        session.execute(
            select(ReferralVisit.post_id, func.count())
            .where(ids_in(ReferralVisit.post_id, list(post_ids)), ReferralVisit.counted.is_(True))
            .group_by(ReferralVisit.post_id)
        ).all()
    )
    # Referrers whose post links were visited, and every visit of theirs that could have led to a
    # signup from the same address (other visits included: the latest one takes the credit).
    referrers = select(ReferralVisit.referrer_id).where(ids_in(ReferralVisit.post_id, list(post_ids)))
    candidates = session.execute(
        select(Referral.id, ReferralVisit.at, ReferralVisit.post_id)
        .join(
            ReferralVisit,
            (ReferralVisit.referrer_id == Referral.referrer_id)
            & (ReferralVisit.ip_hash == Referral.ip_hash)
            & (ReferralVisit.at <= Referral.created_at),
        )
        .where(
            Referral.referrer_id.in_(referrers),
            Referral.status != ReferralStatus.REJECTED,
            ReferralVisit.is_bot.is_(False),
        )
    ).all()
    signups = credit_signups((r[0], r[1], r[2]) for r in candidates)
    return {
        post_id: {"referral_visits": int(visits.get(post_id, 0)), "referral_signups": signups.get(post_id, 0)}
        for post_id in post_ids
    }
