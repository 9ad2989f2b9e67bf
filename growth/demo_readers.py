"""seed-demo's readers: they sign up, confirm, share, read and leave, through the core services.

Signups go through `subscribers.signup` (referred ones with the referrer's code, so the
referrals domain records and judges them through its signal handlers), confirmations through
`subscribers.confirm`, share-link visits through `signals.referral_link_visit`, one-click
unsubscribes through `subscribers.unsubscribe`, and reading through SendGrid-shaped events
processed by `events.process_events` (Apple MPP opens flagged `sg_machine_open`, scanner clicks
within seconds of delivery), which decides what counts as reading.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from growth import signals, subscribers
from growth.db import commit, lock_row
from growth.demo import DemoWorld
from growth.demo_people import (
    CAMPAIGNS,
    SOURCES,
    Habit,
    People,
    Source,
    arrivals_per_day,
    campaign_rate,
    moment,
    offspring,
    poisson,
)
from growth.events import process_events
from growth.models import Delivery, DeliveryKind, DeliveryState, EmailEvent, Status, Subscriber

OFFSPRING_MEAN = 0.45  # confirmed referrals per confirmed reader: the branching process's K
REFERRED_CONFIRM_RATE = 0.85
CYCLE_DAYS = 12.0  # mean days from a reader confirming to a friend signing up on their link
EVENT_CHUNK = 500  # SendGrid events per unit of work (a webhook POST holds about as many)
LINKS = ("/", "/feed.xml", "https://en.wikipedia.org/wiki/Newsletter")


class Readers:
    """The core's part of seed-demo: the readers' side of the year."""

    def __init__(self, world: DemoWorld):
        self.world = world
        self.rng = world.rng("readers")
        self.people = People(world.rng("people"))
        self.small = world.small
        self.base = 0.35 if world.small else 1.2  # non-referred signups a day at the start
        self.scale = 0.04 if world.small else 0.3  # of the campaigns' bursts
        self.queue: list[tuple[dt.datetime, int, str, dict[str, Any]]] = []
        self.seq = itertools.count()
        self.habits: dict[int, Habit] = {}
        self.bounced: set[int] = set()
        self.pending_events: list[dict[str, Any]] = []
        self.event_ids = itertools.count(1)
        self.visits = 0

    def push(self, when: dt.datetime, kind: str, **data: Any) -> None:
        """Something a reader will do at `when` (dropped when the year is over by then)."""
        if when < self.world.end:
            heapq.heappush(self.queue, (when, next(self.seq), kind, data))

    # --- arrivals ------------------------------------------------------------------------

    def arrivals(self, session: Session, day: dt.datetime, day_end: dt.datetime) -> None:
        """Today's new readers from each source and campaign, then everything due today."""
        index = (day - self.world.start).days
        expected = arrivals_per_day(index, self.world.days, self.base, growth=0.8)
        weights = [s.weight for s in SOURCES]
        for _ in range(poisson(self.rng, expected)):
            source = self.rng.choices(SOURCES, weights)[0]
            self.push(moment(self.rng, day, 7), "signup", source=source, ref=None)
        for campaign, rate in campaign_rate(
            index * (YEAR_OVER_SMALL if self.small else 1), CAMPAIGNS, self.scale
        ):
            for _ in range(poisson(self.rng, rate)):
                self.push(moment(self.rng, day, 7), "signup", source=campaign.source, ref=None)
        while self.queue and self.queue[0][0] < day_end:
            when, _, kind, data = heapq.heappop(self.queue)
            self.world.at(when)
            getattr(self, f"_{kind}")(session, when, **data)

    def _signup(self, session: Session, when: dt.datetime, source: Source | None, ref: str | None) -> None:
        email, name, ip, agent, habit = self.people.next_reader()
        request = subscribers.SignupRequest(
            email=email,
            name=name,
            source=source.source if source else None,
            ref=ref,
            utm_source=source.utm_source if source else None,
            utm_medium=source.utm_medium if source else None,
            utm_campaign=source.utm_campaign if source else None,
            referrer_url=source.referrer_url if source else None,
            landing_url=f"{self.world.base_url}/" if ref is None else f"{self.world.base_url}/r/{ref}",
            ip=ip,
            user_agent=agent,
            form=source.form if source else "referral_page",
        )
        result = subscribers.signup(session, request, when)
        commit()
        subscriber = result.subscriber
        self.habits[subscriber.id] = habit
        rate = source.confirm_rate if source else REFERRED_CONFIRM_RATE
        if self.rng.random() < rate:
            minutes = math.exp(self.rng.gauss(math.log(6), 1.3))  # most within minutes, a few a day later
            self.push(
                when + dt.timedelta(minutes=minutes),
                "confirm",
                subscriber_id=subscriber.id,
                ip=ip,
                agent=agent,
            )

    def _confirm(self, session: Session, when: dt.datetime, subscriber_id: int, ip: str, agent: str) -> None:
        subscriber = lock_row(session, Subscriber, subscriber_id)
        if subscriber is None or subscriber.status != Status.PENDING:
            session.rollback()
            return
        subscribers.confirm(session, subscriber, when, ip=ip, user_agent=agent)
        code = subscriber.referral_code
        commit()
        # The branching process: each confirmed reader brings a negative-binomial number of
        # friends, of whom REFERRED_CONFIRM_RATE confirm: OFFSPRING_MEAN confirmed on average.
        for _ in range(offspring(self.rng, OFFSPRING_MEAN / REFERRED_CONFIRM_RATE)):
            visit = when + dt.timedelta(days=self.rng.expovariate(1 / CYCLE_DAYS))
            self.push(visit, "visit", ref=code)
            self.push(visit + dt.timedelta(minutes=self.rng.uniform(1, 20)), "signup", source=None, ref=code)
        for _ in range(poisson(self.rng, 0.3)):  # a shared link someone looked at and left
            self.push(when + dt.timedelta(days=self.rng.expovariate(1 / CYCLE_DAYS)), "visit", ref=code)

    def _visit(self, session: Session, when: dt.datetime, ref: str) -> None:
        _email, _name, ip, agent, _habit = self.people.next_reader()
        signals.referral_link_visit.send(None, session=session, ref=ref, ip=ip, user_agent=agent, now=when)
        commit()
        self.visits += 1

    def _unsubscribe(self, session: Session, when: dt.datetime, subscriber_id: int) -> None:
        subscriber = lock_row(session, Subscriber, subscriber_id)
        if subscriber is None or subscriber.status != Status.ACTIVE:
            session.rollback()
            return
        subscribers.unsubscribe(session, subscriber, when, reason="one_click")
        commit()

    # --- reading ---------------------------------------------------------------------------

    def engagement(self, session: Session, day: dt.datetime, day_end: dt.datetime) -> None:
        """SendGrid's events for today's list mail, then every event that has happened by day end."""
        rows = session.execute(
            select(Delivery.id, Delivery.subscriber_id, Delivery.to_email, Delivery.kind, Delivery.sent_at)
            .where(
                Delivery.sent_at >= day,
                Delivery.sent_at < day_end,
                Delivery.state == DeliveryState.SENT,
                Delivery.kind.in_([DeliveryKind.VALUE, DeliveryKind.PITCH]),
            )
            .order_by(Delivery.id)
        ).all()
        session.rollback()
        for delivery_id, subscriber_id, to_email, kind, sent_at in rows:
            habit = self.habits.get(subscriber_id)
            if habit is not None and sent_at is not None:
                self._read(delivery_id, subscriber_id, to_email, kind, sent_at, habit)
        due = sorted((e for e in self.pending_events if e["timestamp"] < day_end.timestamp()), key=_ts)
        self.pending_events = [e for e in self.pending_events if e["timestamp"] >= day_end.timestamp()]
        self.world.at(day_end)
        config = current_app.config["MASTHEAD"]
        for start in range(0, len(due), EVENT_CHUNK):
            process_events(session, due[start : start + EVENT_CHUNK], day_end, config)
            commit()

    def _read(
        self,
        delivery_id: int,
        subscriber_id: int,
        to_email: str,
        kind: str,
        sent_at: dt.datetime,
        habit: Habit,
    ) -> None:
        rng = self.rng
        args = {"delivery_id": str(delivery_id), "subscriber_id": str(subscriber_id), "kind": kind}

        def event(kind_: str, at: dt.datetime, **extra: Any) -> None:
            self.pending_events.append(
                {
                    "sg_event_id": f"demo{self.world.seed}-{next(self.event_ids):09d}",
                    "event": kind_,
                    "email": to_email,
                    "timestamp": int(at.timestamp()),
                    **args,
                    **extra,
                }
            )

        if habit.bounces and subscriber_id not in self.bounced:
            self.bounced.add(subscriber_id)
            event("bounce", sent_at + dt.timedelta(seconds=4), type="bounce", reason="550 5.1.1 no such user")
            return
        delivered = sent_at + dt.timedelta(seconds=rng.uniform(1, 20))
        event("delivered", delivered)
        if habit.client == "apple":  # Mail Privacy Protection fetches every message at once
            event("open", delivered + dt.timedelta(seconds=rng.uniform(15, 600)), sg_machine_open=True)
        if habit.client == "scanner":  # the gateway follows every link before the reader sees it
            for i, link in enumerate(LINKS):
                event("click", delivered + dt.timedelta(seconds=1 + i), url=self._url(link))
        appetite = habit.open_rate * (0.8 if kind == DeliveryKind.PITCH else 1.0)
        if rng.random() < appetite:
            opened = delivered + dt.timedelta(hours=math.exp(rng.gauss(math.log(3), 1.0)))
            if habit.client != "apple":  # behind MPP a human open is not seen, only clicks
                event("open", opened, sg_machine_open=False)
            if rng.random() < habit.click_rate:
                clicked = opened + dt.timedelta(seconds=rng.uniform(20, 300))
                event("click", clicked, url=self._url(rng.choice(LINKS)))
            if kind == DeliveryKind.PITCH and rng.random() < 0.001:
                event("spamreport", opened + dt.timedelta(seconds=30))
        leave = (0.006 if kind == DeliveryKind.PITCH else 0.0025) + (0.004 if habit.open_rate == 0 else 0)
        if rng.random() < leave:
            self.push(
                delivered + dt.timedelta(hours=rng.uniform(1, 48)), "unsubscribe", subscriber_id=subscriber_id
            )

    def _url(self, link: str) -> str:
        return f"{self.world.base_url}{link}" if link.startswith("/") else link

    # --- what happened ---------------------------------------------------------------------

    def summary(self, session: Session) -> dict[str, Any]:
        """Counts read back from the database, as the reports will see them."""
        count = session.scalar
        by_source = _counts(session, Subscriber.source)
        by_campaign = _counts(session, Subscriber.utm_campaign, Subscriber.utm_campaign.is_not(None))
        events = _counts(session, EmailEvent.type)
        machine = count(select(func.count()).select_from(EmailEvent).where(EmailEvent.is_machine)) or 0
        scanner = count(select(func.count()).select_from(EmailEvent).where(EmailEvent.is_scanner)) or 0
        sends = _counts(session, Delivery.kind, Delivery.state == DeliveryState.SENT)
        statuses = _counts(session, Subscriber.status)
        stages = _counts(session, Subscriber.stage)
        return {
            "subscribers": sum(statuses.values()),
            "confirmed": count(
                select(func.count()).select_from(Subscriber).where(Subscriber.confirmed_at.is_not(None))
            )
            or 0,
            "offspring_mean": OFFSPRING_MEAN,
            "referral_visits": self.visits,
            "by_source": by_source,
            "by_campaign": by_campaign,
            "statuses": statuses,
            "stages": stages,
            "deliveries_sent": sends,
            "human_opens": events.get("open", 0) - machine,
            "machine_opens": machine,
            "clicks": events.get("click", 0) - scanner,
            "scanner_clicks": scanner,
            "bounces": events.get("bounce", 0),
            "spam_reports": events.get("spamreport", 0),
        }


def _counts(session: Session, column: Any, *where: Any) -> dict[Any, int]:
    """{value: rows} in the values' order: the same line on SQLite and PostgreSQL (groups come
    back in any order)."""
    rows = session.execute(select(column, func.count()).where(*where).group_by(column)).all()
    return dict(sorted(((value, int(n)) for value, n in rows), key=lambda row: str(row[0])))


YEAR_OVER_SMALL = 5  # the small run's 75 days meet the year's campaigns on a five-fold calendar


def _ts(event: dict[str, Any]) -> float:
    return float(event["timestamp"])
