"""An idle worker waits on its queue quietly: no read timeout cuts its blocking dequeue short
(real Redis, a real `flask --app wsgi worker` process).

redis-py 8 reads for 5 seconds by default. RQ's worker raises the pool's timeout above its
dequeue's (BLPOP, 45 seconds), but a connection opened before that kept 5 seconds, and every
dequeue on it ended in "could not connect to Redis instance: Timeout reading from socket".
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from redis import Redis
from redis.exceptions import RedisError

from growth import jobs
from growth.cli import upgrade_database
from tests.services import wait_for
from tests.workers import WorkerProcess

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/11"


def redis_app(url: str) -> Flask:
    """A bare app with only the jobs extension, on this Redis."""
    app = Flask(__name__)
    app.config["MASTHEAD"] = SimpleNamespace(redis_url=url, queue_async=True)
    jobs.init_app(app)
    return app


def test_a_connection_opened_before_the_worker_waits_out_a_long_dequeue() -> None:
    app = redis_app(REDIS_URL)
    connection = app.extensions["masthead_redis"]
    try:
        connection.ping()  # the pool's first connection, opened before the worker exists
    except RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    jobs.make_worker(app.extensions["masthead_queue"])

    empty = f"masthead:test:nothing:{uuid.uuid4().hex}"  # nobody pushes to it
    started = time.monotonic()
    assert connection.blpop([empty], timeout=7) is None  # raised TimeoutError after 5 s
    assert time.monotonic() - started >= 6.5
    connection.connection_pool.disconnect()


def test_an_idle_worker_process_listens_without_timeouts(private_redis, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    database_url = f"sqlite:///{tmp_path / 'worker.db'}"
    upgrade_database(database_url)
    worker = WorkerProcess(database_url, private_redis.url, tmp_path)
    try:
        redis = Redis.from_url(private_redis.url)
        wait_for(lambda: jobs.last_worker_seen(redis), 60, "the worker's first heartbeat")
        wait_for(lambda: "Listening on" in worker.output(), 30, "the worker to listen")
        time.sleep(12)  # more than two of redis-py's 5-second reads
        assert worker.alive(), worker.output()[-3000:]
        assert "Timeout reading from socket" not in worker.output(), worker.output()[-3000:]
        assert "could not connect to Redis" not in worker.output(), worker.output()[-3000:]
    finally:
        worker.stop()
