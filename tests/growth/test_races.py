"""Races between connections: committed rows on PostgreSQL, cleaned up afterwards."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import delete, func, select

from growth import subscribers
from growth.db import commit, db, utcnow
from growth.models import Delivery, Subscriber
from tests.conftest import USING_POSTGRES

pytestmark = pytest.mark.skipif(not USING_POSTGRES, reason="races need PostgreSQL (TEST_DATABASE_URL)")


def _race(app, email: str, n: int) -> list[BaseException]:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with app.app_context():
                barrier.wait()
                subscribers.signup(db.session, subscribers.SignupRequest(email=email), utcnow())
                commit()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return errors


def _cleanup(app, email: str) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        ids = list(db.session.scalars(select(Subscriber.id).where(Subscriber.email_normalized == email)))
        if ids:
            db.session.execute(delete(Subscriber).where(Subscriber.id.in_(ids)))
        db.session.commit()


def test_racing_signups_make_one_row_and_one_confirmation(app, outbox):
    email = f"race-{uuid.uuid4().hex[:8]}@example.com"
    try:
        for _round in range(3):
            assert _race(app, email, 8) == []
        with app.app_context():
            rows = db.session.scalar(select(func.count()).where(Subscriber.email_normalized == email))
            sub_id = db.session.scalar(select(Subscriber.id).where(Subscriber.email_normalized == email))
            confirmations = db.session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.subscriber_id == sub_id)
            )
        assert rows == 1
        assert confirmations == 1  # the 10-minute resend window is claimed atomically
    finally:
        _cleanup(app, email)
