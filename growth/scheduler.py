"""Scheduled work without hand-made cron: a registry of due tasks, one leased tick, a loop.

Each domain registers its periodic work in its init_app (`register_scheduled`); the core never
imports a domain. `tick` runs every registered task that is due, under a lease row in the
database: a tick that finds the lease held does nothing, and a killed tick's lease expires.
The loop (`run_loop`) ticks once a minute: in the `make run` server process, in
`flask scheduler` (`make scheduler`) and beside the RQ worker; several at once are harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, cast

from flask import Flask
from sqlalchemy import CursorResult, or_, update
from sqlalchemy.orm import Session

from growth.db import commit, db, insert_ignoring_conflicts, utcnow
from growth.models import ScheduledTask

log = logging.getLogger(__name__)

TICK = "tick"
LEASE = dt.timedelta(minutes=5)  # renewed between tasks; a killed tick frees it after this
INTERVAL_SECONDS = 60
SLACK = dt.timedelta(seconds=5)  # a minute-task ticked at 59.9 s is still due

# (session, now) -> a short summary; the work commits its own units of work as it goes.
Work = Callable[[Session, dt.datetime], Any]


@dataclass(frozen=True)
class Scheduled:
    name: str
    work: Work
    every: dt.timedelta


_registry: dict[str, Scheduled] = {}


def register_scheduled(name: str, work: Work, every: dt.timedelta = dt.timedelta(minutes=1)) -> None:
    """Run `work` from the tick at most once per `every` (domains call this in init_app)."""
    if name == TICK:
        raise ValueError("'tick' names the lease")
    _registry[name] = Scheduled(name, work, every)


def scheduled() -> list[Scheduled]:
    """The registered tasks, in registration order."""
    return list(_registry.values())


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _ensure_rows(session: Session, names: list[str]) -> None:
    session.execute(insert_ignoring_conflicts(ScheduledTask.__table__), [{"name": n} for n in names])


def acquire_lease(session: Session, holder: str, now: dt.datetime, lease: dt.timedelta = LEASE) -> bool:
    """Take (or renew) the tick's lease when it is free, expired or already ours; commits."""
    _ensure_rows(session, [TICK])
    result = session.execute(
        update(ScheduledTask)
        .where(
            ScheduledTask.name == TICK,
            or_(
                ScheduledTask.lease_until.is_(None),
                ScheduledTask.lease_until < now,
                ScheduledTask.lease_holder == holder,
            ),
        )
        .values(lease_holder=holder, lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    won = cast(CursorResult[Any], result).rowcount == 1
    commit()
    return won


def release_lease(session: Session, holder: str) -> None:
    """Give the lease back (only if still ours); commits."""
    session.execute(
        update(ScheduledTask)
        .where(ScheduledTask.name == TICK, ScheduledTask.lease_holder == holder)
        .values(lease_holder=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    commit()


def due(last_started_at: dt.datetime | None, every: dt.timedelta, now: dt.datetime) -> bool:
    """Whether a task that last started at `last_started_at` is due again at `now`."""
    return last_started_at is None or now - last_started_at >= every - SLACK


@dataclass
class TickReport:
    """What one tick did: `leased` False when another tick held the lease."""

    leased: bool
    ran: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def tick(now: Callable[[], dt.datetime] = utcnow, only: list[str] | None = None) -> TickReport:
    """Run every due task once, under the lease (in an app context)."""
    session = db.session
    holder = _holder()
    if not acquire_lease(session, holder, now()):
        log.info("tick: the lease is held by another tick; nothing to do")
        return TickReport(leased=False)
    tick_started = now()
    try:
        report = run_due_tasks(session, now, lambda: acquire_lease(session, holder, now()), only)
        # The tick's own row says how long the whole tick took (read by /metrics).
        session.execute(
            update(ScheduledTask)
            .where(ScheduledTask.name == TICK)
            .values(last_started_at=tick_started, last_finished_at=now())
            .execution_options(synchronize_session=False)
        )
        commit()
        return report
    finally:
        session.rollback()
        release_lease(session, holder)


def run_due_tasks(
    session: Session,
    now: Callable[[], dt.datetime],
    renew: Callable[[], bool],
    only: list[str] | None = None,
    skip: Collection[str] = (),
) -> TickReport:
    """Run each due task (each of `only`, due or not) but those in `skip`, for a caller that holds
    the lease.

    `renew` is called before each task to keep the lease; when it fails the run stops.
    """
    report = TickReport(leased=True)
    tasks = [t for t in scheduled() if (only is None or t.name in only) and t.name not in skip]
    _ensure_rows(session, [t.name for t in tasks])
    commit()
    for task in tasks:
        row = session.get(ScheduledTask, task.name, populate_existing=True)
        started = now()
        if only is None and row is not None and not due(row.last_started_at, task.every, started):
            continue
        if not renew():  # lost only if we overran the lease
            log.warning("tick: lost the lease before %s", task.name)
            break
        try:
            outcome = task.work(session, started)
            commit()
            report.ran[task.name] = outcome
        except Exception as exc:  # one failing task must not stop the others
            session.rollback()
            log.exception("scheduled task %s failed", task.name)
            report.failed[task.name] = f"{type(exc).__name__}: {exc}"
            outcome = f"failed: {exc}"
        session.execute(
            update(ScheduledTask)
            .where(ScheduledTask.name == task.name)
            .values(last_started_at=started, last_finished_at=now(), last_outcome=str(outcome)[:2000])
            .execution_options(synchronize_session=False)
        )
        commit()
    return report


def run_loop(app: Flask, stop: threading.Event, interval: float = INTERVAL_SECONDS) -> None:
    """Tick every `interval` seconds until `stop` is set; a failed tick is logged, not fatal."""
    while not stop.is_set():
        try:
            with app.app_context():
                tick()
        except Exception:
            log.exception("tick failed")
        stop.wait(interval)


def start_in_background(app: Flask, interval: float = INTERVAL_SECONDS) -> threading.Event | None:
    """Start the loop in a daemon thread unless SCHEDULER=off; returns its stop event."""
    if app.config["MASTHEAD"].scheduler == "off":
        log.info("scheduler off (SCHEDULER=off)")
        return None
    stop = threading.Event()
    thread = threading.Thread(
        target=run_loop, args=(app, stop, interval), name="masthead-scheduler", daemon=True
    )
    thread.start()
    log.info("scheduler: ticking every %ss in this process", interval)
    return stop
