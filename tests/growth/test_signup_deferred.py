"""The deferred signup: the request inserts, one job finishes, exactly once, and lost jobs are swept.

The public signup answers after its INSERT (`setup_pending` holds the rest); `finish_signup`
records the consent, memberships, history, referral key and confirmation. Run twice, run at
once from many threads (real commits), lost, or overtaken by a second signup of the same
address, it still does everything once.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace

import fakeredis
import pytest
from flask import Flask
from rq import Queue
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from growth import jobs, scheduler, signup_setup, subscribers
from growth.config import Config, ConfigError
from growth.db import db, utcnow
from growth.models import Consent, Delivery, Membership, Subscriber, SubscriberEvent
from growth.rollup_models import ReportDirty
from referrals.models import AddressKey
from tests.conftest import USING_POSTGRES
from tests.growth.helpers import messages, signup
from tests.races import at_once

FINISHERS = 8


def counts(session: Session, subscriber_id: int) -> dict[str, int]:
    """How many of each row the signup's finish makes, for one subscriber."""
    out = {}
    for name, model in (
        ("consents", Consent),
        ("memberships", Membership),
        ("events", SubscriberEvent),
        ("deliveries", Delivery),
        ("address_keys", AddressKey),
    ):
        out[name] = int(
            session.scalar(
                select(func.count()).select_from(model).where(model.subscriber_id == subscriber_id)
            )
            or 0
        )
    return out


ONCE = {"consents": 1, "memberships": 1, "events": 2, "deliveries": 1, "address_keys": 1}


def waiting_app(app_factory) -> tuple[Flask, Queue]:  # type: ignore[no-untyped-def]
    """An app whose jobs (one per signup) wait in a (fake) Redis queue that no worker reads."""
    app = app_factory(
        redis_url="redis://fake.invalid:6379/0", extra={"ratelimit": "off"}, signup_finish="job"
    )
    fake = fakeredis.FakeRedis()
    queue = Queue("masthead", connection=fake)
    app.extensions["masthead_redis"] = fake
    app.extensions["masthead_queue"] = queue
    return app, queue


def test_the_request_only_inserts_and_queues_one_job(app_factory, session):  # type: ignore[no-untyped-def]
    app, queue = waiting_app(app_factory)
    answer = signup(app.test_client(), "later@example.com", utm_source="news")
    assert (answer.status_code, answer.get_json()) == (202, {"status": "pending"})
    sub = session.scalars(select(Subscriber)).one()
    assert (sub.status, sub.utm_source, sub.setup_pending is not None) == ("pending", "news", True)
    assert counts(session, sub.id) == dict.fromkeys(ONCE, 0)
    [job] = queue.jobs
    assert job.id == f"masthead-finish-signup-{sub.id}"
    assert job.args == (subscribers.FINISH_SIGNUP_TASK, sub.id)


def test_the_job_run_twice_records_and_mails_once(client, session, outbox):  # type: ignore[no-untyped-def]
    assert signup(client, "twice@example.com").status_code == 202  # its job ran in process
    sub = session.scalars(select(Subscriber)).one()
    assert sub.setup_pending is None
    assert counts(session, sub.id) == ONCE
    assert jobs.run_task(subscribers.FINISH_SIGNUP_TASK, sub.id) is False  # the replay finds nothing
    session.expire_all()
    assert counts(session, sub.id) == ONCE
    assert len(messages(outbox, "confirmation")) == 1
    consent = session.scalars(select(Consent)).one()
    assert consent.at == sub.created_at  # dated at the signup, not when the job ran


def test_the_finish_keeps_what_the_request_carried(app_factory, session):  # type: ignore[no-untyped-def]
    app, queue = waiting_app(app_factory)
    client = app.test_client()
    assert signup(client, "referrer@example.com").status_code == 202
    referrer = session.scalars(select(Subscriber)).one()
    answer = client.post(
        "/api/v1/subscribers",
        json={"email": "friend@example.com", "ref": referrer.referral_code, "source": "homepage"},
        headers={"User-Agent": "Reader/1.0"},
    )
    assert answer.status_code == 202
    friend = session.scalars(select(Subscriber).where(Subscriber.email == "friend@example.com")).one()
    with app.app_context():
        for job in queue.jobs:
            if job.args[0] == subscribers.FINISH_SIGNUP_TASK:
                job.perform()
    session.expire_all()
    consent = session.scalars(select(Consent).where(Consent.subscriber_id == friend.id)).one()
    assert (consent.user_agent, consent.form) == ("Reader/1.0", "homepage")
    from referrals.models import Referral

    referral = session.scalars(select(Referral)).one()
    assert (referral.referrer_id, referral.referred_id) == (referrer.id, friend.id)
    assert referral.status == "pending"


def test_a_second_signup_while_pending_gets_the_same_answer_and_no_double(app_factory, session):  # type: ignore[no-untyped-def]
    app, queue = waiting_app(app_factory)
    client = app.test_client()
    first = signup(client, "again@example.com")
    second = signup(client, "Again@example.com")
    assert (second.status_code, second.get_json()) == (first.status_code, first.get_json())
    sub = session.scalars(select(Subscriber)).one()
    assert sub.setup_pending is None  # the second signup finished the first one's setup
    # one confirmation (the second is within CONFIRMATION_RESEND_SECONDS), a consent per signup
    assert counts(session, sub.id) == {**ONCE, "consents": 2}
    finish = next(j for j in queue.jobs if j.args[0] == subscribers.FINISH_SIGNUP_TASK)
    with app.app_context():
        assert finish.perform() is False  # the first signup's job, late: nothing left
    session.expire_all()
    assert counts(session, sub.id) == {**ONCE, "consents": 2}
    deliveries = [j for j in queue.jobs if j.args[0] == "send_delivery"]
    assert len(deliveries) == 1


def test_a_lost_job_is_finished_by_the_sweep_once_its_job_is_gone(app_factory, session):  # type: ignore[no-untyped-def]
    app, queue = waiting_app(app_factory)
    assert signup(app.test_client(), "lost@example.com").status_code == 202
    sub = session.scalars(select(Subscriber)).one()
    [job] = queue.jobs
    with app.app_context():
        soon = sub.created_at + dt.timedelta(seconds=30)
        assert signup_setup.sweep_unfinished_signups(session, soon) == {"finished": 0, "waiting": 0}
        later = sub.created_at + signup_setup.SWEEP_AFTER
        assert signup_setup.sweep_unfinished_signups(session, later) == {"finished": 0, "waiting": 1}
        job.delete()  # as when Redis restarted without persistence, or the worker was killed
        assert signup_setup.sweep_unfinished_signups(session, later) == {"finished": 1, "waiting": 0}
        assert signup_setup.sweep_unfinished_signups(session, later) == {"finished": 0, "waiting": 0}
    session.expire_all()
    assert counts(session, sub.id) == ONCE
    assert [j.args[0] for j in queue.jobs] == ["send_delivery"]  # the confirmation, queued once


def test_finished_signups_are_sql_null_and_the_sweep_reaches_a_lost_job_behind_them(
    app, session, monkeypatch
):  # type: ignore[no-untyped-def]
    # Stored as JSON null, every finished signup matched the sweep's `IS NOT NULL`: the oldest
    # BATCH of them filled each sweep and a lost job behind them was never reached.
    now = utcnow()
    monkeypatch.setattr(signup_setup, "BATCH", 3)
    with app.test_request_context():
        for i in range(5):  # finished: at once, and deferred then finished as its job does
            request = subscribers.SignupRequest(email=f"done{i}@example.com")
            done = subscribers.signup(session, request, now, defer=i % 2 == 0).subscriber
            subscribers.finish_signup(session, done.id, now)
            jobs.discard_pending()
        request = subscribers.SignupRequest(email="behind@example.com")
        lost = subscribers.signup(session, request, now + dt.timedelta(seconds=1), defer=True).subscriber
        jobs.discard_pending()
    session.flush()
    raw = session.execute(text("SELECT count(*) FROM subscribers WHERE setup_pending IS NOT NULL")).scalar()
    assert raw == 1  # only the lost one
    assert signup_setup.sweep_unfinished_signups(session, now + dt.timedelta(minutes=2))["finished"] == 1
    assert counts(session, lost.id) == ONCE


def test_without_redis_a_lost_job_is_swept_too(app, session):  # type: ignore[no-untyped-def]
    now = utcnow()
    with app.test_request_context():
        request = subscribers.SignupRequest(email="gone@example.com")
        result = subscribers.signup(session, request, now, defer=True)
        jobs.discard_pending()  # the process died before handing the job over
    sub_id = result.subscriber.id
    assert counts(session, sub_id) == dict.fromkeys(ONCE, 0)
    assert signup_setup.sweep_unfinished_signups(session, now + dt.timedelta(minutes=2))["finished"] == 1
    assert counts(session, sub_id) == ONCE
    assert "unfinished-signups" in {t.name for t in scheduler.scheduled()}


def test_erasing_an_unfinished_signup_drops_its_setup_and_the_job_does_nothing(app, session):  # type: ignore[no-untyped-def]
    now = utcnow()
    with app.test_request_context():
        result = subscribers.signup(
            session,
            subscribers.SignupRequest(email="erase@example.com", ip="203.0.113.9", user_agent="UA"),
            now,
            defer=True,
        )
        jobs.discard_pending()
    sub = result.subscriber
    assert sub.setup_pending and sub.setup_pending["ip"] == "203.0.113.9"
    subscribers.erase(session, sub, now)
    assert sub.setup_pending is None
    assert subscribers.finish_signup(session, sub.id, now) is False
    assert counts(session, sub.id)["consents"] == 0


def test_paying_before_the_signup_finished_confirms_without_a_confirmation_email(app, session):  # type: ignore[no-untyped-def]
    now = utcnow()
    with app.test_request_context():
        result = subscribers.signup(
            session, subscribers.SignupRequest(email="payer@example.com", source="web"), now, defer=True
        )
        jobs.discard_pending()  # the job has not run when the Checkout's payment arrives
        paid = subscribers.join_by_payment(session, "Payer@example.com", now + dt.timedelta(seconds=5))
    assert paid is not None and paid.id == result.subscriber.id
    assert (paid.status, paid.setup_pending) == ("active", None)
    # the signup's consent and the payment's, one membership, and no confirmation to click:
    # the payment stood for it (the welcome is the one email)
    consents = session.scalars(
        select(Consent.form).where(Consent.subscriber_id == paid.id).order_by(Consent.id)
    )
    assert list(consents) == ["api", "stripe_checkout"]
    templates = session.scalars(select(Delivery.template).where(Delivery.subscriber_id == paid.id))
    assert list(templates) == ["welcome"]
    assert counts(session, paid.id)["memberships"] == 1


# --- real commits: many finishers of one signup at once --------------------------------------


@pytest.fixture
def unfinished(app: Flask, outbox) -> Iterator[int]:  # type: ignore[no-untyped-def]
    """A committed signup whose job was never handed over; deleted after."""
    email = f"finish-race-{uuid.uuid4().hex[:8]}@example.com"
    with app.test_request_context():
        result = subscribers.signup(db.session, subscribers.SignupRequest(email=email), utcnow(), defer=True)
        jobs.discard_pending()
        db.session.commit()
        sub_id = result.subscriber.id
    yield sub_id
    with app.app_context():
        db.session.execute(delete(Subscriber).where(Subscriber.id == sub_id))
        # the report mark the finish made has no foreign key: it would outlive the row
        db.session.execute(delete(ReportDirty).where(ReportDirty.subscriber_id == sub_id))
        db.session.commit()


def test_finishers_racing_on_one_signup_finish_it_once(app, unfinished):  # type: ignore[no-untyped-def]
    """On PostgreSQL the row lock makes them take turns; on SQLite BEGIN IMMEDIATE does."""
    outcomes = at_once(
        app, FINISHERS, lambda: bool(jobs.run_task(subscribers.FINISH_SIGNUP_TASK, unfinished))
    )
    assert sorted(outcomes) == [False] * (FINISHERS - 1) + [True]
    with app.app_context():
        assert counts(db.session, unfinished) == ONCE
        assert db.session.get(Subscriber, unfinished).setup_pending is None  # type: ignore[union-attr]


def test_with_signup_finish_sweep_the_request_queues_nothing_and_the_finisher_does_it(app_factory, session):  # type: ignore[no-untyped-def]
    app, queue = waiting_app(app_factory)
    app.config["MASTHEAD"] = replace(app.config["MASTHEAD"], signup_finish="sweep")
    assert signup(app.test_client(), "swept@example.com").status_code == 202
    sub = session.scalars(select(Subscriber)).one()
    assert queue.jobs == [] and sub.setup_pending is not None
    with app.app_context():
        assert signup_setup.finish_new_signups(session, utcnow()) == {"finished": 1, "waiting": 0}
        assert signup_setup.finish_new_signups(session, utcnow()) == {"finished": 0, "waiting": 0}
    session.expire_all()
    assert counts(session, sub.id) == ONCE
    assert [j.args[0] for j in queue.jobs] == ["send_delivery"]
    assert signup_setup.start_finisher(app_factory(signup_finish="job")) is None  # no thread


def test_signup_finish_must_be_job_or_sweep():  # type: ignore[no-untyped-def]
    assert Config.from_env({}).signup_finish == "sweep"  # the default (bench/load.py)
    assert Config.from_env({"SIGNUP_FINISH": "Job"}).signup_finish == "job"
    with pytest.raises(ConfigError, match="SIGNUP_FINISH"):
        Config.from_env({"SIGNUP_FINISH": "later"}).validate()


# --- real commits: every worker's finisher walking the same batch ------------------------------


@pytest.fixture
def unfinished_many(app: Flask, outbox) -> Iterator[list[int]]:  # type: ignore[no-untyped-def]
    """Committed signups whose jobs were never handed over; deleted after."""
    ids = []
    with app.test_request_context():
        for _ in range(12):
            email = f"share-{uuid.uuid4().hex[:8]}@example.com"
            request = subscribers.SignupRequest(email=email)
            ids.append(subscribers.signup(db.session, request, utcnow(), defer=True).subscriber.id)
        jobs.discard_pending()
        db.session.commit()
    yield ids
    with app.app_context():
        db.session.execute(delete(Subscriber).where(Subscriber.id.in_(ids)))
        db.session.execute(delete(ReportDirty).where(ReportDirty.subscriber_id.in_(ids)))
        db.session.commit()


@pytest.mark.skipif(not USING_POSTGRES, reason="row locks are PostgreSQL's (SQLite has one writer)")
def test_a_finisher_leaves_a_row_another_holds_and_takes_the_rest(app, unfinished_many):  # type: ignore[no-untyped-def]
    held, *rest = unfinished_many
    with app.app_context():
        engine = db.session.get_bind()
    done: list[dict[str, int]] = []

    def finisher() -> None:
        with app.app_context():
            done.append(signup_setup.finish_new_signups(db.session, utcnow()))

    with engine.connect() as other:  # another worker's finish under way
        other.execute(text("SELECT id FROM subscribers WHERE id = :i FOR UPDATE"), {"i": held})
        thread = threading.Thread(target=finisher)
        thread.start()
        thread.join(20)
        waited = thread.is_alive()  # stuck behind the held row
        other.rollback()
    thread.join(60)
    assert not waited, "the finisher waited for the row another transaction held"
    assert done[0]["finished"] == len(rest)
    with app.app_context():
        assert db.session.get(Subscriber, held).setup_pending is not None  # type: ignore[union-attr]
        assert signup_setup.finish_new_signups(db.session, utcnow())["finished"] == 1
        for sub_id in unfinished_many:
            assert counts(db.session, sub_id) == ONCE


def test_finishers_of_several_workers_finish_each_signup_once(app, unfinished_many):  # type: ignore[no-untyped-def]
    finished = at_once(app, 4, lambda: signup_setup.finish_new_signups(db.session, utcnow())["finished"])
    with app.app_context():
        left = signup_setup.finish_new_signups(db.session, utcnow())["finished"]
        assert sum(finished) + left == len(unfinished_many)
        for sub_id in unfinished_many:
            assert counts(db.session, sub_id) == ONCE
