"""seed-demo: a simulated year of a newsletter, played through the services the app uses.

The core plays the readers (signups from several sources and campaigns, confirmations, referral
visits and signups from a branching process, opens, clicks, unsubscribes: growth.demo_readers)
and each domain adds its part through `register_demo_contributor` in its init_app (content
publishes and sends posts, billing plays Stripe's webhooks, referrals reports what it counted):
the core imports no domain. The clock is simulated (`growth.db.simulated_clock`), mail goes to a
backend that sends nothing, jobs run in process, and the scheduler's lease is held for the whole
run, so a server ticking beside it (make run) stays out of the way while every transaction stays
short.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from growth import access, scheduler
from growth.db import commit, db, real_utcnow, simulated_clock
from growth.mailer import BatchMessage, OutgoingMessage
from growth.models import Subscriber

log = logging.getLogger(__name__)

YEAR_DAYS = 365
SMALL_DAYS = 75
# The scheduled work (stages, sunset, sequences, releases) runs every third simulated day: daily
# it took half the run, and what it does only changes over weeks (a tick every minute in the
# app is about latency, which a past year does not have).
TICK_EVERY_DAYS = 3
# The report rollups only feed the reports, which nobody reads during the simulated year: they
# run once, at the real now, after it (a refresh of everyone marked equals a rebuild). Kept
# current all year they cost a seventh of the run (each tick refreshed 3 days of readers).
DEFERRED_TASKS = ("report-rollups", "report-rollups-daily", "report-billing")
LEASE = dt.timedelta(minutes=10)  # renewed every simulated day; a killed run frees it after this
LEASE_WAIT_SECONDS = 90  # a tick of the server beside us may hold the lease for a while


class DemoRefused(click.ClickException):
    """seed-demo fills an empty database only."""


@dataclass
class DemoWorld:
    """What every contributor shares: the seed, the simulated year and its clock."""

    seed: int
    small: bool
    start: dt.datetime
    end: dt.datetime
    base_url: str
    now: dt.datetime = field(init=False)

    def __post_init__(self) -> None:
        self.now = self.start

    def rng(self, name: str) -> random.Random:
        """A generator of its own per contributor: one domain's draws never shift another's."""
        return random.Random(f"{self.seed}:{name}")

    def at(self, when: dt.datetime) -> dt.datetime:
        """Move the simulated clock to `when` (never past the end of the year) and return it."""
        self.now = min(when, self.end)
        return self.now

    @property
    def days(self) -> int:
        return (self.end - self.start).days


class DemoContributor:
    """A domain's part of the simulated year; every hook is optional."""

    name = "contributor"

    def prepare(self, session: Session) -> None:
        """Before the first day (tiers, coupons...)."""

    def morning(self, session: Session, day: dt.datetime) -> None:
        """Early in each day, before readers arrive (a post goes out)."""

    def day(self, session: Session, day: dt.datetime, day_end: dt.datetime) -> None:
        """During each day, after readers arrived and confirmed (conversions, renewals)."""

    def summary(self, session: Session) -> dict[str, Any]:
        """What this domain realised, merged into the last line of output."""
        return {}


ContributorFactory = Callable[[DemoWorld], DemoContributor]
_factories: list[ContributorFactory] = []


def register_demo_contributor(factory: ContributorFactory) -> None:
    """A domain adds its part of seed-demo (called in its init_app; once per factory)."""
    if factory not in _factories:
        _factories.append(factory)


class SimulatedBackend:
    """Mail that goes nowhere: seed-demo's deliveries are `sent` with a made-up message id."""

    name = "demo"

    def send(self, message: OutgoingMessage) -> str:
        return f"demo-{uuid.uuid4().hex}"

    def send_batch(self, batch: BatchMessage) -> str:
        return f"demo-{uuid.uuid4().hex}"


@contextmanager
def demo_services(app: Flask) -> Iterator[None]:
    """Mail to the simulated backend and jobs in process (never to a worker) for the run."""
    saved = {k: app.extensions.get(k) for k in ("masthead_mailer", "masthead_queue")}
    app.extensions["masthead_mailer"] = SimulatedBackend()
    app.extensions["masthead_queue"] = None  # background-only jobs (Stripe fetches) are dropped
    engine = db.engine
    relaxed = engine is not None and engine.dialect.name == "sqlite"
    if engine is not None and relaxed:
        # Thousands of short commits: in WAL mode NORMAL skips the fsync of each one and still
        # cannot corrupt the file (a power cut could lose the last ones, of invented data).
        engine.dispose()
        event.listen(engine, "connect", _synchronous_normal)
    try:
        yield
    finally:
        app.extensions.update(saved)
        if engine is not None and relaxed:
            event.remove(engine, "connect", _synchronous_normal)
            engine.dispose()


def _synchronous_normal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def tick_lease(session: Session) -> Iterator[Callable[[], bool]]:
    """Hold the scheduler's lease in wall-clock time for the run; yields its renewal."""
    holder = f"seed-demo:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    waited = time.monotonic()
    while not scheduler.acquire_lease(session, holder, real_utcnow(), LEASE):
        if time.monotonic() - waited > LEASE_WAIT_SECONDS:
            raise click.ClickException("the scheduler's lease stayed held by another tick; try again")
        time.sleep(1)
    renewed = [time.monotonic()]

    def renew() -> bool:
        # A write per simulated task would be thousands of commits: once a minute keeps it held.
        if time.monotonic() - renewed[0] < 60:
            return True
        renewed[0] = time.monotonic()
        return scheduler.acquire_lease(session, holder, real_utcnow(), LEASE)

    try:
        yield renew
    finally:
        session.rollback()
        scheduler.release_lease(session, holder)


def refuse_unless_empty(session: Session) -> None:
    """seed-demo never mixes invented readers with real ones."""
    count = session.scalar(select(func.count()).select_from(Subscriber)) or 0
    if count:
        raise DemoRefused(
            f"this database already has {count} subscribers: seed-demo fills an empty one only "
            "(use a fresh DATABASE_URL, or `make clean` for the embedded default)"
        )


def seed_demo(
    app: Flask,
    seed: int = 1,
    small: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fill an empty database with a simulated year; returns what it realised (in an app context)."""
    from growth.demo_readers import Readers

    session = db.session
    refuse_unless_empty(session)
    say = progress or (lambda _text: None)
    began = time.monotonic()
    # The year ends at today's midnight (UTC): the same seed makes the same year whenever it runs.
    end = real_utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    days = SMALL_DAYS if small else YEAR_DAYS
    start = end - dt.timedelta(days=days)
    world = DemoWorld(seed, small, start, end, app.config["MASTHEAD"].base_url)
    readers = Readers(world)
    contributors = [factory(world) for factory in _factories]
    say(f"seed-demo: {days} days from {start:%Y-%m-%d}, seed {seed}")
    with demo_services(app), tick_lease(session) as renew, simulated_clock(lambda: world.now):
        for contributor in contributors:
            world.at(start)
            contributor.prepare(session)
        day = start
        while day < end:
            day_end = min(day + dt.timedelta(days=1), end)
            for contributor in contributors:
                contributor.morning(session, day)
            readers.arrivals(session, day, day_end)
            for contributor in contributors:
                contributor.day(session, day, day_end)
            readers.engagement(session, day, day_end)
            world.at(day_end)
            if (day_end - start).days % TICK_EVERY_DAYS == 0:
                scheduler.run_due_tasks(session, lambda: world.now, renew, skip=DEFERRED_TASKS)
            if (day - start).days % 30 == 29:
                say(f"seed-demo: day {(day - start).days + 1} of {days}")
            day = day_end
        # Then the scheduled work at the real now, so that nothing is left due when the run ends.
        world.end = real_utcnow()
        world.at(world.end)
        scheduler.run_due_tasks(session, lambda: world.now, renew)
        realised = summarise(session, world, readers, contributors)
    realised["seconds"] = round(time.monotonic() - began, 1)
    return realised


def summarise(
    session: Session, world: DemoWorld, readers: Any, contributors: list[DemoContributor]
) -> dict[str, Any]:
    """The last line: K first (counted referrals per confirmed subscriber), then the rest."""
    merged: dict[str, Any] = {}
    for contributor in contributors:
        merged.update(contributor.summary(session))
    core = readers.summary(session)
    confirmed = core["confirmed"]
    counted = int(merged.get("referrals_counted", 0))
    result: dict[str, Any] = {
        "k": round(counted / confirmed, 4) if confirmed else 0.0,
        "subscribers": core["subscribers"],
        "confirmed": confirmed,
        "paying": len(access.paying_tiers(session)),
        "mrr_cents": int(merged.pop("mrr_cents", 0)),
    }
    result.update({k: v for k, v in core.items() if k not in result})
    result.update(merged)
    result.update(seed=world.seed, small=world.small, days=world.days)
    commit()
    return result


@click.command("seed-demo")
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same year.")
@click.option("--small", is_flag=True, help="A tiny version (tests): 75 days, a few dozen readers.")
@with_appcontext
def seed_demo_command(seed: int, small: bool) -> None:
    """Fill an empty database with a simulated year; the last line is what it realised (JSON)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # Thousands of confirmation links and batch lines would bury the progress and the result.
    logging.getLogger().setLevel(logging.WARNING)
    realised = seed_demo(app, seed=seed, small=small, progress=lambda text: click.echo(text, err=True))
    click.echo(json.dumps(realised, sort_keys=False))
