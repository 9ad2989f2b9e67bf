"""`make worker` survives Redis going away: it waits, reconnects and carries on (real RQ,
a private redis-server stopped and started, a private PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from redis import Redis
from sqlalchemy import select

from growth import jobs
from growth.db import db
from growth.models import Delivery
from tests.fakes.sendgrid import HoldingSendGrid
from tests.growth.helpers import signup
from tests.services import wait_for
from tests.workers import WorkerProcess


def delivery_states(app) -> list[str]:  # type: ignore[no-untyped-def]
    with app.app_context():
        states = list(db.session.scalars(select(Delivery.state).order_by(Delivery.id)))
        db.session.rollback()
        return states


def test_the_worker_survives_redis_going_away_during_a_job_and_carries_on(  # type: ignore[no-untyped-def]
    own_app, private_postgres, private_redis, tmp_path: Path
):
    provider = HoldingSendGrid().start()
    mail = {"mail_backend": "sendgrid", "sendgrid_api_key": "SG.test", "sendgrid_api_host": provider.url}
    app = own_app(private_postgres.url, redis_url=private_redis.url, queue_async=True, **mail)
    worker = WorkerProcess(
        private_postgres.url,
        private_redis.url,
        tmp_path,
        MAIL_BACKEND="sendgrid",
        SENDGRID_API_KEY="SG.test",
        SENDGRID_API_HOST=provider.url,
    )
    try:
        redis = Redis.from_url(private_redis.url)
        wait_for(lambda: jobs.last_worker_seen(redis), 60, "the worker's first heartbeat")
        client = app.test_client()

        provider.hold(1)  # the confirmation's provider call stays open...
        assert signup(client, "before@example.com").status_code == 202
        assert provider.arrived.wait(60), worker.output()[-3000:]
        private_redis.stop()  # ...while Redis goes away; the job then ends without Redis
        provider.release()
        wait_for(lambda: delivery_states(app) == ["sent"], 30, "the held email to be recorded sent")
        wait_for(lambda: "Redis" in worker.output(), 30, "the worker to notice Redis is gone")
        assert worker.alive(), worker.output()[-3000:]

        private_redis.start()  # empty: no persistence, as after a Redis restart
        assert signup(client, "after@example.com").status_code == 202
        wait_for(lambda: delivery_states(app) == ["sent", "sent"], 90, "the worker to carry on")
        assert worker.alive()
        assert [r["personalizations"][0]["to"][0]["email"] for r in provider.requests] == [
            "before@example.com",
            "after@example.com",
        ]
    finally:
        worker.stop()
        provider.stop()


def test_an_idle_worker_stops_on_sigterm_and_does_not_start_again(  # type: ignore[no-untyped-def]
    private_postgres, private_redis, tmp_path: Path
):
    # RQ's idle worker answers SIGTERM by leaving its work loop normally: taken for a lost
    # Redis, a new worker started in its place and `systemctl stop` waited for SIGKILL.
    worker = WorkerProcess(private_postgres.url, private_redis.url, tmp_path)
    try:
        redis = Redis.from_url(private_redis.url)
        wait_for(lambda: jobs.last_worker_seen(redis), 60, "the worker's first heartbeat")
        worker.process.terminate()
        worker.process.wait(timeout=15)  # raises TimeoutExpired while it keeps working
        assert worker.process.returncode == 0, worker.output()[-3000:]
        assert "reconnecting" not in worker.output()
    finally:
        worker.stop()
