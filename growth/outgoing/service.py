"""Endpoints as admins manage them: register, change, rotate the secret, delete, resend, test."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from growth.errors import NotFound, ValidationFailed
from growth.fields import Rule
from growth.outgoing import outbox, registry, signing, transport
from growth.outgoing.models import (
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from growth.outgoing.payloads import iso

URL = Rule.of(WebhookEndpoint.url, "url")
DESCRIPTION = Rule.of(WebhookEndpoint.description, "description")
LOG_PAGE = 50


def clean_url(raw: object) -> str:
    """An endpoint URL fit to store: http(s) (https in production), no credentials, no blocked IP."""
    url = URL.clean(raw)
    config = current_app.config["MASTHEAD"]
    try:
        transport.check_url(url, production=config.is_production)
    except ValueError as exc:
        raise ValidationFailed(f"url: {exc}", code="invalid_url") from exc
    if not config.webhooks_allow_private:
        # Names and literal addresses are caught now; what a name resolves to, on every attempt.
        hostname = urlsplit(url).hostname or ""
        try:
            literal: str | None = str(ipaddress.ip_address(hostname))
        except ValueError:
            literal = None
        local_name = hostname == "localhost" or hostname.endswith(".localhost")
        if local_name or (literal is not None and transport.is_blocked(literal)):
            raise ValidationFailed(
                "url: webhooks may not reach loopback, private or link-local addresses", code="invalid_url"
            )
    return url


def clean_events(raw: object) -> list[str]:
    """Known event types, each once, sorted (at least one)."""
    if not isinstance(raw, list) or not raw or not all(isinstance(e, str) for e in raw):
        raise ValidationFailed("events must be a non-empty list of event types", code="invalid_events")
    known = {t.name for t in registry.event_types()}
    unknown = [e for e in raw if e not in known]
    if unknown:
        raise ValidationFailed(f"unknown event type: {unknown[0][:64]}", code="invalid_events")
    return sorted(set(raw))


def create_endpoint(session: Session, data: dict[str, Any], now: dt.datetime) -> WebhookEndpoint:
    """A new active endpoint with a fresh secret; flushes."""
    endpoint = WebhookEndpoint(
        url=clean_url(data.get("url")),
        events=clean_events(data.get("events")),
        description=DESCRIPTION.clean_optional(data.get("description")) or "",
        active=True,
        secret=signing.new_secret(),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    session.flush()
    outbox.invalidate(session)
    return endpoint


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    """The endpoint, or NotFound."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def list_endpoints(session: Session) -> list[WebhookEndpoint]:
    """Every endpoint, oldest first."""
    return list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def update_endpoint(
    session: Session, endpoint: WebhookEndpoint, data: dict[str, Any], now: dt.datetime
) -> None:
    """Change what is given of url, events, description, active (enabling clears the failure clock)."""
    if "url" in data:
        endpoint.url = clean_url(data["url"])
    if "events" in data:
        endpoint.events = clean_events(data["events"])
    if "description" in data:
        endpoint.description = DESCRIPTION.clean_optional(data["description"]) or ""
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise ValidationFailed("active must be true or false", code="invalid_field")
        if data["active"] and not endpoint.active:
            endpoint.disabled_reason, endpoint.failing_since = None, None
        elif not data["active"] and endpoint.active:
            endpoint.disabled_reason = "disabled by an admin"
        endpoint.active = data["active"]
    endpoint.updated_at = now
    session.flush()
    outbox.invalidate(session)


def rotate_secret(session: Session, endpoint: WebhookEndpoint, now: dt.datetime) -> str:
    """A new secret; the current one keeps signing beside it for 24 hours. Returns the new one."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + signing.ROTATION_OVERLAP
    endpoint.secret = signing.new_secret()
    endpoint.updated_at = now
    session.flush()
    return endpoint.secret


def delete_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    """Remove the endpoint with its deliveries and their log."""
    session.delete(endpoint)
    session.flush()
    outbox.invalidate(session)


def send_test(session: Session, endpoint: WebhookEndpoint, now: dt.datetime) -> WebhookDelivery:
    """A `webhook.test` event to this endpoint alone, whatever it subscribes to."""
    if not endpoint.active:
        raise ValidationFailed("The endpoint is disabled: enable it first.", code="endpoint_disabled")
    data = {"endpoint_id": endpoint.id, "message": "A test event sent from the Masthead admin."}
    event = outbox.emit(session, registry.TEST_EVENT, data, now, endpoint_ids=[endpoint.id])
    assert event is not None
    delivery = session.scalars(select(WebhookDelivery).where(WebhookDelivery.event_id == event.id)).one()
    return delivery


def attempts_of(session: Session, delivery: WebhookDelivery) -> list[WebhookAttempt]:
    """A delivery's attempts, oldest first."""
    query = (
        select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id).order_by(WebhookAttempt.id)
    )
    return list(session.scalars(query))


def resend(
    session: Session, endpoint: WebhookEndpoint, delivery_id: int, now: dt.datetime
) -> WebhookDelivery:
    """Send a past event again, same webhook-id, with three fresh days of retries."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound("No such delivery for this endpoint.")
    if not endpoint.active:
        raise ValidationFailed("The endpoint is disabled: enable it first.", code="endpoint_disabled")
    if delivery.state != DeliveryState.PENDING:  # a pending one keeps a worker's claim, if any
        delivery.locked_until = None
    delivery.state, delivery.next_attempt_at, delivery.retry_from = DeliveryState.PENDING, now, now
    session.flush()
    outbox.hand_over_after_commit(session, endpoint.id, delivery.id)
    return delivery


def delivery_log(
    session: Session, endpoint: WebhookEndpoint, before: int | None = None, limit: int = LOG_PAGE
) -> list[tuple[WebhookDelivery, WebhookEvent, list[WebhookAttempt]]]:
    """The endpoint's newest deliveries (ids below `before`), each with its event and attempts."""
    query = select(WebhookDelivery, WebhookEvent).join(
        WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id
    )
    query = query.where(WebhookDelivery.endpoint_id == endpoint.id)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    rows = [(d, e) for d, e in session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit))]
    ids = [d.id for d, _ in rows]
    attempts: dict[int, list[WebhookAttempt]] = {i: [] for i in ids}
    if ids:
        for a in session.scalars(
            select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)).order_by(WebhookAttempt.id)
        ):
            attempts[a.delivery_id].append(a)
    return [(d, e, attempts[d.id]) for d, e in rows]


def pending_count(session: Session, endpoint: WebhookEndpoint) -> int:
    """Deliveries still waiting for this endpoint."""
    return int(
        session.scalar(
            select(func.count()).where(
                WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.state == DeliveryState.PENDING
            )
        )
        or 0
    )


def endpoint_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The API's shape of an endpoint (never its secrets)."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events),
        "active": endpoint.active,
        "disabled_reason": endpoint.disabled_reason,
        "previous_secret_expires_at": iso(endpoint.previous_secret_expires_at),
        "created_at": iso(endpoint.created_at),
        "updated_at": iso(endpoint.updated_at),
    }


def attempt_json(a: WebhookAttempt) -> dict[str, Any]:
    """One attempt in the delivery log."""
    return {
        "at": iso(a.at),
        "status": a.status_code,
        "duration_ms": a.duration_ms,
        "response_excerpt": a.response_excerpt,
        "error": a.error,
    }


def delivery_json(d: WebhookDelivery, e: WebhookEvent, attempts: list[WebhookAttempt]) -> dict[str, Any]:
    """One delivery with its event and attempts."""
    return {
        "id": d.id,
        "event_id": e.uid,
        "type": e.type,
        "state": d.state,
        "created_at": iso(d.created_at),
        "next_attempt_at": iso(d.next_attempt_at) if d.state == DeliveryState.PENDING else None,
        "delivered_at": iso(d.delivered_at),
        "payload": e.payload,
        "attempts": [attempt_json(a) for a in attempts],
    }
