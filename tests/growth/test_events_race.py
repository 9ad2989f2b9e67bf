"""Exactly once under concurrency: two workers on one batch, two sunset runs at once.

These need two connections at once, so they commit real rows (PostgreSQL only) and clean up.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from growth import sunset
from growth.db import make_engine
from growth.events import Settings, process_events
from growth.models import Delivery, EmailEvent, Subscriber, SubscriberEvent, SunsetNotice
from tests.conftest import USING_POSTGRES
from tests.fakes.engagement_data import T0, make_delivery, make_subscriber
from tests.fakes.sendgrid_webhook import event

pytestmark = pytest.mark.skipif(not USING_POSTGRES, reason="two connections at once: PostgreSQL only")


@pytest.fixture
def engine(app):  # type: ignore[no-untyped-def]
    engine = make_engine(app.config["MASTHEAD"].database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def committed(app, engine) -> Iterator[Callable[..., Subscriber]]:  # type: ignore[no-untyped-def]
    """Make committed subscribers; delete them (and their rows, by cascade) afterwards."""
    made: list[int] = []

    def make(email: str, delivery_at: dt.datetime | None = None) -> Subscriber:
        with app.app_context(), Session(engine, expire_on_commit=False) as s:
            sub = make_subscriber(s, email)
            if delivery_at is not None:
                make_delivery(s, sub, delivery_at)
            s.commit()
            made.append(sub.id)
            return sub

    yield make
    with Session(engine) as s:
        s.execute(delete(SunsetNotice).where(SunsetNotice.subscriber_id.in_(made)))
        s.execute(delete(Delivery).where(Delivery.subscriber_id.in_(made)))
        s.execute(delete(Subscriber).where(Subscriber.id.in_(made)))
        s.commit()


def twice_at_once(app, engine, work: Callable[[Session], object]) -> list[object]:  # type: ignore[no-untyped-def]
    """Run `work` in two threads, each with its own connection, started together."""
    barrier = threading.Barrier(2)
    results: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context(), Session(engine, expire_on_commit=False) as s:
                barrier.wait()
                results.append(work(s))
                s.commit()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    return results


def test_two_workers_on_the_same_batch_store_and_act_once(app, engine, committed):
    sub = committed("race@example.com")
    ts = int(T0.timestamp())
    batch = [event("open", "race@example.com", ts + i) for i in range(40)]
    batch.append(event("bounce", "race@example.com", ts + 100, type="bounce"))
    now = T0 + dt.timedelta(days=1)
    results = twice_at_once(app, engine, lambda s: process_events(s, batch, now, Settings()))
    assert sorted(r["stored"] for r in results) == [0, 41]  # type: ignore[index]
    with Session(engine) as s:
        assert s.scalar(select(func.count()).where(EmailEvent.subscriber_id == sub.id)) == 41
        changes = s.scalars(
            select(SubscriberEvent.reason).where(
                SubscriberEvent.subscriber_id == sub.id, SubscriberEvent.field == "status"
            )
        ).all()
        assert changes == ["hard_bounce"]


def test_two_sunset_runs_at_once_send_one_notice(app, engine, committed):
    sub = committed("sunset-race@example.com", delivery_at=T0 + dt.timedelta(days=20))
    config = app.config["MASTHEAD"]
    now = T0 + dt.timedelta(days=210)
    results = twice_at_once(app, engine, lambda s: sunset.run_sunset(s, now, config))
    assert sorted(r["notified"] for r in results) == [0, 1]  # type: ignore[index]
    with Session(engine) as s:
        assert s.scalar(select(func.count()).where(SunsetNotice.subscriber_id == sub.id)) == 1
        assert (
            s.scalar(
                select(func.count()).where(Delivery.template == "reengage", Delivery.subscriber_id == sub.id)
            )
            == 1
        )
