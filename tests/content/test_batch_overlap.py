"""A delivery dropped from a batch at its claim (reader no longer active) and queued again by
"send to skipped" belongs to the new batch only: resending or expiring the first never touches it.
Deliveries stay queued while their batch is in flight, so batches must not share one."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select, update

from content import send_control
from content.models import Send, SendBatch
from growth import jobs
from growth.db import commit, db, utcnow
from growth.models import Delivery, Subscriber
from tests.content.conftest import add_subscribers, make_post
from tests.content.test_sending import DiesOnCall, WorkerDied, _planned, recipients_of


def _pause(session, sid, until):  # type: ignore[no-untyped-def]
    session.execute(update(Subscriber).where(Subscriber.id == sid).values(paused_until=until))
    session.commit()


class DuringRequest:
    """Wraps a backend: runs `hook` once, while the first batch request is in flight."""

    def __init__(self, inner, hook):  # type: ignore[no-untyped-def]
        self.inner, self.hook, self.name, self.fired = inner, hook, inner.name, False

    def send(self, message):  # type: ignore[no-untyped-def]
        return self.inner.send(message)

    def send_batch(self, batch):  # type: ignore[no-untyped-def]
        if not self.fired:
            self.fired = True
            self.hook()
        return self.inner.send_batch(batch)


def test_resending_a_batch_while_another_batch_carries_one_of_its_deliveries(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    ids = add_subscribers(session, 3, prefix="dbl")
    post = make_post(session)
    session.commit()
    send_id, (b0,) = _planned(sg_app, post.id, 1)
    _pause(session, ids[1], utcnow() + dt.timedelta(days=3))  # paused after planning
    fake_sendgrid.fail_next.append(400)  # batch 1 is refused: failed, reader 1 skipped (paused)
    with sg_app.app_context():
        assert jobs.run_task("content.deliver_batch", b0) == "failed"
    _pause(session, ids[1], None)  # back from the pause
    with sg_app.app_context():  # the operator: send to the skipped (batch 2, queued)
        assert send_control.send_to_skipped(db.session, db.session.get(Send, send_id), utcnow()) == 1
        jobs.discard_pending()
        commit()
    b1 = session.scalars(
        select(SendBatch.id).where(SendBatch.send_id == send_id, SendBatch.number == 2)
    ).one()

    def operator_resends_batch_1():  # type: ignore[no-untyped-def]
        # while batch 2 is in flight (another worker), the operator resends the failed batch 1
        with sg_app.app_context():
            send_control.resend_batch(db.session, send_control.get_batch(db.session, send_id, 1), utcnow())
            commit()  # in process: batch 1 is delivered right here

    real = sg_app.extensions["masthead_mailer"]
    sg_app.extensions["masthead_mailer"] = DuringRequest(real, operator_resends_batch_1)
    try:
        with sg_app.app_context():
            jobs.run_task("content.deliver_batch", b1)
    finally:
        sg_app.extensions["masthead_mailer"] = real
    counts = Counter(recipients_of(fake_sendgrid))
    assert counts["dbl-1@example.com"] == 1, counts


def test_stale_batch_does_not_turn_a_delivery_queued_in_another_batch_unknown(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    ids = add_subscribers(session, 3, prefix="stl")
    post = make_post(session)
    session.commit()
    send_id, (b0,) = _planned(sg_app, post.id, 1)
    _pause(session, ids[1], utcnow() + dt.timedelta(days=3))
    real = sg_app.extensions["masthead_mailer"]
    sg_app.extensions["masthead_mailer"] = DiesOnCall(real, die_on=1)
    try:
        with sg_app.app_context(), pytest.raises(WorkerDied):
            jobs.run_task("content.deliver_batch", b0)
    finally:
        sg_app.extensions["masthead_mailer"] = real
    _pause(session, ids[1], None)
    with sg_app.app_context():  # reader 1, skipped in the dead batch, queued again in batch 2
        assert send_control.send_to_skipped(db.session, db.session.get(Send, send_id), utcnow()) == 1
        jobs.discard_pending()
        commit()
    with sg_app.app_context():  # the tick after the lease: batch 1 unknown
        send_control.mark_stale_in_flight(
            db.session, utcnow() + send_control.IN_FLIGHT_LEASE + dt.timedelta(minutes=1)
        )
        jobs.discard_pending()
        commit()
    session.expire_all()
    d1 = session.scalars(
        select(Delivery).where(Delivery.send_id == send_id, Delivery.subscriber_id == ids[1])
    ).one()
    assert d1.state == "queued", (d1.state, d1.error)  # it waits in batch 2, which has not run
    b1 = session.scalars(
        select(SendBatch.id).where(SendBatch.send_id == send_id, SendBatch.number == 2)
    ).one()
    with sg_app.app_context():
        jobs.run_task("content.deliver_batch", b1)
    assert "stl-1@example.com" in recipients_of(fake_sendgrid)


def test_batch_left_in_flight_by_the_previous_release_is_resolved(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    """An earlier release marked a claimed batch's deliveries `sending` before the request; a
    worker killed by the deploy leaves them so, and the tick must still resolve them."""
    add_subscribers(session, 3, prefix="dep")
    post = make_post(session)
    session.commit()
    send_id, (b0,) = _planned(sg_app, post.id, 1)
    long_ago = utcnow() - dt.timedelta(hours=1)
    session.execute(
        update(SendBatch).where(SendBatch.id == b0).values(state="in_flight", started_at=long_ago)
    )
    session.execute(update(Delivery).where(Delivery.send_id == send_id).values(state="sending", attempts=1))
    session.commit()
    with sg_app.app_context():
        assert send_control.mark_stale_in_flight(db.session, utcnow()) == 1
        commit()
    session.expire_all()
    states = Counter(session.scalars(select(Delivery.state).where(Delivery.send_id == send_id)))
    assert states == {"unknown": 3}, states
