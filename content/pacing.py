"""The send-rate cap of a newsletter: what it is, how much room it leaves now, when a send ends.

Post emails of a capped newsletter are planned into batches only as the cap allows (content.
sending); a send waiting for room stays `sending` and the tick plans its next batch as soon as
there is room. Transactional and sequence emails are not paced: they are one reader at a time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from content import metrics, segments
from content.models import BatchState, Send, SendBatch, SendRate, SendState
from growth.errors import ValidationFailed
from growth.models import Membership

MAX_PER_HOUR = 10_000_000


def rate_of(session: Session, newsletter_id: int) -> int | None:
    """The newsletter's cap in messages per hour, None when it has none."""
    row = session.get(SendRate, newsletter_id)
    return row.per_hour if row is not None else None


def set_rate(session: Session, newsletter_id: int, per_hour: int | None, now: dt.datetime) -> None:
    """Cap a newsletter's post emails at `per_hour` (None: no cap); flushes."""
    row = session.get(SendRate, newsletter_id)
    if per_hour is None:
        if row is not None:
            session.delete(row)
        session.flush()
        return
    if not 1 <= per_hour <= MAX_PER_HOUR:
        raise ValidationFailed(f"a send rate is 1 to {MAX_PER_HOUR:,} messages per hour", code="invalid_rate")
    if row is None:
        session.add(SendRate(newsletter_id=newsletter_id, per_hour=per_hour, updated_at=now))
    else:
        row.per_hour, row.updated_at = per_hour, now
    session.flush()


def recent_batches(session: Session, newsletter_id: int, now: dt.datetime) -> list[tuple[dt.datetime, int]]:
    """(planned at, size) of the newsletter's batches in the last hour, every send of it included."""
    rows = session.execute(
        select(SendBatch.created_at, SendBatch.size)
        .join(Send, Send.id == SendBatch.send_id)
        .where(Send.newsletter_id == newsletter_id, SendBatch.created_at > now - metrics.PACE_WINDOW)
    ).all()
    return [(at, size) for at, size in rows]


def room_now(session: Session, newsletter_id: int, now: dt.datetime) -> int | None:
    """How many messages the newsletter may plan now; None when it has no cap."""
    per_hour = rate_of(session, newsletter_id)
    if per_hour is None:
        return None
    return metrics.pace_room(per_hour, recent_batches(session, newsletter_id, now), now)


def waiting_for_room(session: Session, send: Send, now: dt.datetime) -> bool:
    """A capped send with readers left to plan, nothing in its queue, and room now: plan again."""
    if send.state != SendState.SENDING or send.resolved:
        return False
    room = room_now(session, send.newsletter_id, now)
    if not room:
        return False
    open_batches = session.scalar(
        select(func.count()).where(
            SendBatch.send_id == send.id, SendBatch.state.in_([BatchState.QUEUED, BatchState.IN_FLIGHT])
        )
    )
    return not open_batches


@dataclass(frozen=True)
class Pace:
    """A capped send's outlook for the send page."""

    per_hour: int
    remaining: int  # readers not yet planned (an upper bound: pitch rules may skip some)
    finish_at: dt.datetime | None  # None: more than metrics.PACE_HORIZON away


def outlook(session: Session, send: Send, now: dt.datetime) -> Pace | None:
    """The cap and expected finish of a scheduled or sending send; None without a cap."""
    per_hour = rate_of(session, send.newsletter_id)
    if per_hour is None or send.state not in (SendState.SCHEDULED, SendState.SENDING):
        return None
    remaining = 0
    if not send.resolved:
        segment = segments.parse_segment(send.segment)
        members = segments.base_query(send.newsletter_id, segment, now).where(
            Membership.subscriber_id > send.resolved_through
        )
        remaining = session.scalar(select(func.count()).select_from(members.subquery())) or 0
    start = max(now, send.scheduled_at)
    recent = recent_batches(session, send.newsletter_id, now)
    return Pace(per_hour, remaining, metrics.paced_finish(per_hour, recent, remaining, start))
