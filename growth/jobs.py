"""Background work: RQ on Redis when REDIS_URL is set, in process otherwise.

Jobs are queued during a unit of work and handed over only after it commits, so a worker
never looks for a row that is not there yet, and a rolled-back request sends nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, has_app_context

log = logging.getLogger(__name__)

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
                run_task, name, *args, job_timeout=600, retry=Retry(max=5, interval=[10, 30, 60, 300, 900])
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
    # A fresh app context per job: its own session, its own queued follow-up jobs.
    with app.app_context():
        return _TASKS[name](*args)


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
