"""With Redis, emails wait for a worker: the worker leaves a heartbeat, admin pages warn without one."""

from __future__ import annotations

import datetime as dt
import re

import fakeredis
import pytest
from rq import Queue

from growth import auth, jobs
from growth.db import utcnow

PASSWORD = "correct horse battery staple"
WARNING = "No worker has been seen"


@pytest.fixture
def redis_app(app_factory):  # type: ignore[no-untyped-def]
    """An app configured for Redis, talking to an in-memory fake instead (injected)."""
    app = app_factory(redis_url="redis://fake.invalid:6379/0", extra={"ratelimit": "off"})
    fake = fakeredis.FakeRedis()
    app.extensions["masthead_redis"] = fake
    app.extensions["masthead_queue"] = Queue("masthead", connection=fake, is_async=False)
    return app


def logged_in(app, session):  # type: ignore[no-untyped-def]
    auth.create_operator(session, "ops@example.com", PASSWORD)
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    client.post("/admin/login", data={"email": "ops@example.com", "password": PASSWORD, "csrf_token": csrf})
    return client


ADMIN_PAGES = ("/admin/", "/admin/posts", "/admin/tiers", "/admin/referrals", "/admin/outbox")


def test_admin_pages_warn_while_no_worker_was_seen_for_five_minutes(redis_app, session):
    client = logged_in(redis_app, session)
    connection = redis_app.extensions["masthead_redis"]
    for path in ADMIN_PAGES:
        page = client.get(path).get_data(as_text=True)
        assert WARNING in page and "make worker" in page and "never" in page, path
    now = utcnow()
    jobs.record_heartbeat(connection, now - dt.timedelta(minutes=4, seconds=50))
    assert WARNING not in client.get("/admin/").get_data(as_text=True)
    jobs.record_heartbeat(connection, now - dt.timedelta(minutes=5, seconds=10))
    page = client.get("/admin/").get_data(as_text=True)
    assert WARNING in page and (now - dt.timedelta(minutes=5, seconds=10)).strftime("%H:%M") in page


def test_no_warning_without_redis(app_factory, session):
    client = logged_in(app_factory(redis_url=None), session)
    assert WARNING not in client.get("/admin/").get_data(as_text=True)


def test_the_worker_leaves_a_heartbeat(redis_app):
    connection = redis_app.extensions["masthead_redis"]
    assert jobs.last_worker_seen(connection) is None
    before = utcnow() - dt.timedelta(seconds=1)
    worker = jobs.make_worker(Queue("masthead", connection=connection))
    assert worker.worker_ttl <= 120  # idle, it beats at least every worker_ttl - 15 seconds
    worker.work(burst=True)
    seen = jobs.last_worker_seen(connection)
    assert seen is not None and seen >= before


def test_make_run_says_emails_wait_for_a_worker(redis_app, app_factory):
    said = redis_app.test_cli_runner().invoke(args=["prepare-server"]).output
    assert "REDIS_URL is set" in said and "make worker" in said
    assert (
        "REDIS_URL"
        not in app_factory(redis_url=None).test_cli_runner().invoke(args=["prepare-server"]).output
    )


def test_an_unreachable_redis_is_a_warning_not_an_error_page(app_factory, session):
    app = app_factory(redis_url="redis://127.0.0.1:1/0", extra={"ratelimit": "off"})  # nothing listens
    page = logged_in(app, session).get("/admin/")
    assert page.status_code == 200
    assert "Redis cannot be reached" in page.get_data(as_text=True)
