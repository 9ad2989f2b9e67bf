"""The tick gives up a batch in flight as soon as the worker named on it no longer beats; without
a way to tell (no Redis), only after the lease."""

from __future__ import annotations

import datetime as dt

import fakeredis
import pytest
from rq import Queue
from sqlalchemy import select

from content import send_control, sending
from content.models import BatchState, Send, SendBatch
from growth import jobs
from growth.db import utcnow
from growth.models import Delivery
from tests.content.conftest import add_subscribers, make_post


@pytest.fixture
def redis_app(app_factory):  # type: ignore[no-untyped-def]
    app = app_factory(redis_url="redis://fake.invalid:6379/0", extra={"ratelimit": "off"})
    fake = fakeredis.FakeRedis()
    app.extensions["masthead_redis"] = fake
    app.extensions["masthead_queue"] = Queue("masthead", connection=fake)  # nobody works it
    return app


def flying_batch(session, holder: str | None, started: dt.datetime) -> SendBatch:  # type: ignore[no-untyped-def]
    """A send of 3 readers whose one batch is in flight since `started`, claimed by `holder`."""
    add_subscribers(session, 3)
    post = make_post(session)
    send = sending.create_send(session, post, "all", utcnow())
    [batch] = sending.plan_next_batch(session, send.id, utcnow())
    batch.state = BatchState.IN_FLIGHT
    batch.started_at = started
    batch.detail = {**(batch.detail or {}), **({"worker": holder} if holder else {})}
    session.flush()
    return batch


def test_a_batch_whose_worker_stopped_beating_is_unknown_after_the_grace(redis_app, session):  # type: ignore[no-untyped-def]
    now = utcnow()
    connection = redis_app.extensions["masthead_redis"]
    with redis_app.app_context():
        batch = flying_batch(session, "host:41", now - dt.timedelta(seconds=40))
        connection.set(jobs.ALIVE_PREFIX + "host:41", "1", ex=jobs.ALIVE_TTL)
        assert send_control.mark_stale_in_flight(session, now) == 0  # it still beats
        connection.delete(jobs.ALIVE_PREFIX + "host:41")
        # within the grace after its claim, a missing beat is not enough
        assert send_control.mark_stale_in_flight(session, batch.started_at + dt.timedelta(seconds=5)) == 0
        assert send_control.mark_stale_in_flight(session, now) == 1
        session.expire_all()
        assert session.get(SendBatch, batch.id).state == BatchState.UNKNOWN
        assert "host:41" in session.get(SendBatch, batch.id).error
        assert set(session.scalars(select(Delivery.state).where(Delivery.send_id == batch.send_id))) == {
            "unknown"
        }
        assert session.get(Send, batch.send_id).state == "done"  # nothing else open: finished at once


def test_without_redis_only_the_lease_tells(app_factory, session):  # type: ignore[no-untyped-def]
    app = app_factory(redis_url=None)
    now = utcnow()
    with app.app_context():
        batch = flying_batch(session, "host:42", now - dt.timedelta(minutes=10))
        assert send_control.mark_stale_in_flight(session, now) == 0
        later = batch.started_at + send_control.IN_FLIGHT_LEASE + dt.timedelta(seconds=1)
        assert send_control.mark_stale_in_flight(session, later) == 1
