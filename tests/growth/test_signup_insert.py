"""The signup's INSERT through Core: the row and the object are those the ORM's INSERT gave."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite

from growth import jobs, signup_setup, subscribers
from growth.db import utcnow
from growth.models import Subscriber

# Differ by construction between two signups: the ids, the addresses, the drawn code, the times.
OWN = {
    "id",
    "email",
    "email_normalized",
    "referral_code",
    "created_at",
    "status_changed_at",
    "stage_changed_at",
}


def _stored(session, subscriber_id: int) -> dict:  # type: ignore[no-untyped-def]
    table = Subscriber.__table__
    row = session.execute(select(*table.c).where(table.c.id == subscriber_id)).one()
    return dict(row._mapping)


def _orm_insert(session, values: dict) -> Subscriber:  # type: ignore[no-untyped-def]
    """The INSERT as the signup made it before: the ORM statement, returning the entity."""
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[session.get_bind().dialect.name]
    statement = insert(Subscriber).values(**values).on_conflict_do_nothing().returning(Subscriber)
    return session.scalars(statement).one()


def test_the_core_insert_stores_what_the_orm_insert_stored(app, session):  # type: ignore[no-untyped-def]
    now = utcnow()
    request = subscribers.SignupRequest(
        email="Core.Path@Example.com",
        name="Ada",
        source="api",
        utm_source="news",
        utm_medium="mail",
        utm_campaign="spring",
        referrer_url="https://blog.example.org/a",
        landing_url="https://news.example.com/",
        ip="203.0.113.9",
    )
    with app.test_request_context():
        new = subscribers.signup(session, request, now, defer=True).subscriber
        jobs.discard_pending()
    setup = new.setup_pending
    display, key = subscribers.normalize_email("orm.path@example.com")
    old = _orm_insert(session, subscribers.subscriber_values(request, display, key, now, None, setup))
    session.flush()
    session.expire_all()
    stored_new, stored_old = _stored(session, new.id), _stored(session, old.id)
    assert {k: v for k, v in stored_new.items() if k not in OWN} == {
        k: v for k, v in stored_old.items() if k not in OWN
    }
    assert stored_new["status"] == "pending" and stored_new["stage"] == "signed_up"
    assert stored_new["name"] == "Ada" and stored_new["signup_ip"] == "203.0.113.9"
    assert stored_new["setup_pending"]["form"] == "api"
    for column in ("created_at", "status_changed_at", "stage_changed_at"):
        assert stored_new[column] == stored_old[column] == now


def test_the_returned_subscriber_is_the_stored_row_loaded(app, session):  # type: ignore[no-untyped-def]
    now = utcnow()
    with app.test_request_context():
        result = subscribers.signup(
            session, subscribers.SignupRequest(email="loaded@example.com"), now, defer=True
        )
        jobs.discard_pending()
    subscriber = result.subscriber
    state = inspect(subscriber)
    assert result.created and state.persistent and not state.modified and not state.expired_attributes
    assert subscriber in session and session.get(Subscriber, subscriber.id) is subscriber
    stored = _stored(session, subscriber.id)
    assert {c: getattr(subscriber, c) for c in stored} == stored
    assert subscriber.created_at.tzinfo is not None and subscriber.created_at == now
    assert subscriber.memberships == []
    # a second signup of the address finds that row, and nothing is inserted twice
    with app.test_request_context():
        again = subscribers.signup(
            session, subscribers.SignupRequest(email="loaded@example.com"), now, defer=True
        )
    assert not again.created and again.subscriber.id == subscriber.id
    assert session.scalar(
        select(Subscriber.id).where(Subscriber.email_normalized == "loaded@example.com")
    ) == (subscriber.id)


def test_a_signup_finished_in_the_request_stores_sql_null_as_before(app, session):  # type: ignore[no-untyped-def]
    now = utcnow()
    request = subscribers.SignupRequest(email="inline@example.com")
    with app.test_request_context():
        new = subscribers.signup(session, request, now).subscriber  # not deferred: nothing pending
        jobs.discard_pending()
    display, key = subscribers.normalize_email("inline-orm@example.com")
    old = _orm_insert(session, subscribers.subscriber_values(request, display, key, now, None, None))
    session.flush()
    null = {
        id_: session.scalar(text("SELECT setup_pending IS NULL FROM subscribers WHERE id = :id"), {"id": id_})
        for id_ in (new.id, old.id)
    }
    assert {k: bool(v) for k, v in null.items()} == {
        new.id: True,
        old.id: True,
    }  # SQL NULL (not JSON null): the sweep's index skips them


def test_a_finished_signup_leaves_the_sweep_nothing(app, session):  # type: ignore[no-untyped-def]
    now = utcnow()
    with app.test_request_context():
        sub = subscribers.signup(
            session, subscribers.SignupRequest(email="done@example.com"), now, defer=True
        )
        jobs.discard_pending()
    assert subscribers.finish_signup(session, sub.subscriber.id, now)
    session.flush()
    stored = session.scalar(
        text("SELECT setup_pending IS NULL FROM subscribers WHERE id = :id"), {"id": sub.subscriber.id}
    )
    assert stored in (
        True,
        1,
    )  # SQL NULL: JSON null matched IS NOT NULL, and the sweep took it again and again
    assert session.scalars(select(Subscriber.id).where(Subscriber.setup_pending.is_not(None))).all() == []


def test_the_sweep_skips_rows_finished_with_a_json_null(app, session, monkeypatch):  # type: ignore[no-untyped-def]
    now = utcnow()
    monkeypatch.setattr(signup_setup, "BATCH", 1)  # the older row would fill the batch
    with app.test_request_context():
        old = subscribers.signup(
            session,
            subscribers.SignupRequest(email="old@example.com"),
            now - dt.timedelta(hours=1),
            defer=True,
        )
        new = subscribers.signup(session, subscribers.SignupRequest(email="new@example.com"), now, defer=True)
        jobs.discard_pending()
    session.flush()
    # what finishing stored before: JSON null, which IS NOT NULL
    session.execute(
        text("UPDATE subscribers SET setup_pending = 'null' WHERE id = :id"), {"id": old.subscriber.id}
    )
    session.expire_all()
    with app.app_context():
        swept = signup_setup.sweep_unfinished_signups(session, now + dt.timedelta(minutes=2))
    assert swept == {"finished": 1, "waiting": 0}
    assert session.get(Subscriber, new.subscriber.id).setup_pending is None
