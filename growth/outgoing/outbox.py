"""The outbox: events written in the change's own unit of work, handed to workers after commit.

`emit` adds the event and one delivery per subscribed endpoint to the session; nothing leaves
until that session commits (a rollback takes the rows and the hand-over with it). After the
commit the deliveries go to the app's dispatcher: RQ jobs with Redis, a short-lived thread per
endpoint without, so neither the web request nor another endpoint waits for a slow one. What a
crash loses between commit and hand-over is still in the table, due: the tick picks it up.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from growth.db import utcnow
from growth.outgoing import registry, transport
from growth.outgoing.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from growth.outgoing.payloads import iso
from growth.outgoing.signing import new_event_id

log = logging.getLogger(__name__)

KEY = "masthead_webhooks"
PENDING = "webhooks_pending"  # session.info: endpoint id -> delivery ids written in this transaction
ENDPOINTS = "webhooks_endpoints"  # session.info: the active endpoints, read once per transaction

# (app, {endpoint id: [delivery ids]}) -> None; must return at once (the caller may be a request).
Dispatch = Callable[[Flask, dict[int, list[int]]], None]


@dataclass
class Runtime:
    """How this app delivers: the dispatcher, the HTTP call, the clock and the jitter's randomness."""

    dispatch: Dispatch
    send: Callable[..., transport.Answer] = transport.post
    clock: Callable[[], dt.datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)
    resolver: transport.Resolver = transport.system_resolver
    busy: set[int] = field(default_factory=set)  # endpoints a thread of this process is working on
    waiting: dict[int, list[int]] = field(default_factory=dict)  # delivery ids those threads take next
    lock: threading.Lock = field(default_factory=threading.Lock)


def runtime(app: Flask | None = None) -> Runtime:
    """The app's delivery runtime."""
    return (app or current_app).extensions[KEY]  # type: ignore[no-any-return]


def invalidate(session: Session) -> None:
    """Forget this transaction's cached endpoints (after one was added, changed or removed)."""
    session.info.pop(ENDPOINTS, None)


def _active_endpoints(session: Session) -> list[tuple[int, frozenset[str]]]:
    cached = session.info.get(ENDPOINTS)
    if cached is None:
        rows = session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.events).where(WebhookEndpoint.active.is_(True))
        )
        cached = session.info[ENDPOINTS] = [(i, frozenset(events or [])) for i, events in rows]
    return cached  # type: ignore[no-any-return]


def emit(
    session: Session,
    type_name: str,
    data: dict[str, Any],
    now: dt.datetime,
    *,
    endpoint_ids: list[int] | None = None,
) -> WebhookEvent | None:
    """Record an event for every active endpoint that wants it (or for `endpoint_ids`); flushes.

    None when no endpoint wants it: an event nobody subscribed to is not stored.
    """
    if registry.event_type(type_name) is None:
        raise KeyError(f"unknown webhook event type {type_name!r}")
    if endpoint_ids is None:
        targets = [i for i, events in _active_endpoints(session) if type_name in events]
    else:
        targets = list(endpoint_ids)
    if not targets:
        return None
    payload = {"type": type_name, "timestamp": iso(now), "data": data}
    webhook_event = WebhookEvent(uid=new_event_id(), type=type_name, payload=payload, created_at=now)
    session.add(webhook_event)
    session.flush()
    deliveries = [
        WebhookDelivery(
            event_id=webhook_event.id, endpoint_id=i, next_attempt_at=now, retry_from=now, created_at=now
        )
        for i in targets
    ]
    session.add_all(deliveries)
    session.flush()
    for d in deliveries:
        hand_over_after_commit(session, d.endpoint_id, d.id)
    return webhook_event


def hand_over_after_commit(session: Session, endpoint_id: int, delivery_id: int) -> None:
    """Give this delivery to the dispatcher once the session's transaction commits."""
    session.info.setdefault(PENDING, {}).setdefault(endpoint_id, []).append(delivery_id)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT released: the outer transaction may still roll back
    session.info.pop(ENDPOINTS, None)
    pending = session.info.pop(PENDING, None)
    if not pending or not has_app_context() or KEY not in current_app.extensions:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        runtime(app).dispatch(app, pending)
    except Exception:  # the rows are committed and due: the tick delivers them
        log.exception("handing webhook deliveries to the workers failed; the tick will retry")


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous: Any) -> None:
    if previous.nested:
        return  # only a SAVEPOINT was undone: what the outer transaction wrote still stands
    session.info.pop(ENDPOINTS, None)
    session.info.pop(PENDING, None)
