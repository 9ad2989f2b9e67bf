"""Background work: RQ on Redis when REDIS_URL is set, in process otherwise.

Jobs are queued during a unit of work and handed over only after it commits, so a worker
never looks for a row that is not there yet, and a rolled-back request sends nothing.

While Redis cannot be reached, a job is not lost: a task registered `on_redis_down="inline"`
(the default: one email, one webhook batch) runs in process at once, as without Redis; one
registered `"tick"` (a newsletter's planning and batches) is left to the scheduler's tick,
which finds its work in the database and queues it again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, has_app_context
from redis.exceptions import RedisError

from growth import logs

log = logging.getLogger(__name__)

# The worker's last heartbeat (a Unix time), read by the admin pages.
HEARTBEAT_KEY = "masthead:worker:last_seen"
# Idle, an RQ worker beats every worker_ttl - 15 seconds: well inside WORKER_SILENCE.
WORKER_TTL = 60
WORKER_SILENCE = dt.timedelta(minutes=5)

_TASKS: dict[str, Callable[..., Any]] = {}
_ON_REDIS_DOWN: dict[str, str] = {}
_JOB_IDS: dict[str, Callable[..., str]] = {}
INLINE, TICK = "inline", "tick"
# RQ statuses of a job that will still run: the tick does not queue its work a second time.
WAITING = {"queued", "started"}


def task(
    name: str, *, on_redis_down: str = INLINE, job_id: Callable[..., str] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function as a background task under a stable name.

    `on_redis_down`: "inline" runs it in process when Redis cannot be reached, "tick" leaves it
    to the scheduled work that recovers it from the database. `job_id(*args)`: a stable RQ job
    id, so that `job_waiting` can tell whether the job is still in the queue.
    """
    if on_redis_down not in (INLINE, TICK):
        raise ValueError(f"on_redis_down must be {INLINE!r} or {TICK!r}")

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        _TASKS[name] = fn
        _ON_REDIS_DOWN[name] = on_redis_down
        if job_id is not None:
            _JOB_IDS[name] = job_id
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
    g.setdefault("pending_jobs", []).append((name, args, must_succeed, background_only))


def discard_pending() -> None:
    """Forget queued tasks (the unit of work rolled back)."""
    g.pop("pending_jobs", None)


def dispatch_pending() -> None:
    """Hand queued tasks to RQ, or run them now when there is no Redis (or it is down)."""
    pending = g.pop("pending_jobs", [])
    queue = current_app.extensions.get("masthead_queue")
    redis_down = False
    failure: Exception | None = None
    for name, args, must_succeed, background_only in pending:
        if queue is not None and not redis_down:
            try:
                _enqueue(queue, name, args)
                continue
            except RedisError as exc:  # the first failure stands for the rest: no wait per job
                log.warning("Redis unreachable, cannot queue %s: %s", name, exc)
                redis_down = True
        if queue is not None and (background_only or _ON_REDIS_DOWN.get(name) == TICK) and not must_succeed:
            log.warning("task %s%r left to the scheduled tick while Redis is down", name, args)
            continue
        try:
            run_task(name, *args)
        except Exception as exc:  # in-process work must not fail the request that queued it
            log.exception("in-process task %s failed", name)
            if must_succeed and failure is None:
                failure = exc
    if failure is not None:
        raise failure


def _enqueue(queue: Any, name: str, args: tuple[Any, ...]) -> None:
    from rq import Retry

    make_id = _JOB_IDS.get(name)
    queue.enqueue(
        run_task,
        name,
        *args,
        job_timeout=600,
        retry=Retry(max=5, interval=[10, 30, 60, 300, 900]),
        job_id=make_id(*args) if make_id else None,
        meta={"request_id": logs.current_request_id()},  # the worker logs under it
    )


def job_waiting(name: str, *args: Any) -> bool:
    """Whether the RQ job of this task (a `job_id` task) is queued or running; False without Redis."""
    queue = current_app.extensions.get("masthead_queue")
    make_id = _JOB_IDS.get(name)
    if queue is None or make_id is None:
        return False
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        status = Job.fetch(make_id(*args), connection=queue.connection).get_status(refresh=False)
    except NoSuchJobError:
        return False
    except RedisError:
        return False  # cannot tell: the task runs again, and its own claim stops a double
    return str(getattr(status, "value", status)) in WAITING


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


RECONNECT_MAX_WAIT = 30.0  # seconds between two tries to reach Redis again

# Each worker process says it is alive every ALIVE_EVERY seconds from a thread of its own, so it
# beats during a long job too; the key lapses ALIVE_TTL seconds after a kill. Work a worker
# claims records its identity, and the tick asks whether that identity is still alive.
ALIVE_PREFIX = "masthead:worker:alive:"
ALIVE_TTL = 30
ALIVE_EVERY = 10.0
_identity: str | None = None


def worker_identity() -> str | None:
    """This process's worker identity (host:pid) when it runs an RQ worker, else None."""
    return _identity


def start_liveness(connection: Any) -> str:
    """Beat `ALIVE_PREFIX + host:pid` in a daemon thread for as long as this process lives."""
    import os
    import socket
    import threading

    global _identity
    if _identity is not None:
        return _identity
    identity = f"{socket.gethostname()}:{os.getpid()}"

    def beat() -> None:
        while True:
            try:
                connection.set(ALIVE_PREFIX + identity, "1", ex=ALIVE_TTL)
                record_heartbeat(connection, dt.datetime.now(dt.UTC))  # busy for long, still seen
            except RedisError as exc:  # Redis away: the worker itself waits for it
                log.warning("worker liveness not recorded: %s", exc)
            threading.Event().wait(ALIVE_EVERY)

    threading.Thread(target=beat, name="masthead-liveness", daemon=True).start()
    _identity = identity
    return identity


def workers_alive(identities: list[str]) -> set[str] | None:
    """Which of these worker identities beat within ALIVE_TTL; None when that cannot be told."""
    connection = current_app.extensions.get("masthead_redis")
    if connection is None or not identities:
        return None if connection is None else set()
    try:
        found = connection.mget([ALIVE_PREFIX + i for i in identities])
    except RedisError as exc:
        log.warning("cannot read worker liveness: %s", exc)
        return None
    return {i for i, value in zip(identities, found, strict=True) if value is not None}


def run_worker(queue: Any, burst: bool = False, sleep: Callable[[float], None] | None = None) -> None:
    """Work the queue until asked to stop; a lost Redis is waited for, then work goes on.

    RQ's own worker quits on most Redis errors ("found an unhandled exception, quitting..."), so
    each time it stops without a stop request a new one starts once Redis answers a ping.
    """
    import time

    from rq.exceptions import StopRequested

    pause = sleep or time.sleep
    asked: list[int] = []  # signals received before a worker had its own handlers
    current: list[Any] = []  # the RQ worker being started or run
    _stop_while_starting(asked, current)
    start_liveness(queue.connection)
    while not asked:
        worker = make_worker(queue)
        current[:] = [worker]
        if asked:
            return
        try:
            worker.work(burst=burst)
        except RedisError as exc:  # raised by its start-up or its clean-up, Redis being gone
            log.warning("worker %s stopped: Redis unreachable (%s)", worker.name, exc)
        except StopRequested:
            return
        if burst or _stop_asked(worker):
            return
        log.warning("worker %s lost Redis; reconnecting", worker.name)
        wait = 1.0
        try:
            pause(wait)  # never a busy loop, whatever made RQ's worker quit
            while not _redis_answers(queue.connection):
                pause(wait)
                if _stop_asked(worker):
                    return
                wait = min(wait * 2, RECONNECT_MAX_WAIT)
        except StopRequested:  # RQ's SIGTERM handler, still installed, raises it while idle
            return
        log.info("Redis answers again: starting a new worker")


def _stop_while_starting(asked: list[int], current: list[Any]) -> None:
    """Until RQ's worker installs its signal handlers (at the end of its start-up), SIGTERM and
    SIGINT are noted, and the worker being started is marked to stop before its first dequeue,
    instead of the process dying by the signal. Nothing is raised: an exception raised in a
    handler can be swallowed where it lands (a log call's error handling), losing the stop."""
    import signal
    import threading

    def stop(signum: int, _frame: Any) -> None:
        asked.append(signum)
        if current:
            current[0]._stop_requested = True  # RQ's loop checks it before each dequeue

    if threading.current_thread() is threading.main_thread():  # signals reach the main thread
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)


def _stop_asked(worker: Any) -> bool:
    """Whether the worker was asked to stop (SIGTERM or SIGINT), busy or idle.

    RQ marks a stop asked during a job with `_stop_requested`; one asked while idle raises
    StopRequested, which its own work loop catches and returns from normally, leaving only the
    time of the request (`_shutdown_requested_date`) behind. Missing that, an idle worker would
    take its SIGTERM for a lost Redis and start again, never stopping.
    """
    asked_busy = getattr(worker, "_stop_requested", False)
    return bool(asked_busy or getattr(worker, "_shutdown_requested_date", None))


def _redis_answers(connection: Any) -> bool:
    try:
        return bool(connection.ping())
    except RedisError:
        return False


def worker_warning(now: dt.datetime | None = None) -> str | None:
    """With Redis, a sentence for operators while no worker has been seen for WORKER_SILENCE."""
    connection = current_app.extensions.get("masthead_redis")
    if connection is None:
        return None  # no Redis: jobs run in process
    now = now or dt.datetime.now(dt.UTC)

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

    # A connect timeout: an unreachable Redis costs a request two seconds, not a hang. No read
    # timeout: the worker's blocking dequeue waits longer than any sensible one. Said explicitly:
    # redis-py 8 reads for 5 seconds by default, and a connection the pool opened before RQ's
    # worker raised the pool's timeout kept it, so every idle dequeue (BLPOP, 45 seconds) on it
    # ended in "Timeout reading from socket".
    connection = Redis.from_url(config.redis_url, socket_connect_timeout=2, socket_timeout=None)
    app.extensions["masthead_redis"] = connection
    app.extensions["masthead_queue"] = Queue("masthead", connection=connection, is_async=config.queue_async)
