"""Sunset: one re-engagement email to the long silent, then `inactive` if they stay silent.

A subscriber `disengaged` (never `unknown`) for SUNSET_DAYS, who was sent list mail in that
time, gets one email with a one-click "keep me" link. Still silent SUNSET_GRACE_DAYS later,
their status becomes `inactive`: kept, not deleted, sent nothing. A reader's click or open
(tracked by SendGrid; never a scanner's click or a machine open) or a visit through a signed
link brings them back to `active`, when it happened after they became inactive.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from growth import emails, engagement, links, stages
from growth.errors import NotFound
from growth.models import (
    Delivery,
    DeliveryKind,
    DeliveryState,
    Status,
    Subscriber,
    SunsetNotice,
)
from growth.tokens import make_token

log = logging.getLogger(__name__)


class Action(enum.StrEnum):
    """What the sunset run does to one subscriber."""

    NOTIFY = "notify"
    INACTIVATE = "inactivate"


@dataclass(frozen=True)
class NoticeState:
    """The notice of the subscriber's current silent spell, if one went out."""

    sent_at: dt.datetime
    kept_at: dt.datetime | None = None
    inactivated_at: dt.datetime | None = None


def sunset_action(
    engagement_class: stages.Engagement,
    disengaged_since: dt.datetime | None,
    notice: NoticeState | None,
    last_human: dt.datetime | None,
    now: dt.datetime,
    sunset_days: int,
    grace_days: int,
) -> Action | None:
    """Pure: notify when disengaged for `sunset_days`; inactivate `grace_days` after a notice
    that nothing answered (no keep, no engagement since, still disengaged)."""
    if engagement_class != stages.Engagement.DISENGAGED or disengaged_since is None:
        return None
    if notice is None:
        return Action.NOTIFY if now - disengaged_since >= dt.timedelta(days=sunset_days) else None
    if notice.kept_at is not None or notice.inactivated_at is not None:
        return None
    if last_human is not None and last_human > notice.sent_at:
        return None
    return Action.INACTIVATE if now - notice.sent_at >= dt.timedelta(days=grace_days) else None


def keep_url(subscriber: Subscriber, notice: SunsetNotice) -> str:
    """The one-click "keep me" link of a notice."""
    return links.absolute(f"/keep/{make_token('keep', {'s': subscriber.id, 'k': notice.id})}")


def _sent_list_mail_since(session: Session, subscriber_id: int, since: dt.datetime) -> bool:
    """Silence only counts if we wrote to them: a publication on a break sunsets nobody."""
    return (
        session.scalar(
            select(Delivery.id)
            .where(
                Delivery.subscriber_id == subscriber_id,
                Delivery.kind.in_([DeliveryKind.VALUE, DeliveryKind.PITCH]),
                Delivery.state == DeliveryState.SENT,
                Delivery.sent_at >= since,
            )
            .limit(1)
        )
        is not None
    )


def run_sunset(session: Session, now: dt.datetime, config: Any) -> dict[str, int]:
    """Send due re-engagement emails and set the unanswered inactive; returns the counts."""
    from growth.subscribers import is_paused, set_status

    done = {"notified": 0, "inactivated": 0}
    query = select(Subscriber).where(Subscriber.status == Status.ACTIVE)
    for chunk in engagement.chunks_of(session, query):
        latest = _latest_notices(session, [s.id for s in chunk])
        for snap in engagement.snapshots(session, chunk, now, config.engaged_window_days):
            subscriber = snap.subscriber
            if is_paused(subscriber, now):
                continue
            notice = latest.get(subscriber.id)
            if notice is not None and notice.disengaged_since != snap.disengaged_since:
                notice = None  # a notice of an earlier spell, answered by engaging since
            state = NoticeState(notice.sent_at, notice.kept_at, notice.inactivated_at) if notice else None
            action = sunset_action(
                snap.engagement,
                snap.disengaged_since,
                state,
                snap.last_human,
                now,
                config.sunset_days,
                config.sunset_grace_days,
            )
            if action == Action.NOTIFY and snap.disengaged_since is not None:
                quiet = snap.disengaged_since - dt.timedelta(days=config.engaged_window_days)
                if _sent_list_mail_since(session, subscriber.id, quiet) and _notify(
                    session, subscriber, snap.disengaged_since, now
                ):
                    done["notified"] += 1
            elif action == Action.INACTIVATE and notice is not None:
                set_status(session, subscriber, Status.INACTIVE, now, reason="sunset")
                notice.inactivated_at = now
                done["inactivated"] += 1
        session.flush()
    return done


def _latest_notices(session: Session, ids: list[int]) -> dict[int, SunsetNotice]:
    latest: dict[int, SunsetNotice] = {}
    rows = session.scalars(
        select(SunsetNotice).where(SunsetNotice.subscriber_id.in_(ids)).order_by(SunsetNotice.sent_at)
    )
    for notice in rows:
        latest[notice.subscriber_id] = notice
    return latest


def _notify(session: Session, subscriber: Subscriber, spell: dt.datetime, now: dt.datetime) -> bool:
    """Record the notice (unique per spell: a concurrent run loses here) and queue the email."""
    notice = SunsetNotice(subscriber_id=subscriber.id, disengaged_since=spell, sent_at=now)
    try:
        with session.begin_nested():
            session.add(notice)
            session.flush()
    except IntegrityError:
        return False
    delivery = emails.queue_email(
        session,
        subscriber,
        "reengage",
        kind=DeliveryKind.TRANSACTIONAL,
        keep_url=keep_url(subscriber, notice),
    )
    notice.delivery_id = delivery.id
    log.info("sunset: re-engagement email to subscriber %s", subscriber.id)
    return True


@dataclass(frozen=True)
class KeepResult:
    """What a "keep me" click did."""

    subscriber: Subscriber
    kept: bool
    needs_confirmation: bool = False


def keep(
    session: Session, payload: Any, now: dt.datetime, *, confirmed: bool, scanner_seconds: int
) -> KeepResult:
    """The "keep me" link: engagement that ends the silent spell, and a way back from inactive.

    A GET within `scanner_seconds` of sending is likely a security scanner following links:
    it gets a button to press instead (`confirmed` is the POST of that button).
    """
    from growth.subscribers import subscriber_for_token

    subscriber = subscriber_for_token(session, payload)
    notice = session.get(SunsetNotice, payload.get("k")) if isinstance(payload, dict) else None
    if notice is None or notice.subscriber_id != subscriber.id:
        raise NotFound("This link no longer leads anywhere.", code="unknown_notice")
    if subscriber.status not in {Status.ACTIVE, Status.INACTIVE}:
        return KeepResult(subscriber, kept=False)
    delivery = session.get(Delivery, notice.delivery_id) if notice.delivery_id else None
    sent_at = (delivery.sent_at if delivery else None) or notice.sent_at
    if not confirmed and now - sent_at <= dt.timedelta(seconds=scanner_seconds):
        return KeepResult(subscriber, kept=False, needs_confirmation=True)
    if notice.kept_at is None:
        notice.kept_at = now
    engagement.record_web_visit(session, subscriber.id, "keep_me", now, delivery_id=notice.delivery_id)
    return KeepResult(subscriber, kept=True)
