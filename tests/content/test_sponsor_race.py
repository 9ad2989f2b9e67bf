"""Admins booking slots of the same send at once: one booking, the others 409, no 500 (PostgreSQL).

Each request commits for real, so the test commits rows and deletes them afterwards.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from flask import Flask
from sqlalchemy import delete, select

from content.sponsor_models import Booking, Sponsor
from growth import auth
from growth.db import db, utcnow
from growth.models import Operator
from tests.conftest import USING_POSTGRES

pytestmark = pytest.mark.skipif(not USING_POSTGRES, reason="races need PostgreSQL's real concurrency")
BOOKERS = 6


@pytest.mark.parametrize("same_slot", [True, False])
def test_one_booking_for_admins_racing_for_a_send(app: Flask, same_slot: bool) -> None:
    name = f"Race {uuid.uuid4().hex[:8]}"
    day = (utcnow().date() + dt.timedelta(days=300 + (0 if same_slot else 1))).isoformat()
    with app.app_context():
        operator = auth.create_operator(
            db.session, f"race-{uuid.uuid4().hex[:6]}@example.com", "a-long-password"
        )
        token = auth.create_token(db.session, operator)
        sponsor = Sponsor(name=name, contact_email="race@example.com", website="")
        db.session.add(sponsor)
        db.session.commit()
        operator_id, sponsor_id = operator.id, sponsor.id
    barrier = threading.Barrier(BOOKERS)
    codes: list[int] = []
    errors: list[BaseException] = []

    def book(i: int) -> None:
        try:
            client = app.test_client()
            barrier.wait()
            answer = client.post(
                "/api/v1/sponsorships/bookings",
                json={
                    "sponsor_id": sponsor_id,
                    "run_on": day,
                    "slot": "top" if same_slot else ("top", "middle", "bottom")[i % 3],
                    "creative_markdown": "[Acme](https://acme.example)",
                    "price_cents": 100 + i,
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            codes.append(answer.status_code)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion
            errors.append(exc)

    threads = [threading.Thread(target=book, args=(i,)) for i in range(BOOKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert not errors, errors
        assert sorted(codes) == [201] + [409] * (BOOKERS - 1)
        with app.app_context():
            booked = list(db.session.scalars(select(Booking).where(Booking.sponsor_id == sponsor_id)))
            assert len(booked) == 1
    finally:
        with app.app_context():
            db.session.execute(delete(Booking).where(Booking.sponsor_id == sponsor_id))
            db.session.execute(delete(Sponsor).where(Sponsor.id == sponsor_id))
            db.session.execute(delete(Operator).where(Operator.id == operator_id))
            db.session.commit()


def test_a_second_slot_waits_for_the_first_booking_and_finds_the_send_full(app: Flask) -> None:
    """The exact interleaving: A books top (uncommitted), B books bottom and waits, A commits."""
    from sqlalchemy.orm import Session

    from content import sponsorships
    from growth.errors import Conflict

    name = f"Interleaved {uuid.uuid4().hex[:8]}"
    day = (utcnow().date() + dt.timedelta(days=320)).isoformat()
    engine = db.engine
    assert engine is not None
    with app.app_context():
        sponsor = Sponsor(name=name, contact_email="race@example.com", website="")
        db.session.add(sponsor)
        db.session.commit()
        sponsor_id = sponsor.id

    def booking(slot: str) -> sponsorships.BookingInput:
        return sponsorships.BookingInput(
            sponsor_id=sponsor_id,
            run_on=day,
            slot=slot,
            creative_markdown="[A](https://a.example)",
            price_cents=1,
        )

    result: list[object] = []
    with app.app_context(), Session(engine) as first, Session(engine) as second:
        sponsorships.book_slot(first, booking("top"), utcnow())  # flushed, holding the newsletter's lock

        def b() -> None:
            with app.app_context():
                try:
                    result.append(sponsorships.book_slot(second, booking("bottom"), utcnow()).id)
                    second.commit()
                except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion
                    second.rollback()
                    result.append(exc)

        thread = threading.Thread(target=b)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive()  # B waits for A's unit of work
        first.commit()
        thread.join(30)
        try:
            assert len(result) == 1 and isinstance(result[0], Conflict) and result[0].code == "send_full"
        finally:
            first.execute(delete(Booking).where(Booking.sponsor_id == sponsor_id))
            first.execute(delete(Sponsor).where(Sponsor.id == sponsor_id))
            first.commit()
