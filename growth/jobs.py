"""Background work: RQ on Redis when REDIS_URL is set, in process otherwise.

Jobs are queued during a unit of work and handed over only after it commits, so a worker
never looks for a row that is not there yet, and a rolled-back request sends nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, has_app_context

from growth import logs

log = logging.getLogger(__name__)

# The worker's last heartbeat (a Unix time), read by the admin pages.
HEARTBEAT_KEY = "masthead:worker:last_seen"
# Idle, an RQ worker beats every worker_ttl - 15 seconds: well inside WORKER_SILENCE.
WORKER_TTL = 60
WORKER_SILENCE = dt.timedelta(minutes=5)

_TASKS: dict[str, Callable[..., Any]] = {}


def task(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function as a background task under a stable name."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        _TASKS[name] = fn
        return fn

    return register


def enqueue(name: str, *args: Any, must_succeed: bool = False, background_only: bool = False) -> None:
    """Queue a task to run once the current unit of work commits.

    `must_succeed`: run in process, a failure is raised to the caller instead of logged, for
    work whose only copy is in the arguments (a webhook batch: the sender must retry it).
    `background_only`: only a worker runs it (it calls out slowly, e.g. to Stripe); without
    Redis it is dropped, and a scheduled command must pick the work up from the database.
    """
    if name not in _TASKS:
        raise KeyError(f"unknown task {name!r}")
    if background_only and current_app.extensions.get("masthead_queue") is None:
        return
    g.setdefault("pending_jobs", []).append((name, args, must_succeed))


def discard_pending() -> None:
    """Forget queued tasks (the unit of work rolled back)."""
    g.pop("pending_jobs", None)


def dispatch_pending() -> None:
    """Hand queued tasks to RQ, or run them now when there is no Redis."""
    pending = g.pop("pending_jobs", [])
    queue = current_app.extensions.get("masthead_queue")
    failure: Exception | None = None
    for name, args, must_succeed in pending:
        if queue is not None:
            from rq import Retry

            queue.enqueue(
                run_task,
                name,
                *args,
                job_timeout=600,
                retry=Retry(max=5, interval=[10, 30, 60, 300, 900]),
                meta={"request_id": logs.current_request_id()},  # the worker logs under it
            )
        else:
            try:
                run_task(name, *args)
            except Exception as exc:  # in-process work must not fail the request that queued it
                log.exception("in-process task %s failed", name)
                if must_succeed and failure is None:
                    failure = exc
    if failure is not None:
        raise failure


def run_task(name: str, *args: Any) -> Any:
    """Entry point of every job, in a worker or in process."""
    if has_app_context():
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    else:
        from growth.app import create_app

        app = create_app()  # every domain's init_app imports its tasks
    # A fresh app context per job: its own session, its own queued follow-up jobs; its log lines
    # carry the id of the request that queued it (in process, that request's own id).
    with logs.request_id_context(_queued_by() or logs.current_request_id()), app.app_context():
        return _TASKS[name](*args)


def _queued_by() -> str | None:
    """The request id the running RQ job was queued under, if any."""
    from rq import get_current_job

    job = get_current_job()
    return job.meta.get("request_id") if job is not None else None


def record_heartbeat(connection: Any, now: dt.datetime) -> None:
    """Say a worker is alive at `now` (a Redis client or pipeline)."""
    connection.set(HEARTBEAT_KEY, f"{now.timestamp():.3f}")


def last_worker_seen(connection: Any) -> dt.datetime | None:
    """When a worker last beat, or None if none ever did."""
    raw = connection.get(HEARTBEAT_KEY)
    return dt.datetime.fromtimestamp(float(raw), dt.UTC) if raw else None


def make_worker(queue: Any) -> Any:
    """An RQ worker that leaves a heartbeat the admin pages read."""
    from rq import SimpleWorker

    class HeartbeatWorker(SimpleWorker):
        def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
            super().heartbeat(timeout, pipeline)
            record_heartbeat(pipeline if pipeline is not None else self.connection, dt.datetime.now(dt.UTC))

    return HeartbeatWorker([queue], connection=queue.connection, worker_ttl=WORKER_TTL)


def worker_warning(now: dt.datetime | None = None) -> str | None:
    """With Redis, a sentence for operators while no worker has been seen for WORKER_SILENCE."""
    connection = current_app.extensions.get("masthead_redis")
    if connection is None:
        return None  # no Redis: jobs run in process
    now = now or dt.datetime.now(dt.UTC)
    from redis.exceptions import RedisError

    try:
        seen = last_worker_seen(connection)
    except RedisError as exc:
        log.warning("cannot read the worker heartbeat: %s", exc)
        return (
            f"Redis cannot be reached ({exc}): with REDIS_URL set, no email, confirmations included, "
            "goes out until Redis and a worker (make worker) run."
        )
    if seen is not None and now - seen < WORKER_SILENCE:
        return None
    when = seen.strftime("%Y-%m-%d %H:%M UTC") if seen else "never"
    return (
        f"No worker has been seen for five minutes (last seen: {when}). With REDIS_URL set, every "
        "email, confirmations included, waits in the queue until a worker runs (make worker)."
    )


def init_app(app: Flask) -> None:
    """Connect to Redis and RQ when REDIS_URL is set."""
    config = app.config["MASTHEAD"]
    if not config.redis_url:
        return
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(config.redis_url)
    app.extensions["masthead_redis"] = connection
    app.extensions["masthead_queue"] = Queue("masthead", connection=connection, is_async=config.queue_async)
