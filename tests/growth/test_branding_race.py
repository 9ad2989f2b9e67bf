"""Two admins save the branding at once before any row exists: one row, both saves applied in turn.

Each save runs in its own app context and connection and commits for real (PostgreSQL only).
"""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import delete, func, select

from growth import branding
from growth.db import db, utcnow
from growth.models import PublicationSettings
from tests.conftest import USING_POSTGRES

SAVES = 8


@pytest.mark.skipif(not USING_POSTGRES, reason="races need PostgreSQL (TEST_DATABASE_URL)")
def test_concurrent_first_saves_leave_one_row_and_no_error(app: Flask) -> None:
    with app.app_context():
        db.session.execute(delete(PublicationSettings))
        db.session.commit()
    barrier = threading.Barrier(SAVES)
    errors: list[BaseException] = []

    def save(i: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                branding.update(db.session, {"name": f"Paper {i}"}, utcnow())
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(SAVES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(PublicationSettings)) == 1
            assert branding.load(db.session).name in {f"Paper {i}" for i in range(SAVES)}
    finally:
        with app.app_context():
            db.session.execute(delete(PublicationSettings))
            db.session.commit()
