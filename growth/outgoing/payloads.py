"""Shapes shared by event payloads: the subscriber block every subscriber event carries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from growth.models import Stage, Status, Subscriber

DATE_TIME = {"type": "string", "format": "date-time"}
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}

SUBSCRIBER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "email", "name", "status", "stage", "created_at", "confirmed_at"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": "string"},
        "name": {"type": ["string", "null"]},
        "status": {"enum": [str(s) for s in Status]},
        "stage": {"enum": [str(s) for s in Stage]},
        "created_at": DATE_TIME,
        "confirmed_at": NULLABLE_DATE_TIME,
    },
}


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC, or None."""
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def subscriber_data(s: Subscriber) -> dict[str, Any]:
    """The subscriber block of a payload (SUBSCRIBER_SCHEMA)."""
    return {
        "id": s.id,
        "email": s.email,
        "name": s.name,
        "status": str(s.status),
        "stage": str(s.stage),
        "created_at": iso(s.created_at),
        "confirmed_at": iso(s.confirmed_at),
    }


def with_subscriber(extra: dict[str, Any] | None = None, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A data schema holding `subscriber` and the given extra properties."""
    return {
        "type": "object",
        "required": ["subscriber", *required],
        "additionalProperties": False,
        "properties": {"subscriber": SUBSCRIBER_SCHEMA, **(extra or {})},
    }
