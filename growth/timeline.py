"""A subscriber's timeline for the admin: what happened to them, newest first.

The core contributes status and stage events, consents, deliveries, opens and clicks (each
marked human or machine) and bounces or complaints; domains add theirs (referrals made and
where the reader came from, payments) through `register_timeline_source`, in their init_app.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from growth.models import Consent, Delivery, EmailEvent, Membership, Subscriber, SubscriberEvent

LIMIT = 300  # per source: a long-lived reader's page stays readable


@dataclass(frozen=True)
class Entry:
    """One line of the timeline; `marker` is "human", "machine" or "" for the rest."""

    at: dt.datetime
    kind: str
    text: str
    marker: str = ""


TimelineSource = Callable[[Session, Subscriber], list[Entry]]
_sources: list[TimelineSource] = []


def register_timeline_source(source: TimelineSource) -> None:
    """A domain adds its entries (called from its init_app)."""
    if source not in _sources:
        _sources.append(source)


def _events(session: Session, subscriber: Subscriber) -> list[Entry]:
    rows = session.scalars(
        select(SubscriberEvent)
        .where(SubscriberEvent.subscriber_id == subscriber.id)
        .order_by(SubscriberEvent.at.desc())
        .limit(LIMIT)
    )
    return [
        Entry(
            e.at,
            e.field,
            f"{e.field}: {e.from_value or '—'} → {e.to_value}" + (f" ({e.reason})" if e.reason else ""),
        )
        for e in rows
    ]


def _consents(session: Session, subscriber: Subscriber) -> list[Entry]:
    rows = session.scalars(
        select(Consent).where(Consent.subscriber_id == subscriber.id).order_by(Consent.at.desc()).limit(LIMIT)
    )
    return [
        Entry(c.at, "consent", f"consent: {c.action}" + (f" through {c.form}" if c.form else ""))
        for c in rows
    ]


def _deliveries(session: Session, subscriber: Subscriber) -> list[Entry]:
    rows = session.scalars(
        select(Delivery)
        .where(Delivery.subscriber_id == subscriber.id)
        .order_by(Delivery.created_at.desc())
        .limit(LIMIT)
    )
    return [
        Entry(
            d.sent_at or d.created_at, "delivery", f"{d.kind} email “{d.subject}” ({d.template}): {d.state}"
        )
        for d in rows
    ]


def describe_event(e: EmailEvent) -> Entry:
    """One provider event in words, opens and clicks marked human or machine."""
    if e.type == "open":
        marker = "machine" if e.is_machine else "human"
        text = "opened (machine: a privacy proxy fetched it)" if e.is_machine else "opened"
    elif e.type == "click":
        marker = "machine" if e.is_scanner else "human"
        text = ("clicked (machine: a security scanner)" if e.is_scanner else "clicked") + (
            f" {e.url}" if e.url else ""
        )
    elif e.type == "web_visit":
        marker, text = "human", "visited through their link" + (f" {e.url}" if e.url else "")
    elif e.type == "poll_answer":
        marker, text = "human", "answered a poll" + (f": {e.reason}" if e.reason else "")
    else:
        marker = ""
        text = (
            e.type + (f" ({e.bounce_type})" if e.bounce_type else "") + (f": {e.reason}" if e.reason else "")
        )
    return Entry(e.at, "email_event", text, marker)


def _email_events(session: Session, subscriber: Subscriber) -> list[Entry]:
    rows = session.scalars(
        select(EmailEvent)
        .where(EmailEvent.subscriber_id == subscriber.id)
        .order_by(EmailEvent.at.desc())
        .limit(LIMIT)
    )
    return [describe_event(e) for e in rows]


def _memberships(session: Session, subscriber: Subscriber) -> list[Entry]:
    entries = []
    for m in session.scalars(select(Membership).where(Membership.subscriber_id == subscriber.id)):
        name = m.newsletter.name
        entries.append(Entry(m.created_at, "newsletter", f"asked for {name}"))
        if m.confirmed_at:
            entries.append(Entry(m.confirmed_at, "newsletter", f"joined {name}"))
        if m.unsubscribed_at and m.status == "unsubscribed":
            entries.append(Entry(m.unsubscribed_at, "newsletter", f"left {name}"))
    return entries


CORE_SOURCES: tuple[TimelineSource, ...] = (_events, _consents, _memberships, _deliveries, _email_events)


def timeline(session: Session, subscriber: Subscriber) -> list[Entry]:
    """Every source's entries, newest first (ties keep the sources' order)."""
    entries: list[Entry] = []
    for source in (*CORE_SOURCES, *_sources):
        entries.extend(source(session, subscriber))
    return sorted(entries, key=lambda e: e.at, reverse=True)
