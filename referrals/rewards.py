"""Milestones readers had passed before they were added, lowered or switched on, and the hub's
view of a reader's rewards.

The operator is told how many readers are past a milestone without it and chooses: grant it to
them now (a background job in batches, once each with the email) or leave it to new passers.
A reward shows as earned only once its grant exists.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from growth import jobs
from growth.db import commit, db, ids_in, utcnow
from growth.errors import Conflict
from growth.models import Status, Subscriber
from referrals import service, webhook_events
from referrals.models import GrantStatus, LadderAssignment, Milestone, ReferralNode, RewardGrant
from referrals.service import announce_reward

GRANT_BATCH = 500  # grants (and emails) per transaction of a backfill


def _past_without_grant(milestone_id: int, required: int, variant_id: int | None) -> Any:
    """Readers (not erased) on the milestone's ladder with at least `required` counted referrals
    and no grant of it. The default ladder is the readers without a variant."""
    on_variant = select(LadderAssignment.id).where(
        LadderAssignment.subscriber_id == ReferralNode.subscriber_id
    )
    if variant_id is None:
        on_ladder = ~on_variant.exists()
    else:
        on_ladder = on_variant.where(LadderAssignment.variant_id == variant_id).exists()
    return (
        select(ReferralNode.subscriber_id)
        .join(Subscriber, Subscriber.id == ReferralNode.subscriber_id)
        .where(
            ReferralNode.direct_count >= required,
            Subscriber.status != Status.ERASED,
            on_ladder,
            ~select(RewardGrant.id)
            .where(
                RewardGrant.subscriber_id == ReferralNode.subscriber_id,
                RewardGrant.milestone_id == milestone_id,
            )
            .exists(),
        )
    )


def readers_past(session: Session, milestone: Milestone) -> int:
    """How many readers are at or past the milestone without having been granted it."""
    past = _past_without_grant(milestone.id, milestone.referrals_required, milestone.variant_id).subquery()
    return int(session.scalar(select(func.count()).select_from(past)) or 0)


def readers_past_counts(session: Session) -> dict[int, int]:
    """readers_past of every milestone, by milestone id."""
    return {m.id: readers_past(session, m) for m in session.scalars(select(Milestone))}


def offer_to_readers_past(session: Session, milestone: Milestone, grant: bool) -> int:
    """How many readers are already past the milestone; with `grant`, queue granting it to them
    (a background job, in batches, once each with the email). Without it only new passers get it."""
    if grant and not milestone.active:
        raise Conflict("Switch the milestone on before granting it.", code="inactive_milestone")
    count = readers_past(session, milestone)
    if grant and count:
        jobs.enqueue("referrals.grant_existing", milestone.id, GRANT_BATCH)
    return count


def save_and_offer(
    session: Session, data: dict[str, Any], milestone_id: int | None = None
) -> tuple[Milestone, int]:
    """Create or change a milestone and tell how many readers are already past it; with
    data["grant_existing"], grant it to them too. A refusal leaves the milestone unchanged."""
    with session.begin_nested():
        milestone = service.save_milestone(session, data, milestone_id)
        return milestone, offer_to_readers_past(session, milestone, bool(data.get("grant_existing")))


def grant_to_readers_past(
    session: Session, milestone_id: int, now: dt.datetime, limit: int = GRANT_BATCH
) -> tuple[int, int]:
    """Grant the milestone to up to `limit` readers past it: (readers considered, granted).

    INSERT .. ON CONFLICT DO NOTHING on (reader, milestone): a reader another backfill or their
    own referral granted meanwhile is skipped, and only rows inserted here get the email.
    """
    milestone = session.get(Milestone, milestone_id)
    if milestone is None or not milestone.active:
        return 0, 0
    ids = list(
        session.scalars(
            _past_without_grant(milestone.id, milestone.referrals_required, milestone.variant_id)
            .order_by(ReferralNode.subscriber_id)
            .limit(limit)
        )
    )
    if not ids:
        return 0, 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = [
        {"subscriber_id": sid, "milestone_id": milestone.id, "status": GrantStatus.GRANTED, "granted_at": now}
        for sid in ids
    ]
    inserted = list(
        session.scalars(
            insert(RewardGrant)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["subscriber_id", "milestone_id"])
            .returning(RewardGrant.subscriber_id)
        )
    )
    if inserted:
        readers = session.execute(
            select(Subscriber, ReferralNode.direct_count)
            .join(ReferralNode, ReferralNode.subscriber_id == Subscriber.id)
            .where(ids_in(Subscriber.id, inserted))
            .order_by(Subscriber.id)
        )
        for reader, counted in readers:
            webhook_events.reward_granted(session, reader, milestone, counted, now)
            announce_reward(session, reader, milestone, counted)
    session.flush()
    return len(ids), len(inserted)


@jobs.task("referrals.grant_existing")
def run_grant_existing(milestone_id: int, batch: int = GRANT_BATCH) -> int:
    """Grant a milestone to every reader already past it, one commit per batch; returns grants."""
    session = db.session
    total = 0
    while True:
        considered, granted = grant_to_readers_past(session, milestone_id, utcnow(), batch)
        commit()  # each batch's grants and emails stand on their own
        session.expunge_all()  # keep memory flat over a long list
        total += granted
        if not considered:
            return total


def reward_states(session: Session, subscriber: Subscriber) -> dict[int, str]:
    """The reader's grants by milestone id: granted, fulfilled or flagged. No grant, no reward."""
    rows = session.execute(
        select(RewardGrant.milestone_id, RewardGrant.status).where(RewardGrant.subscriber_id == subscriber.id)
    )
    return {milestone_id: status for milestone_id, status in rows}
