"""/api/v1/webhooks: register endpoints, pick events, rotate secrets, read the delivery log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from growth import schemas
from growth.db import commit, db, utcnow
from growth.openapi import spec
from growth.outgoing import registry, service
from growth.outgoing.payloads import DATE_TIME, NULLABLE_DATE_TIME
from growth.params import query_int, query_int_schema

bp = Blueprint("webhooks_api", __name__, url_prefix="/api/v1/webhooks")

_URL = service.URL.schema(minLength=1)
_EVENTS = {"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "string", "maxLength": 64}}
_DESCRIPTION = service.DESCRIPTION.schema()

CREATE = spec.schema(
    "WebhookEndpointCreate",
    {
        "type": "object",
        "required": ["url", "events"],
        "additionalProperties": False,
        "properties": {"url": _URL, "events": _EVENTS, "description": _DESCRIPTION},
    },
)
UPDATE = spec.schema(
    "WebhookEndpointUpdate",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "url": _URL,
            "events": _EVENTS,
            "description": _DESCRIPTION,
            "active": {"type": "boolean"},
        },
    },
)
_ENDPOINT_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"},
    "url": {"type": "string"},
    "description": {"type": "string"},
    "events": {"type": "array", "items": {"type": "string"}},
    "active": {"type": "boolean"},
    "disabled_reason": {"type": ["string", "null"]},
    "previous_secret_expires_at": NULLABLE_DATE_TIME,
    "created_at": DATE_TIME,
    "updated_at": DATE_TIME,
}
ENDPOINT = spec.schema(
    "WebhookEndpoint",
    {"type": "object", "required": list(_ENDPOINT_PROPERTIES), "properties": _ENDPOINT_PROPERTIES},
)
spec.schema(
    "WebhookEndpointCreated",
    {
        "type": "object",
        "required": [*_ENDPOINT_PROPERTIES, "secret"],
        "properties": {
            **_ENDPOINT_PROPERTIES,
            "secret": {"type": "string", "pattern": "^whsec_", "description": "shown once"},
        },
    },
)
spec.schema(
    "WebhookEndpointList",
    {
        "type": "object",
        "required": ["endpoints"],
        "properties": {
            "endpoints": {"type": "array", "items": {"$ref": "#/components/schemas/WebhookEndpoint"}}
        },
    },
)
spec.schema(
    "WebhookSecretRotated",
    {
        "type": "object",
        "required": ["secret", "previous_secret_expires_at"],
        "properties": {
            "secret": {"type": "string", "pattern": "^whsec_"},
            "previous_secret_expires_at": DATE_TIME,
        },
    },
)
spec.schema(
    "WebhookEndpointDeleted",
    {"type": "object", "required": ["deleted"], "properties": {"deleted": {"type": "integer"}}},
)
_ATTEMPT = {
    "type": "object",
    "required": ["at", "status", "duration_ms", "response_excerpt", "error"],
    "properties": {
        "at": DATE_TIME,
        "status": {"type": ["integer", "null"]},
        "duration_ms": {"type": "integer"},
        "response_excerpt": {"type": "string"},
        "error": {"type": ["string", "null"]},
    },
}
_DELIVERY_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"},
    "event_id": {"type": "string", "description": "the webhook-id header, the same on every retry"},
    "type": {"type": "string"},
    "state": {"enum": ["pending", "delivered", "failed", "cancelled"]},
    "created_at": DATE_TIME,
    "next_attempt_at": NULLABLE_DATE_TIME,
    "delivered_at": NULLABLE_DATE_TIME,
    "payload": {"type": "object"},
    "attempts": {"type": "array", "items": _ATTEMPT},
}
spec.schema(
    "WebhookDelivery",
    {"type": "object", "required": list(_DELIVERY_PROPERTIES), "properties": _DELIVERY_PROPERTIES},
)
spec.schema(
    "WebhookDeliveryPage",
    {
        "type": "object",
        "required": ["deliveries", "next_before"],
        "properties": {
            "deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/WebhookDelivery"}},
            "next_before": {"type": ["integer", "null"], "description": "pass as `before` for older ones"},
        },
    },
)
spec.schema(
    "WebhookEventTypes",
    {
        "type": "object",
        "required": ["event_types"],
        "properties": {
            "event_types": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "description", "schema"],
                    "properties": {
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "schema": {"type": "string", "description": "its payload's component schema"},
                    },
                },
            }
        },
    },
)

TAGS = ("webhooks",)


@bp.get("/event-types")
@spec.operation(
    "/api/v1/webhooks/event-types",
    "get",
    summary="Event types an endpoint may subscribe to",
    response="WebhookEventTypes",
    errors=(),
    tags=TAGS,
)
def event_types():  # type: ignore[no-untyped-def]
    """Every event type with its description and payload schema name."""
    return jsonify(
        {
            "event_types": [
                {"name": t.name, "description": t.description, "schema": t.component}
                for t in registry.event_types()
            ]
        }
    )


@bp.post("")
@spec.operation(
    "/api/v1/webhooks",
    "post",
    summary="Register an endpoint (its secret is shown once)",
    request="WebhookEndpointCreate",
    response="WebhookEndpointCreated",
    status=201,
    errors=(400, 422),
    tags=TAGS,
)
def create_endpoint():  # type: ignore[no-untyped-def]
    """201 with the endpoint and its signing secret, top-level `secret`."""
    data = schemas.json_body(CREATE)
    endpoint = service.create_endpoint(db.session, data, utcnow())
    commit()
    return jsonify({**service.endpoint_json(endpoint), "secret": endpoint.secret}), 201


@bp.get("")
@spec.operation(
    "/api/v1/webhooks", "get", summary="List endpoints", response="WebhookEndpointList", errors=(), tags=TAGS
)
def list_endpoints():  # type: ignore[no-untyped-def]
    """Every endpoint, without secrets."""
    return jsonify({"endpoints": [service.endpoint_json(e) for e in service.list_endpoints(db.session)]})


@bp.get("/<id:endpoint_id>")
@spec.operation(
    "/api/v1/webhooks/<id:endpoint_id>",
    "get",
    summary="One endpoint",
    response="WebhookEndpoint",
    errors=(404,),
    tags=TAGS,
)
def get_endpoint(endpoint_id: int):  # type: ignore[no-untyped-def]
    """One endpoint, without secrets."""
    return jsonify(service.endpoint_json(service.get_endpoint(db.session, endpoint_id)))


@bp.patch("/<id:endpoint_id>")
@spec.operation(
    "/api/v1/webhooks/<id:endpoint_id>",
    "patch",
    summary="Change url, events, description, active",
    request="WebhookEndpointUpdate",
    response="WebhookEndpoint",
    errors=(400, 404, 422),
    tags=TAGS,
)
def update_endpoint(endpoint_id: int):  # type: ignore[no-untyped-def]
    """Change what the body names; `active: true` enables a disabled endpoint again."""
    endpoint = service.get_endpoint(db.session, endpoint_id)
    data = schemas.json_body(UPDATE)
    service.update_endpoint(db.session, endpoint, data, utcnow())
    commit()
    return jsonify(service.endpoint_json(endpoint))


@bp.delete("/<id:endpoint_id>")
@spec.operation(
    "/api/v1/webhooks/<id:endpoint_id>",
    "delete",
    summary="Delete an endpoint and its log",
    response="WebhookEndpointDeleted",
    errors=(404,),
    tags=TAGS,
)
def delete_endpoint(endpoint_id: int):  # type: ignore[no-untyped-def]
    """Gone with its deliveries; nothing more is sent to it."""
    service.delete_endpoint(db.session, service.get_endpoint(db.session, endpoint_id))
    commit()
    return jsonify({"deleted": endpoint_id})


@bp.post("/<id:endpoint_id>/rotate-secret")
@spec.operation(
    "/api/v1/webhooks/<id:endpoint_id>/rotate-secret",
    "post",
    summary="New signing secret; the old one signs beside it for 24 hours",
    response="WebhookSecretRotated",
    errors=(404,),
    tags=TAGS,
)
def rotate_secret(endpoint_id: int):  # type: ignore[no-untyped-def]
    """The new secret, shown once."""
    endpoint = service.get_endpoint(db.session, endpoint_id)
    secret = service.rotate_secret(db.session, endpoint, utcnow())
    commit()
    expires = endpoint.previous_secret_expires_at
    return jsonify({"secret": secret, "previous_secret_expires_at": expires.isoformat() if expires else None})


@bp.get("/<id:endpoint_id>/deliveries")
@spec.operation(
    "/api/v1/webhooks/<id:endpoint_id>/deliveries",
    "get",
    summary="The delivery log: newest deliveries with their attempts",
    parameters=[query_int_schema("before")],
    response="WebhookDeliveryPage",
    errors=(400, 404),
    tags=TAGS,
)
def deliveries(endpoint_id: int):  # type: ignore[no-untyped-def]
    """50 deliveries at a time, newest first; `before` pages back."""
    endpoint = service.get_endpoint(db.session, endpoint_id)
    before = query_int(request.args, "before", None)
    rows = service.delivery_log(db.session, endpoint, before)
    next_before = rows[-1][0].id if len(rows) == service.LOG_PAGE else None
    return jsonify({"deliveries": [service.delivery_json(*r) for r in rows], "next_before": next_before})


@bp.post("/<id:endpoint_id>/deliveries/<id:delivery_id>/resend")
@spec.operation(
    "/api/v1/webhooks/<id:endpoint_id>/deliveries/<id:delivery_id>/resend",
    "post",
    summary="Send a past event again (same webhook-id)",
    response="WebhookDelivery",
    status=202,
    errors=(404, 422),
    tags=TAGS,
)
def resend(endpoint_id: int, delivery_id: int):  # type: ignore[no-untyped-def]
    """Queued again at once; the attempt shows in the log."""
    endpoint = service.get_endpoint(db.session, endpoint_id)
    delivery = service.resend(db.session, endpoint, delivery_id, utcnow())
    commit()
    return jsonify(
        service.delivery_json(delivery, delivery.event, service.attempts_of(db.session, delivery))
    ), 202


@bp.post("/<id:endpoint_id>/test")
@spec.operation(
    "/api/v1/webhooks/<id:endpoint_id>/test",
    "post",
    summary="Send a webhook.test event",
    response="WebhookDelivery",
    status=202,
    errors=(404, 422),
    tags=TAGS,
)
def send_test(endpoint_id: int):  # type: ignore[no-untyped-def]
    """A test event to this endpoint alone, whatever it subscribes to (an active one)."""
    endpoint = service.get_endpoint(db.session, endpoint_id)
    delivery = service.send_test(db.session, endpoint, utcnow())
    commit()
    return jsonify(
        service.delivery_json(delivery, delivery.event, service.attempts_of(db.session, delivery))
    ), 202
