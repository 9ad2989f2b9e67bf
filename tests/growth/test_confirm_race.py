"""Many clicks on one confirmation link at once: one transition, one welcome, no 500.

Each click is a request through the app with its own connection and a real commit, so these
tests commit rows and delete them afterwards.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import delete, func, select

from growth import links, subscribers
from growth.db import commit, db, utcnow
from growth.models import Delivery, Subscriber, SubscriberEvent
from growth.rollup_models import ReportDirty
from tests.conftest import USING_POSTGRES

CLICKS = 20


@pytest.fixture
def pending(app: Flask, outbox) -> Iterator[tuple[int, str]]:  # type: ignore[no-untyped-def]
    """A committed pending subscriber and the path of their confirmation link; deleted after."""
    email = f"confirm-race-{uuid.uuid4().hex[:8]}@example.com"
    with app.test_request_context():
        result = subscribers.signup(db.session, subscribers.SignupRequest(email=email), utcnow())
        commit()
        sub_id = result.subscriber.id
        path = links.confirm_url(result.subscriber).removeprefix("http://masthead.test")
    yield sub_id, path
    with app.app_context():
        db.session.execute(delete(Subscriber).where(Subscriber.id == sub_id))
        # the report marks of the signup and the clicks have no foreign key: they would outlive it
        db.session.execute(delete(ReportDirty).where(ReportDirty.subscriber_id == sub_id))
        db.session.commit()


def click_at_once(app: Flask, path: str, n: int) -> list[int]:
    """GET `path` from `n` threads released together; the status codes (or the errors)."""
    barrier = threading.Barrier(n)
    codes: list[int] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            client = app.test_client()
            barrier.wait()
            codes.append(client.get(path).status_code)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return codes


def outcome(app: Flask, sub_id: int) -> tuple[str, int, list[tuple[str | None, str]]]:
    """(status, welcome deliveries, status events) as committed."""
    with app.app_context():
        status = db.session.scalar(select(Subscriber.status).where(Subscriber.id == sub_id))
        welcomes = db.session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.subscriber_id == sub_id, Delivery.template == "welcome")
        )
        events = db.session.execute(
            select(SubscriberEvent.from_value, SubscriberEvent.to_value)
            .where(SubscriberEvent.subscriber_id == sub_id, SubscriberEvent.field == "status")
            .order_by(SubscriberEvent.id)
        ).all()
    return str(status), int(welcomes or 0), [tuple(e) for e in events]  # type: ignore[misc]


@pytest.mark.skipif(not USING_POSTGRES, reason="races need PostgreSQL (TEST_DATABASE_URL)")
def test_parallel_clicks_on_one_confirmation_link_confirm_once_on_postgres(app, pending):
    sub_id, path = pending
    codes = click_at_once(app, path, CLICKS)
    assert codes == [200] * CLICKS
    assert outcome(app, sub_id) == ("active", 1, [(None, "pending"), ("pending", "active")])


@pytest.mark.skipif(USING_POSTGRES, reason="the SQLite variant of the race above")
def test_parallel_clicks_on_one_confirmation_link_never_fail_on_sqlite(app, pending):
    sub_id, path = pending
    codes = click_at_once(app, path, CLICKS)
    assert codes == [200] * CLICKS
    assert outcome(app, sub_id) == ("active", 1, [(None, "pending"), ("pending", "active")])
