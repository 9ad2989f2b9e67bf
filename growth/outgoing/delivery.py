"""Attempting deliveries: claim, sign, POST, record the attempt, then settle or schedule a retry.

A delivery is claimed (a conditional UPDATE, committed) before its request, so two workers never
send it at once; a worker that dies mid-request leaves a claim that lapses and the tick tries
again with the same webhook-id, which receivers deduplicate on. 2xx delivers; 410 disables the
endpoint; timeouts, connection errors, 429 and 5xx are retried with backoff for three days;
other answers fail the delivery. Three days of failures disable the endpoint and tell the admins.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session

from growth.db import commit
from growth.outgoing import backoff, signing, transport
from growth.outgoing.models import (
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from growth.outgoing.outbox import runtime

log = logging.getLogger(__name__)

# Longer than one attempt's 10 s budget: a live worker's claim never lapses under it.
CLAIM = dt.timedelta(seconds=60)
FAILING_LIMIT = dt.timedelta(days=3)
FIRST_TRY = dt.timedelta(hours=1)  # how soon after its event a delivery's first try normally comes
ERROR_LENGTH = 500


def claim(session: Session, delivery_id: int, now: dt.datetime) -> bool:
    """Take a due, unclaimed delivery for this worker; commits. False when it is not ours to send."""
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.state == DeliveryState.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
        )
        .values(locked_until=now + CLAIM)
        .execution_options(synchronize_session=False)
    )
    won = cast(CursorResult[Any], result).rowcount == 1
    commit()
    return won


def retryable(status: int | None) -> bool:
    """Whether an answer (None: no answer at all) is worth another try."""
    return status is None or status == 429 or status >= 500


def attempt(session: Session, delivery_id: int) -> str:
    """Attempt one delivery if it is due and unclaimed; returns its state afterwards."""
    rt = runtime()
    if not claim(session, delivery_id, rt.clock()):
        return "not_claimed"
    delivery = session.get(WebhookDelivery, delivery_id, populate_existing=True)
    assert delivery is not None
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id, populate_existing=True)
    event = session.get(WebhookEvent, delivery.event_id)
    if endpoint is None or event is None or not endpoint.active:
        delivery.state, delivery.locked_until = DeliveryState.CANCELLED, None
        delivery.last_error = "the endpoint is disabled"
        commit()
        return delivery.state
    # No transaction stays open during the request: on SQLite it would hold the write lock (every
    # transaction begins IMMEDIATE) and stall the web requests for as long as the endpoint takes.
    commit()
    config = current_app.config["MASTHEAD"]
    started = rt.clock()
    body = json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False)
    keys = signing.signing_secrets(
        endpoint.secret, endpoint.previous_secret, endpoint.previous_secret_expires_at, started
    )
    headers = {"Content-Type": "application/json", **signing.signed_headers(event.uid, body, keys, started)}
    status: int | None = None
    excerpt, error, duration = "", None, 0
    try:
        answer = rt.send(
            endpoint.url,
            body.encode(),
            headers,
            allow_private=config.webhooks_allow_private,
            production=config.is_production,
            resolver=rt.resolver,
        )
        status, excerpt, duration = answer.status, answer.excerpt, answer.duration_ms
    except transport.BlockedAddress as exc:
        error = f"refused: {exc}"
    except transport.TransportError as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - whatever it was, the attempt is logged and retried
        log.exception("webhook delivery %s: unexpected error", delivery_id)
        error = f"unexpected error: {exc}"
    finished = rt.clock()
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            at=started,
            status_code=status,
            duration_ms=duration or max(0, int((finished - started).total_seconds() * 1000)),
            response_excerpt=excerpt,
            error=error[:ERROR_LENGTH] if error else None,
        )
    )
    delivery.attempts += 1
    delivery.last_status, delivery.last_error = status, (error[:ERROR_LENGTH] if error else None)
    delivery.locked_until = None
    notify = _settle(session, delivery, endpoint, status, finished, rt)
    commit()
    if notify:
        tell_admins_disabled(session, endpoint)
    return delivery.state


def _settle(
    session: Session,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    status: int | None,
    now: dt.datetime,
    rt: Any,
) -> bool:
    """Set the delivery's outcome; True when the endpoint has just been disabled for failing."""
    if status is not None and 200 <= status < 300:
        delivery.state, delivery.delivered_at, delivery.next_attempt_at = DeliveryState.DELIVERED, now, None
        endpoint.failing_since = None
        return False
    if status == 410:
        delivery.state, delivery.next_attempt_at = DeliveryState.FAILED, None
        disable(session, endpoint, "the endpoint answered 410 Gone", now)
        return False
    endpoint.failing_since = endpoint.failing_since or now
    later = (
        backoff.next_attempt(delivery.retry_from, delivery.attempts, now, rt.rng)
        if retryable(status)
        else None
    )
    if later is None:
        delivery.state, delivery.next_attempt_at = DeliveryState.FAILED, None
    else:
        delivery.next_attempt_at = later
    # Three days of retries spent with no success since its first try is three days of failing too
    # (its first try came moments after the event, so the clock above may be a few seconds short).
    exhausted = (
        retryable(status) and later is None and endpoint.failing_since <= delivery.retry_from + FIRST_TRY
    )
    if exhausted or now - endpoint.failing_since >= FAILING_LIMIT:
        disable(session, endpoint, "failing for three days", now)
        return True
    return False


def disable(session: Session, endpoint: WebhookEndpoint, reason: str, now: dt.datetime) -> None:
    """Switch an endpoint off and cancel what waits for it (re-enabling does not resend those)."""
    endpoint.active, endpoint.disabled_reason, endpoint.updated_at = False, reason, now
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.state == DeliveryState.PENDING)
        .values(
            state=DeliveryState.CANCELLED, next_attempt_at=None, last_error=f"endpoint disabled: {reason}"
        )
        .execution_options(synchronize_session=False)
    )
    log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)


def tell_admins_disabled(session: Session, endpoint: WebhookEndpoint) -> None:
    """Email every admin that an endpoint was switched off (a failed email is logged, not raised)."""
    from growth.mailer import OutgoingMessage, get_backend
    from growth.models import Operator

    config = current_app.config["MASTHEAD"]
    admins = session.scalars(select(Operator.email).where(Operator.role == "admin").order_by(Operator.id))
    text = (
        f"The webhook endpoint {endpoint.url} ({endpoint.description or 'no description'}) failed every "
        "delivery for three days and has been disabled. Events are no longer sent to it.\n\n"
        f"Its delivery log: {config.base_url}/admin/webhooks/{endpoint.id}\n"
        "Fix the endpoint, then enable it again on that page."
    )
    for address in admins:
        try:
            get_backend().send(
                OutgoingMessage(
                    to_email=address,
                    subject=f"{config.publication_name}: webhook endpoint disabled",
                    text=text,
                    template="webhook_disabled",
                )
            )
        except Exception:  # noqa: BLE001 - the endpoint stays disabled either way
            log.exception("could not tell %s that endpoint %s was disabled", address, endpoint.id)


def deliver_group(session: Session, delivery_ids: list[int]) -> dict[str, int]:
    """Attempt one endpoint's deliveries in order; counts of the states they end in."""
    counts: dict[str, int] = {}
    for delivery_id in delivery_ids:
        state = attempt(session, delivery_id)
        counts[state] = counts.get(state, 0) + 1
    return counts
