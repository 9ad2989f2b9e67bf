"""Prometheus metrics: what processes count as they go, and what a scrape reads from the stores.

Counters and histograms live in the process that observes them; under gunicorn each worker
writes them to PROMETHEUS_MULTIPROC_DIR (set by `make serve` before Python starts) and a scrape
adds every worker's files up. Figures that other processes produce (deliveries, the queue, the
tick) are read from the database and Redis at scrape time, so they are right whoever made them.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from growth import signals
from growth.logs import route_of

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Counting deliveries by state reads the whole table: at most once per this many seconds.
STORE_CACHE_SECONDS = 30.0
_store_cache: dict[int, tuple[float, list[Any]]] = {}

disable_created_metrics()  # the *_created series say when a process started: noise here

REQUESTS = Counter(
    "masthead_http_requests",
    "HTTP requests answered, by route template and status",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "masthead_http_request_duration_seconds", "Time to answer a request, by route template", ["route"]
)
SIGNUPS = Counter("masthead_signups", "Signups taken (form, embed, API, import)")
CONFIRMATIONS = Counter("masthead_confirmations", "Subscribers confirming for the first time")
WEBHOOK_LAG = Histogram(
    "masthead_webhook_lag_seconds",
    "From a provider's event time to its webhook reaching us",
    ["provider"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 6 * 3600, 24 * 3600),
)


def observe_request(environ: dict[str, Any], method: str, status: int, seconds: float) -> None:
    """Count one answered request (growth.logs calls it once the response is sent)."""
    route = route_of(environ)
    REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    REQUEST_SECONDS.labels(route=route).observe(seconds)


def observe_webhook_lag(provider: str, event_time: dt.datetime | float | None, now: dt.datetime) -> None:
    """How late a provider's event reached us (a unix time or an aware datetime)."""
    if event_time is None:
        return
    seconds = event_time.timestamp() if isinstance(event_time, dt.datetime) else float(event_time)
    WEBHOOK_LAG.labels(provider=provider).observe(max(0.0, now.timestamp() - seconds))


def _on_signup(_subscriber: Any, **_kw: Any) -> None:
    SIGNUPS.inc()


def _on_confirmed(_subscriber: Any, *, first_time: bool = True, **_kw: Any) -> None:
    if first_time:
        CONFIRMATIONS.inc()


class StoreCollector(Collector):
    """Gauges read at scrape time: deliveries by state, the queue, the scheduled work."""

    def __init__(self, app: Flask, max_age: float = STORE_CACHE_SECONDS):
        self.app = app
        self.max_age = max_age

    def collect(self) -> Iterator[GaugeMetricFamily]:
        cached = _store_cache.get(id(self.app))
        if cached is not None and time.monotonic() - cached[0] < self.max_age:
            yield from cached[1]
            return
        families = list(self._read())
        _store_cache[id(self.app)] = (time.monotonic(), families)
        yield from families

    def _read(self) -> Iterator[GaugeMetricFamily]:
        errors = GaugeMetricFamily(
            "masthead_scrape_error", "1 when a store could not be read for this scrape", labels=["store"]
        )
        for store, read in (("database", self._database), ("redis", self._redis)):
            try:
                yield from read()
                errors.add_metric([store], 0)
            except Exception as exc:  # a scrape must answer while a store is down
                log.warning("metrics: cannot read the %s: %s", store, exc.__class__.__name__)
                errors.add_metric([store], 1)
        yield errors

    def _database(self) -> Iterator[GaugeMetricFamily]:
        from sqlalchemy import func, select

        from growth.db import db
        from growth.models import Delivery, ScheduledTask

        session = db.session
        try:
            deliveries = GaugeMetricFamily("masthead_deliveries", "Deliveries by state", labels=["state"])
            for state, count in session.execute(
                select(Delivery.state, func.count()).group_by(Delivery.state)
            ).all():
                deliveries.add_metric([str(state)], count)
            duration = GaugeMetricFamily(
                "masthead_scheduled_task_duration_seconds",
                "How long each scheduled task (and the tick, `tick`) took when it last ran",
                labels=["task"],
            )
            finished = GaugeMetricFamily(
                "masthead_scheduled_task_last_finished_timestamp_seconds",
                "When each scheduled task last finished (unix time)",
                labels=["task"],
            )
            for task in session.scalars(select(ScheduledTask)).all():
                started, ended = task.last_started_at, task.last_finished_at
                if started and ended and ended >= started:
                    duration.add_metric([task.name], (ended - started).total_seconds())
                if task.last_finished_at:
                    finished.add_metric([task.name], task.last_finished_at.timestamp())
        finally:
            session.rollback()
        yield deliveries
        yield duration
        yield finished

    def _redis(self) -> Iterator[GaugeMetricFamily]:
        queue = self.app.extensions.get("masthead_queue")
        if queue is None:
            return
        from growth import jobs

        depth = GaugeMetricFamily("masthead_queue_depth", "Jobs waiting in the RQ queue", labels=["queue"])
        age = GaugeMetricFamily(
            "masthead_queue_oldest_age_seconds", "Age of the oldest waiting job (0: none)", labels=["queue"]
        )
        depth.add_metric([queue.name], queue.count)
        oldest = 0.0
        ids = queue.get_job_ids(0, 0)
        if ids:
            job = queue.fetch_job(ids[0])
            if job is not None and job.enqueued_at is not None:
                enqueued = job.enqueued_at.replace(tzinfo=job.enqueued_at.tzinfo or dt.UTC)
                oldest = max(0.0, (dt.datetime.now(dt.UTC) - enqueued).total_seconds())
        age.add_metric([queue.name], oldest)
        failed = GaugeMetricFamily(
            "masthead_queue_failed", "Jobs that failed for good (RQ's failed registry)", labels=["queue"]
        )
        failed.add_metric([queue.name], queue.failed_job_registry.count)
        yield depth
        yield age
        yield failed
        seen = jobs.last_worker_seen(queue.connection)
        beat = GaugeMetricFamily(
            "masthead_worker_last_seen_timestamp_seconds", "When a worker last left its heartbeat (unix time)"
        )
        if seen is not None:
            beat.add_metric([], seen.timestamp())
        yield beat


def render_metrics(app: Flask) -> tuple[bytes, str]:
    """The exposition text: every worker's counters (multiprocess) or this process's, plus the stores."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ProcessMetrics())
    max_age = float(app.config["MASTHEAD"].extra.get("metrics_cache_seconds", STORE_CACHE_SECONDS))
    registry.register(StoreCollector(app, max_age))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _ProcessMetrics(Collector):
    """This process's own metrics (the default registry), without registering them twice."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


# --- who may read them ------------------------------------------------------------------------


def may_read_metrics(
    address: str | None,
    forwarded: bool,
    authorization: str | None,
    allow_from: tuple[str, ...],
    token: str | None,
) -> bool:
    """Loopback (not relayed by an untrusted proxy), an allowed network, or the bearer token."""
    if token and authorization:
        scheme, _, offered = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), token.encode()):
            return True
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    # A loopback peer that forwards for someone else (a proxy on this host that we were not
    # told to trust) speaks for that someone: not local.
    if ip.is_loopback and not forwarded:
        return True
    return any(ip in ipaddress.ip_network(n) for n in allow_from)


def metrics_request_allowed() -> bool:
    """The current request may read /metrics."""
    from growth.extensions import client_ip

    config = current_app.config["MASTHEAD"]
    forwarded = config.trusted_proxy_count == 0 and (
        "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
    )
    return may_read_metrics(
        client_ip(),
        forwarded,
        request.headers.get("Authorization"),
        config.metrics_allow_from,
        config.metrics_token,
    )


def init_app(app: Flask) -> None:
    """Count signups and first confirmations."""
    signals.subscriber_signed_up.connect(_on_signup, weak=False)
    signals.subscriber_confirmed.connect(_on_confirmed, weak=False)
