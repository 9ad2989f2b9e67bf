"""Engagement read from email events: what counts as a reader, per subscriber.

A human engagement is a click that is not a security scanner's, an open that is not a machine
open, or a web visit through the subscriber's signed links. The rules themselves are pure
functions in growth.stages; this module loads their facts and writes their verdicts.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from growth import rollups, stages
from growth.db import ids_in
from growth.jobs import task
from growth.models import (
    Delivery,
    DeliveryKind,
    EmailEvent,
    EmailEventType,
    Status,
    Subscriber,
)

log = logging.getLogger(__name__)

HUMAN_ENGAGEMENT = or_(
    and_(EmailEvent.type == EmailEventType.CLICK, EmailEvent.is_scanner.is_(False)),
    and_(EmailEvent.type == EmailEventType.OPEN, EmailEvent.is_machine.is_(False)),
    EmailEvent.type == EmailEventType.WEB_VISIT,
)
MACHINE_OPEN = and_(EmailEvent.type == EmailEventType.OPEN, EmailEvent.is_machine.is_(True))
ENGAGEMENT_TYPES = (EmailEventType.CLICK, EmailEventType.OPEN, EmailEventType.WEB_VISIT)
CHUNK = 1000


def engaged_value_counts(session: Session, subscriber_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Per subscriber: how many value emails they engaged with (received is not read)."""
    query = (
        select(Delivery.subscriber_id, func.count(func.distinct(Delivery.id)))
        .join(EmailEvent, EmailEvent.delivery_id == Delivery.id)
        .where(Delivery.kind == DeliveryKind.VALUE, HUMAN_ENGAGEMENT)
        .group_by(Delivery.subscriber_id)
    )
    if subscriber_ids is not None:
        ids = list(subscriber_ids)
        if not ids:
            return {}
        query = query.where(ids_in(Delivery.subscriber_id, ids))
    return {sid: n for sid, n in session.execute(query)}


def record_web_visit(
    session: Session, subscriber_id: int, url: str, now: dt.datetime, delivery_id: int | None = None
) -> EmailEvent:
    """A visit through one of the subscriber's signed links: human engagement (and a way back)."""
    event = EmailEvent(
        event_id=f"web-{uuid.uuid4().hex}",
        type=EmailEventType.WEB_VISIT,
        subscriber_id=subscriber_id,
        delivery_id=delivery_id,
        at=now,
        url=url[:2000],
    )
    session.add(event)
    session.flush()
    rollups.mark_dirty(session, [subscriber_id])
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is not None:
        bring_back(session, subscriber, now, reason="web_visit")
    return event


def bring_back(
    session: Session, subscriber: Subscriber, now: dt.datetime, reason: str, at: dt.datetime | None = None
) -> bool:
    """A sunset (inactive) subscriber who reads again (at `at`, default now) is active again.

    Only engagement after they became inactive counts: a late-delivered event from before the
    sunset never undoes it.
    """
    from growth.subscribers import set_status

    if subscriber.status != Status.INACTIVE:
        return False
    changed = subscriber.status_changed_at
    if at is not None and changed is not None and at < changed:
        log.info("subscriber %s: %s of %s predates their status change, ignored", subscriber.id, reason, at)
        return False
    log.info("subscriber %s is back (%s)", subscriber.id, reason)
    return set_status(session, subscriber, Status.ACTIVE, now, reason=reason)


def facts_for(session: Session, subscriber_id: int, since: dt.datetime | None = None) -> list[stages.Fact]:
    """The subscriber's engagement-type events as pure facts."""
    query = select(EmailEvent.type, EmailEvent.at, EmailEvent.is_machine, EmailEvent.is_scanner).where(
        EmailEvent.subscriber_id == subscriber_id, EmailEvent.type.in_(ENGAGEMENT_TYPES)
    )
    if since is not None:
        query = query.where(EmailEvent.at >= since)
    return [stages.Fact(t, at, bool(m), bool(s)) for t, at, m, s in session.execute(query)]


@dataclass(frozen=True)
class SubscriberEngagement:
    """The summary the operator API shows."""

    subscriber: Subscriber
    summary: stages.Summary
    engaged_value_emails: int

    def as_json(self) -> dict[str, Any]:
        s = self.summary

        def iso(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "subscriber_id": self.subscriber.id,
            "status": self.subscriber.status,
            "stage": self.subscriber.stage,
            "stage_changed_at": iso(self.subscriber.stage_changed_at),
            "engagement": str(s.engagement),
            "last_engagement_at": iso(s.last_engagement_at),
            "last_machine_open_at": iso(s.last_machine_open_at),
            "disengaged_since": iso(s.disengaged_since),
            "engagements_30d": s.engagements_30d,
            "engagements_90d": s.engagements_90d,
            "opens_30d": s.opens_30d,
            "clicks_30d": s.clicks_30d,
            "web_visits_30d": s.web_visits_30d,
            "machine_opens_90d": s.machine_opens_90d,
            "scanner_clicks_90d": s.scanner_clicks_90d,
            "engaged_value_emails": self.engaged_value_emails,
            "score": s.score,
        }


def subscriber_engagement(
    session: Session, subscriber: Subscriber, now: dt.datetime, window_days: int
) -> SubscriberEngagement:
    """One subscriber's engagement summary at `now`."""
    summary = stages.summarize(facts_for(session, subscriber.id), now, joined_at(subscriber), window_days)
    value = engaged_value_counts(session, [subscriber.id]).get(subscriber.id, 0)
    return SubscriberEngagement(subscriber, summary, value)


def joined_at(subscriber: Subscriber) -> dt.datetime | None:
    """When the silence clock may start: confirmation (signup for imported rows)."""
    return subscriber.confirmed_at or subscriber.created_at


@dataclass(frozen=True)
class Snapshot:
    """What the stage and sunset rules need about one subscriber."""

    subscriber: Subscriber
    engagement: stages.Engagement
    last_human: dt.datetime | None
    disengaged_since: dt.datetime | None
    engaged_value_emails: int


def snapshots(
    session: Session, subscribers: list[Subscriber], now: dt.datetime, window_days: int
) -> list[Snapshot]:
    """Classify a chunk of subscribers with two grouped queries."""
    ids = [s.id for s in subscribers]
    if not ids:
        return []
    rows = session.execute(
        select(
            EmailEvent.subscriber_id,
            func.max(case((HUMAN_ENGAGEMENT, EmailEvent.at))),
            func.max(case((MACHINE_OPEN, EmailEvent.at))),
        )
        .where(
            ids_in(EmailEvent.subscriber_id, ids),
            EmailEvent.type.in_(ENGAGEMENT_TYPES),
            EmailEvent.at <= now,
        )
        .group_by(EmailEvent.subscriber_id)
    )
    last = {sid: (_aware(h), _aware(m)) for sid, h, m in rows}
    value = engaged_value_counts(session, ids)
    out = []
    for subscriber in subscribers:
        last_human, last_machine = last.get(subscriber.id, (None, None))
        engagement = stages.classify(last_human, last_machine, now, window_days)
        out.append(
            Snapshot(
                subscriber=subscriber,
                engagement=engagement,
                last_human=last_human,
                disengaged_since=stages.disengaged_since(
                    engagement, last_human, joined_at(subscriber), window_days
                ),
                engaged_value_emails=value.get(subscriber.id, 0),
            )
        )
    return out


def _aware(value: Any) -> dt.datetime | None:
    """Aggregates over CASE lose the column type on some drivers: parse and make UTC again."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def chunks_of(session: Session, query: Any) -> Iterator[list[Subscriber]]:
    """Subscribers of a query in id order, CHUNK at a time (keyset pagination)."""
    after = 0
    while True:
        chunk = list(session.scalars(query.where(Subscriber.id > after).order_by(Subscriber.id).limit(CHUNK)))
        if not chunk:
            return
        yield chunk
        after = chunk[-1].id


def recompute_stages(
    session: Session,
    now: dt.datetime,
    policy: stages.Policy,
    subscriber_ids: Iterable[int] | None = None,
) -> dict[str, int]:
    """Move confirmed subscribers (all, or these) to the stage the rules give.

    Returns transitions per target stage. Billing's stages (paying, churned) and unconfirmed
    signups are never touched.
    """
    from growth.subscribers import set_stage

    moved: dict[str, int] = {}
    query = select(Subscriber).where(
        Subscriber.status != Status.ERASED,
        Subscriber.stage.not_in([str(s) for s in stages.FOREIGN_STAGES]),
    )
    if subscriber_ids is not None:
        query = query.where(ids_in(Subscriber.id, subscriber_ids))
    for chunk in chunks_of(session, query):
        for snap in snapshots(session, chunk, now, policy.engaged_window_days):
            target = stages.next_stage(
                snap.subscriber.stage,
                snap.engagement,
                snap.engaged_value_emails,
                snap.disengaged_since,
                now,
                policy,
            )
            reason = f"engagement:{snap.engagement}"
            if set_stage(session, snap.subscriber, target, now, reason=reason):
                moved[str(target)] = moved.get(str(target), 0) + 1
        session.flush()
    return moved


@task("process_sendgrid_events")
def process_sendgrid_events(events: list[dict[str, Any]]) -> dict[str, int]:
    """Background job of the SendGrid webhook: store each event once, then act on it."""
    from flask import current_app

    from growth.db import commit, db, utcnow
    from growth.events import process_events

    result = process_events(db.session, events, utcnow(), current_app.config["MASTHEAD"])
    commit()
    return result
