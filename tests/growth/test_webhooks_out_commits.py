"""Outgoing webhooks with real commits: after the commit, outside the request, and after a crash.

These tests commit rows (no surrounding transaction) and delete them afterwards.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import delete, select

from growth.db import db, utcnow
from growth.models import Subscriber
from growth.outgoing import service, workers
from growth.outgoing.models import DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookEvent


@pytest.fixture
def live(app: Flask, receiver, outbox) -> Iterator[tuple[Flask, int]]:  # type: ignore[no-untyped-def]
    """The app delivering as in production without Redis (threads), and a committed endpoint."""
    rt = app.extensions["masthead_webhooks"]
    held, rt.dispatch = rt.dispatch, workers.default_dispatch
    queue = app.extensions.pop("masthead_queue", None)  # as without Redis
    with app.app_context():
        endpoint = service.create_endpoint(
            db.session, {"url": receiver.url, "events": ["subscriber.created"]}, utcnow()
        )
        db.session.commit()
        endpoint_id = endpoint.id
    try:
        yield app, endpoint_id
    finally:
        rt.dispatch = held
        if queue is not None:
            app.extensions["masthead_queue"] = queue
        _wait_idle(app)
        with app.app_context():
            event_ids = select(WebhookDelivery.event_id).where(WebhookDelivery.endpoint_id == endpoint_id)
            db.session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(event_ids)))
            db.session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
            db.session.execute(delete(Subscriber).where(Subscriber.email.like("hooks-live-%")))
            db.session.commit()


def _wait_idle(app: Flask, seconds: float = 15) -> None:
    rt = app.extensions["masthead_webhooks"]
    deadline = time.monotonic() + seconds
    while rt.busy and time.monotonic() < deadline:
        time.sleep(0.05)


def _states(app: Flask, endpoint_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(WebhookDelivery.state).where(WebhookDelivery.endpoint_id == endpoint_id)
            )
        )


def test_a_slow_endpoint_never_holds_the_request(live, receiver):  # type: ignore[no-untyped-def]
    import threading

    app, endpoint_id = live
    receiver.gate = threading.Event()  # the endpoint answers only when the test says so
    email = f"hooks-live-{uuid.uuid4().hex[:6]}@example.com"
    response = app.test_client().post("/api/v1/subscribers", json={"email": email})
    assert response.status_code == 202  # answered while the endpoint has not answered yet
    assert not receiver.gate.is_set()
    assert receiver.arrived.wait(10)  # the event reached the endpoint within ten seconds
    assert _states(app, endpoint_id) == [DeliveryState.PENDING]  # still waiting for its answer
    receiver.gate.set()
    _wait_idle(app)
    assert _states(app, endpoint_id) == [DeliveryState.DELIVERED]


def test_events_for_a_busy_endpoint_go_with_its_thread(live, receiver):  # type: ignore[no-untyped-def]
    import threading

    app, endpoint_id = live
    receiver.gate = threading.Event()
    client = app.test_client()
    assert client.post("/api/v1/subscribers", json={"email": "hooks-live-1@example.com"}).status_code == 202
    assert receiver.arrived.wait(10)  # the endpoint's thread is busy with the first event
    assert client.post("/api/v1/subscribers", json={"email": "hooks-live-2@example.com"}).status_code == 202
    receiver.gate.set()
    _wait_idle(app)  # no tick: the busy thread took the second one too
    assert _states(app, endpoint_id) == [DeliveryState.DELIVERED, DeliveryState.DELIVERED]
    assert len(receiver.received) == 2


def test_the_outbox_survives_a_crash_between_commit_and_delivery(live, receiver):  # type: ignore[no-untyped-def]
    app, endpoint_id = live
    rt = app.extensions["masthead_webhooks"]
    rt.dispatch = lambda _app, _groups: None  # the process dies right after the commit
    response = app.test_client().post(
        "/api/v1/subscribers", json={"email": f"hooks-live-{uuid.uuid4().hex[:6]}@example.com"}
    )
    assert response.status_code == 202
    time.sleep(0.3)
    assert receiver.received == [] and _states(app, endpoint_id) == [DeliveryState.PENDING]
    rt.dispatch = workers.default_dispatch  # a new process: its tick finds the delivery due
    with app.app_context():
        workers.run_due(db.session, utcnow())
    assert receiver.arrived.wait(10)
    _wait_idle(app)
    assert _states(app, endpoint_id) == [DeliveryState.DELIVERED] and len(receiver.received) == 1


def test_a_rolled_back_change_sends_nothing(live, receiver):  # type: ignore[no-untyped-def]
    from growth import subscribers

    app, endpoint_id = live
    with app.app_context():
        subscribers.signup(
            db.session, subscribers.SignupRequest(email="hooks-live-rollback@example.com"), utcnow()
        )
        db.session.rollback()
        db.session.commit()  # a later commit of the same session hands nothing over
    time.sleep(0.3)
    _wait_idle(app)
    assert receiver.received == [] and _states(app, endpoint_id) == []


def test_with_redis_each_endpoint_gets_its_own_job():  # type: ignore[no-untyped-def]
    class Queue:
        def __init__(self) -> None:
            self.jobs: list[tuple] = []

        def enqueue(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.jobs.append((fn, args, kwargs))

    app = Flask("x")
    queue = Queue()
    app.extensions["masthead_queue"] = queue
    workers.default_dispatch(app, {1: [10, 11], 2: [12]})
    assert [args for _, args, _ in queue.jobs] == [(workers.TASK, [10, 11]), (workers.TASK, [12])]
    assert all(kw["job_timeout"] == workers.JOB_TIMEOUT for _, _, kw in queue.jobs)
