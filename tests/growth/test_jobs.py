"""Background jobs: after commit only; through RQ on Redis when REDIS_URL is set."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from growth import jobs as jobs_module
from growth.models import Delivery
from tests.growth.helpers import signup

REDIS_URL = os.environ.get("REDIS_URL")


def test_rolled_back_request_sends_nothing(app, session, outbox):
    from growth import jobs
    from growth.db import db, utcnow
    from growth.subscribers import SignupRequest
    from growth.subscribers import signup as do_signup

    with app.test_request_context():
        do_signup(db.session, SignupRequest(email="rb@example.com"), utcnow())
        assert len(jobs.g.pending_jobs) == 1  # queued, not sent: the unit of work is open
        db.session.rollback()
        jobs.discard_pending()
        jobs.dispatch_pending()
    assert list(outbox.glob("*.eml")) == []


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")
def test_jobs_go_through_rq_and_a_worker_runs_them(app_factory, session, outbox):
    from rq import SimpleWorker

    app = app_factory(queue_async=True, signup_finish="job")
    queue = app.extensions["masthead_queue"]
    queue.empty()
    app.test_client().post("/api/v1/subscribers", json={"email": "rq@example.com"})
    # the signup's second half waits in the queue: no delivery yet
    assert session.scalars(select(Delivery)).all() == [] and len(queue) == 1
    with app.app_context():  # finishes the signup, then sends the confirmation it queued
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    session.expire_all()
    delivery = session.scalars(select(Delivery)).one()
    assert (delivery.template, delivery.state) == ("confirmation", "sent")


def test_without_redis_jobs_run_in_process(app_factory, session, outbox):
    app = app_factory(redis_url=None)
    assert "masthead_queue" not in app.extensions
    signup(app.test_client(), "inproc@example.com")
    assert session.scalars(select(Delivery)).one().state == "sent"


@jobs_module.task("test_always_fails")
def _always_fails() -> None:
    raise RuntimeError("the provider is down")


def test_in_process_failure_is_raised_only_for_work_that_must_succeed(app_factory):
    from growth import jobs

    app = app_factory(redis_url=None)
    with app.test_request_context():
        jobs.enqueue("test_always_fails")
        jobs.dispatch_pending()  # logged, not raised: the request that queued it still succeeds
        jobs.enqueue("test_always_fails", must_succeed=True)
        with pytest.raises(RuntimeError, match="provider is down"):
            jobs.dispatch_pending()


def test_a_worker_without_an_app_context_builds_the_app_and_finds_every_task(app, monkeypatch, tmp_path):
    # a bare `rq worker` runs run_task with no app: it must build one before looking the task up
    from growth import jobs
    from growth.db import db

    monkeypatch.setenv("MASTHEAD_INSTANCE", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", app.config["MASTHEAD"].database_url)
    original = db.engine, db.session_factory
    try:
        assert jobs.run_task("send_delivery", 987654321) == "missing"
    finally:
        db.engine, db.session_factory = original


def test_a_stop_asked_while_the_worker_starts_stops_it_before_any_work(monkeypatch):  # type: ignore[no-untyped-def]
    """SIGTERM before RQ's worker has its own handlers: noted, never the signal's default death."""
    import signal

    import fakeredis
    from rq import Queue

    queue = Queue("masthead", connection=fakeredis.FakeRedis())
    saved = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    made = []

    class Untouched:
        name = "never-started"
        _stop_requested = False

        def work(self, burst: bool = False) -> None:
            raise AssertionError("the worker ran after the stop")

    def make_worker_then_sigterm(_queue):  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the worker is being made
        made.append(Untouched())
        return made[-1]

    monkeypatch.setattr(jobs_module, "start_liveness", lambda _connection: "test:0")
    monkeypatch.setattr(jobs_module, "make_worker", make_worker_then_sigterm)
    try:
        jobs_module.run_worker(queue)  # returns: no work, no new worker, no death by SIGTERM
        assert len(made) == 1
        # one already made when the signal comes is marked for RQ's loop to stop before a dequeue
        asked: list[int] = []
        current: list[object] = [Untouched()]
        jobs_module._stop_while_starting(asked, current)
        os.kill(os.getpid(), signal.SIGINT)
        assert asked == [signal.SIGINT] and current[0]._stop_requested is True  # type: ignore[attr-defined]
    finally:
        signal.signal(signal.SIGTERM, saved[0])
        signal.signal(signal.SIGINT, saved[1])
