"""Redis down: signups and confirmations are accepted and their email goes out in process; the
rate limit still holds (counted in this process's memory); transactional mail left `queued` is
retried by the tick, once its job is no longer waiting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import fakeredis
import pytest
from rq import Queue
from sqlalchemy import select

from growth import redelivery
from growth.db import utcnow
from growth.extensions import limiter
from growth.models import Delivery
from tests.growth.helpers import link_in, messages, signup
from tests.services import free_port


@pytest.fixture
def redis_down_app(app_factory) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """An app whose REDIS_URL names a port nobody listens on (a real client, refused at once)."""
    app = app_factory(redis_url=f"redis://127.0.0.1:{free_port()}/0", signup_rate_limit="3/minute")
    yield app
    limiter._storage_dead = False  # the shared limiter would otherwise stay on memory a while


def test_signup_and_confirmation_go_out_while_redis_is_down(redis_down_app, session):  # type: ignore[no-untyped-def]
    client = redis_down_app.test_client()
    outbox = redis_down_app.config["MASTHEAD"].outbox_dir

    answer = signup(client, "down@example.com")
    assert answer.status_code == 202
    [confirmation] = messages(outbox, "confirmation")  # sent in process, not waiting for Redis
    assert client.get(link_in(confirmation, "/confirm/")).status_code == 200
    assert [m["To"] for m in messages(outbox, "welcome")] == ["down@example.com"]
    assert {d.state for d in session.scalars(select(Delivery))} == {"sent"}


def test_the_signup_limit_still_holds_per_process_while_redis_is_down(redis_down_app):  # type: ignore[no-untyped-def]
    client = redis_down_app.test_client()
    statuses = [signup(client, f"limit{n}@example.com").status_code for n in range(5)]
    assert statuses == [202, 202, 202, 429, 429]


def test_a_transient_failure_is_retried_by_the_tick_without_redis(app_factory, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    app = app_factory(
        redis_url=None,
        mail_backend="sendgrid",
        sendgrid_api_key="SG.test",
        sendgrid_api_host=fake_sendgrid.url,
    )
    fake_sendgrid.fail_next = [503]
    assert signup(app.test_client(), "later@example.com").status_code == 202
    delivery = session.scalars(select(Delivery)).one()
    assert delivery.state == "queued" and delivery.attempts == 1 and fake_sendgrid.requests == []

    made = delivery.created_at
    with app.app_context():
        # attempt 1 done: the next is due 2 * 2 = 4 minutes after it was made, not before.
        assert redelivery.retry_queued_transactional(session, made + dt.timedelta(minutes=3)) == {
            "retried": 0,
            "failed": 0,
        }
        session.commit()
        assert redelivery.retry_queued_transactional(session, made + dt.timedelta(minutes=4)) == {
            "retried": 1,
            "failed": 0,
        }
        from growth.db import commit

        commit()  # the retry runs in process once the tick's unit of work commits
    session.expire_all()
    assert session.get(Delivery, delivery.id).state == "sent"
    [sent] = fake_sendgrid.requests
    assert sent["personalizations"][0]["to"][0]["email"] == "later@example.com"


def test_the_tick_gives_up_after_max_attempts_or_three_days(app_factory, session):  # type: ignore[no-untyped-def]
    app = app_factory(redis_url=None)
    client = app.test_client()
    now = utcnow()
    for n, (age, attempts) in enumerate([(dt.timedelta(days=4), 1), (dt.timedelta(days=2), 10)]):
        assert signup(client, f"old{n}@example.com").status_code == 202
        delivery = session.scalars(select(Delivery).order_by(Delivery.id.desc())).first()
        delivery.state, delivery.created_at, delivery.attempts = "queued", now - age, attempts
    session.flush()
    with app.app_context():
        assert redelivery.retry_queued_transactional(session, now) == {"retried": 0, "failed": 2}
    session.expire_all()
    assert {d.state for d in session.scalars(select(Delivery))} == {"failed"}


def test_with_redis_the_tick_queues_a_delivery_again_only_when_its_job_is_gone(app_factory, session):  # type: ignore[no-untyped-def]
    app = app_factory(
        redis_url="redis://fake.invalid:6379/0", extra={"ratelimit": "off"}, signup_finish="job"
    )
    fake = fakeredis.FakeRedis()
    queue = Queue("masthead", connection=fake)  # async: jobs wait for a worker that is not there
    app.extensions["masthead_redis"] = fake
    app.extensions["masthead_queue"] = queue
    assert signup(app.test_client(), "waits@example.com").status_code == 202
    [finish] = queue.jobs  # the signup's second half waits for a worker too: be that worker
    assert finish.id.startswith("masthead-finish-signup-")
    with app.app_context():
        finish.perform()
    finish.delete()
    delivery = session.scalars(select(Delivery)).one()
    [job] = queue.jobs
    assert job.id == f"masthead-delivery-{delivery.id}"
    later = delivery.created_at + dt.timedelta(minutes=3)
    with app.app_context():
        assert redelivery.retry_queued_transactional(session, later)["retried"] == 0  # still waiting
        job.delete()  # as when Redis restarted without persistence
        assert redelivery.retry_queued_transactional(session, later)["retried"] == 1
        from growth.db import commit

        commit()
    assert [j.id for j in queue.jobs] == [f"masthead-delivery-{delivery.id}"]
