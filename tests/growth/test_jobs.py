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
