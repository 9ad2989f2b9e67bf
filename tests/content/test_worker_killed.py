"""A worker SIGKILLed in the middle of a newsletter: another worker finishes it, nobody gets it
twice, and only the batch in flight is reported unknown, within two minutes (real RQ workers,
a private PostgreSQL and redis-server)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from redis import Redis
from sqlalchemy import func, select

from content import send_control, sending
from content.models import BatchState, Post, Send, SendBatch, SendState
from growth import jobs
from growth.db import commit, db, utcnow
from growth.models import Delivery
from tests.content.conftest import add_subscribers, make_post
from tests.fakes.sendgrid import HoldingSendGrid
from tests.services import wait_for
from tests.workers import WorkerProcess

READERS, BATCH = 8, 2
TWO_MINUTES = 120.0


def batch_states(app, send_id: int) -> Counter[str]:  # type: ignore[no-untyped-def]
    with app.app_context():
        rows = db.session.scalars(select(SendBatch.state).where(SendBatch.send_id == send_id)).all()
        db.session.rollback()
        return Counter(rows)


def held_batch(app, send_id: int, emails: set[str]) -> tuple[int, dict] | None:  # type: ignore[no-untyped-def]
    """(id, detail) of the batch in flight whose recipients are these (the held request's)."""
    with app.app_context():
        s = db.session
        for batch_id, detail, ids in s.execute(
            select(SendBatch.id, SendBatch.detail, SendBatch.delivery_ids).where(
                SendBatch.send_id == send_id, SendBatch.state == BatchState.IN_FLIGHT
            )
        ).all():
            if set(s.scalars(select(Delivery.to_email).where(Delivery.id.in_(ids)))) == emails:
                s.rollback()
                return batch_id, detail
        s.rollback()
        return None


def tick_marks_unknown(app, send_id: int) -> bool:  # type: ignore[no-untyped-def]
    """What the scheduler's tick does for sends, once; True once the held batch is unknown."""
    with app.app_context():
        send_control.send_due(db.session, utcnow())
        commit()
    return batch_states(app, send_id)[BatchState.UNKNOWN] == 1


def test_a_killed_worker_s_batch_is_unknown_within_two_minutes_and_the_rest_goes_once(  # type: ignore[no-untyped-def]
    own_app, private_postgres, private_redis, tmp_path: Path
):
    provider = HoldingSendGrid().start()
    mail = {"mail_backend": "sendgrid", "sendgrid_api_key": "SG.test", "sendgrid_api_host": provider.url}
    app = own_app(
        private_postgres.url, redis_url=private_redis.url, queue_async=True, send_batch_size=BATCH, **mail
    )
    env = {
        "MAIL_BACKEND": "sendgrid",
        "SENDGRID_API_KEY": "SG.test",
        "SENDGRID_API_HOST": provider.url,
        "SEND_BATCH_SIZE": str(BATCH),
    }
    workers = [WorkerProcess(private_postgres.url, private_redis.url, tmp_path, **env) for _ in range(2)]
    try:
        redis = Redis.from_url(private_redis.url)
        alive_keys = lambda: redis.keys(jobs.ALIVE_PREFIX + "*")  # noqa: E731
        wait_for(lambda: len(alive_keys()) == 2, 90, "both workers to beat")
        with app.app_context():
            add_subscribers(db.session, READERS)
            post = make_post(db.session)
            commit()
            provider.hold(1)  # the first batch request stays open: that worker is killed in it
            send = sending.create_send(db.session, db.session.get(Post, post.id), "all", utcnow())
            commit()
            send_id = send.id

        assert provider.arrived.wait(90), [w.output()[-2000:] for w in workers]
        emails = {p["to"][0]["email"] for p in provider.held[0]["personalizations"]}
        held_id, detail = wait_for(lambda: held_batch(app, send_id, emails), 30, "the held batch")  # type: ignore[misc]
        holder = detail["worker"]
        [victim] = [w for w in workers if holder.endswith(f":{w.pid}")]
        [survivor] = [w for w in workers if w is not victim]
        victim.kill()
        killed_at = time.monotonic()
        provider.release()  # the provider did get it: whether it went out stays unknown

        wait_for(lambda: batch_states(app, send_id)[BatchState.SENT] == READERS // BATCH - 1, 90, "the rest")
        wait_for(lambda: tick_marks_unknown(app, send_id), TWO_MINUTES, "the tick's report", every=2)
        assert time.monotonic() - killed_at < TWO_MINUTES
        assert survivor.alive()

        with app.app_context():
            s = db.session
            assert s.get(Send, send_id).state == SendState.DONE  # type: ignore[union-attr]
            of_send = Delivery.send_id == send_id
            states = dict(
                s.execute(select(Delivery.state, func.count()).where(of_send).group_by(Delivery.state)).all()
            )
            assert states == {"sent": READERS - BATCH, "unknown": BATCH}
            unknown = set(s.scalars(select(Delivery.to_email).where(of_send, Delivery.state == "unknown")))
            batch = s.get(SendBatch, held_id)
            assert batch.state == "unknown" and holder in (batch.error or "")  # type: ignore[union-attr]
            s.rollback()
        got = Counter(p["to"][0]["email"] for body in provider.requests for p in body["personalizations"])
        assert len(got) == READERS and set(got.values()) == {1}  # nobody twice, the held batch included
        assert unknown <= set(got)
    finally:
        provider.release()
        for worker in workers:
            worker.stop()
        provider.stop()
