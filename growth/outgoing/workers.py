"""Who runs deliveries: RQ jobs with Redis, short-lived threads without; the tick retries.

One job or thread per endpoint, so a slow endpoint (10 s per attempt at most) holds only its
own deliveries. Without Redis a thread delivers right after the commit, outside the request;
a process that exits first leaves its deliveries due in the table, and the next tick sends them.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from flask import Flask
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from growth import jobs
from growth.db import db
from growth.outgoing.delivery import deliver_group
from growth.outgoing.models import DeliveryState, WebhookDelivery
from growth.outgoing.outbox import runtime

log = logging.getLogger(__name__)

TASK = "webhooks.deliver"
DUE_PER_TICK = 1000
JOB_TIMEOUT = 600


@jobs.task(TASK)
def deliver_task(delivery_ids: list[int]) -> dict[str, int]:
    """The RQ job: one endpoint's deliveries."""
    return deliver_group(db.session, delivery_ids)


def default_dispatch(app: Flask, groups: dict[int, list[int]]) -> None:
    """RQ jobs when the app has a queue, else a daemon thread per endpoint; returns at once."""
    queue = app.extensions.get("masthead_queue")
    for endpoint_id, ids in groups.items():
        if queue is not None:
            queue.enqueue(jobs.run_task, TASK, ids, job_timeout=JOB_TIMEOUT)
        else:
            start_thread(app, endpoint_id, ids)


def start_thread(app: Flask, endpoint_id: int, ids: list[int]) -> threading.Thread | None:
    """Deliver one endpoint's deliveries in a thread; one thread per endpoint, which takes later ones too."""
    rt = runtime(app)
    with rt.lock:
        rt.waiting.setdefault(endpoint_id, []).extend(ids)
        if endpoint_id in rt.busy:
            return None  # its thread takes these before it ends
        rt.busy.add(endpoint_id)

    def run() -> None:
        while True:
            with rt.lock:  # the same lock as the hand-over: nothing handed over is left behind
                batch = rt.waiting.pop(endpoint_id, [])
                if not batch:
                    rt.busy.discard(endpoint_id)
                    return
            try:
                with app.app_context():
                    deliver_group(db.session, batch)
            except Exception:  # the rows stay due: the tick tries them again
                log.exception("webhook thread for endpoint %s failed", endpoint_id)

    thread = threading.Thread(target=run, name=f"masthead-webhook-{endpoint_id}", daemon=True)
    thread.start()
    return thread


def due_groups(session: Session, now: dt.datetime, limit: int = DUE_PER_TICK) -> dict[int, list[int]]:
    """Due, unclaimed deliveries by endpoint, oldest first."""
    rows = session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.id)
        .where(
            WebhookDelivery.state == DeliveryState.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    groups: dict[int, list[int]] = {}
    for endpoint_id, delivery_id in rows:
        groups.setdefault(endpoint_id, []).append(delivery_id)
    return groups


def run_due(session: Session, now: dt.datetime) -> str:
    """The tick's work: hand every due delivery (retries, and any a crash left) to the workers."""
    from flask import current_app

    groups = due_groups(session, now)
    session.rollback()  # read only; nothing of this transaction must wait for the workers
    if groups:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        runtime(app).dispatch(app, groups)
    return f"{sum(len(ids) for ids in groups.values())} due to {len(groups)} endpoints"
