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
    DeliveryState,
    EmailEvent,
    EmailEventType,
    Stage,
    Status,
    Subscriber,
    SubscriberEvent,
)

log = logging.getLogger(__name__)

HUMAN_ENGAGEMENT = or_(
    and_(EmailEvent.type == EmailEventType.CLICK, EmailEvent.is_scanner.is_(False)),
    and_(EmailEvent.type == EmailEventType.OPEN, EmailEvent.is_machine.is_(False)),
    EmailEvent.type == EmailEventType.WEB_VISIT,
    EmailEvent.type == EmailEventType.POLL_ANSWER,
)
MACHINE_OPEN = and_(EmailEvent.type == EmailEventType.OPEN, EmailEvent.is_machine.is_(True))
ENGAGEMENT_TYPES = (
    EmailEventType.CLICK,
    EmailEventType.OPEN,
    EmailEventType.WEB_VISIT,
    EmailEventType.POLL_ANSWER,
)
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
    session: Session,
    subscriber_id: int,
    url: str,
    now: dt.datetime,
    delivery_id: int | None = None,
    *,
    kind: str = EmailEventType.WEB_VISIT,
    event_id: str | None = None,
    reason: str | None = None,
) -> EmailEvent:
    """A visit through one of the subscriber's signed links: human engagement (and a way back).

    `kind` poll_answer: a one-click poll answer (content.polls), with its own `event_id`.
    """
    event = EmailEvent(
        event_id=event_id or f"web-{uuid.uuid4().hex}",
        type=kind,
        subscriber_id=subscriber_id,
        delivery_id=delivery_id,
        at=now,
        url=url[:2000],
        reason=reason,
    )
    session.add(event)
    session.flush()
    rollups.mark_dirty(session, [subscriber_id])
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is not None:
        bring_back(session, subscriber, now, reason=str(kind))
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
    presumed: bool = False  # presumed nurtured (growth.stages.presumed_nurtured)


OBJECTIONS = (Status.UNSUBSCRIBED, Status.COMPLAINED)


def presumption_facts(
    session: Session, subscriber_ids: list[int], now: dt.datetime
) -> tuple[dict[int, list[dt.datetime]], dict[int, list[dt.datetime]]]:
    """Per subscriber: when value emails were sent to them, and when they unsubscribed or complained."""
    received: dict[int, list[dt.datetime]] = {}
    objections: dict[int, list[dt.datetime]] = {}
    if not subscriber_ids:
        return received, objections
    for sid, at in session.execute(
        select(Delivery.subscriber_id, Delivery.sent_at).where(
            ids_in(Delivery.subscriber_id, subscriber_ids),
            Delivery.kind == DeliveryKind.VALUE,
            Delivery.state == DeliveryState.SENT,
            Delivery.sent_at <= now,
        )
    ):
        if at is not None:
            received.setdefault(sid, []).append(_aware(at) or at)
    for sid, at in session.execute(
        select(SubscriberEvent.subscriber_id, SubscriberEvent.at).where(
            ids_in(SubscriberEvent.subscriber_id, subscriber_ids),
            SubscriberEvent.field == "status",
            SubscriberEvent.to_value.in_([str(s) for s in OBJECTIONS]),
        )
    ):
        objections.setdefault(sid, []).append(_aware(at) or at)
    for who, at in session.execute(
        select(EmailEvent.subscriber_id, EmailEvent.at).where(
            ids_in(EmailEvent.subscriber_id, subscriber_ids),
            EmailEvent.type.in_([EmailEventType.SPAMREPORT, EmailEventType.UNSUBSCRIBE]),
        )
    ):
        if who is not None:
            objections.setdefault(who, []).append(_aware(at) or at)
    return received, objections


def snapshots(
    session: Session,
    subscribers: list[Subscriber],
    now: dt.datetime,
    window_days: int,
    policy: stages.Policy | None = None,
) -> list[Snapshot]:
    """Classify a chunk of subscribers with grouped queries (presumption too, given a policy)."""
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
    classes = {s.id: stages.classify(*last.get(s.id, (None, None)), now, window_days) for s in subscribers}
    unknown = [sid for sid, c in classes.items() if c == stages.Engagement.UNKNOWN]
    received, objections = (
        presumption_facts(session, unknown, now)
        if policy is not None and policy.presume_nurtured
        else ({}, {})
    )
    out = []
    for subscriber in subscribers:
        last_human, _last_machine = last.get(subscriber.id, (None, None))
        engagement = classes[subscriber.id]
        presumed = policy is not None and stages.presumed_nurtured(
            engagement, received.get(subscriber.id, ()), objections.get(subscriber.id, ()), now, policy
        )
        out.append(
            Snapshot(
                subscriber=subscriber,
                engagement=engagement,
                last_human=last_human,
                disengaged_since=stages.disengaged_since(
                    engagement, last_human, joined_at(subscriber), window_days
                ),
                engaged_value_emails=value.get(subscriber.id, 0),
                presumed=presumed,
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
        for snap in snapshots(session, chunk, now, policy.engaged_window_days, policy):
            target = stages.next_stage(
                snap.subscriber.stage,
                snap.engagement,
                snap.engaged_value_emails,
                snap.disengaged_since,
                now,
                policy,
                presumed=snap.presumed,
            )
            reason = (
                "presumed:machine_opens_only" if target == Stage.PRESUMED else f"engagement:{snap.engagement}"
            )
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
