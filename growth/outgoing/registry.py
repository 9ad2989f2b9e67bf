"""The event types outgoing webhooks can carry, each with its documented payload schema.

The core registers its own (subscriber.*); each domain registers its types in its init_app. The
schemas go into the OpenAPI document (components and the top-level `webhooks` section), and the
tests check every emitted payload against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from growth.openapi import spec

TEST_EVENT = "webhook.test"


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    data_schema: dict[str, Any]

    @property
    def component(self) -> str:
        """Its OpenAPI component name: subscriber.stage_changed -> SubscriberStageChangedEvent."""
        words = self.name.replace(".", "_").split("_")
        return "".join(w.capitalize() for w in words) + "Event"


_types: dict[str, EventType] = {}


def payload_schema(name: str, data_schema: dict[str, Any]) -> dict[str, Any]:
    """The Standard Webhooks envelope around an event's data."""
    return {
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "additionalProperties": False,
        "properties": {
            "type": {"const": name},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": data_schema,
        },
    }


def register_event_type(name: str, description: str, data_schema: dict[str, Any]) -> EventType:
    """Offer an event type to endpoints and document its payload (domains call this in init_app)."""
    kind = EventType(name, description, data_schema)
    existing = _types.get(name)
    if existing is not None and existing != kind:
        raise ValueError(f"event type {name!r} is already registered differently")
    _types[name] = kind
    spec.schema(kind.component, payload_schema(name, data_schema))
    spec.webhook(name, summary=description, schema=kind.component)
    return kind


def event_type(name: str) -> EventType | None:
    """The registered type of that name, if any."""
    return _types.get(name)


def event_types(include_test: bool = False) -> list[EventType]:
    """The types endpoints may subscribe to, sorted by name (the test event only when asked)."""
    return sorted((t for t in _types.values() if include_test or t.name != TEST_EVENT), key=lambda t: t.name)


def schema_for(name: str) -> dict[str, Any]:
    """The whole payload schema of a registered type (KeyError when unknown)."""
    kind = _types[name]
    return payload_schema(kind.name, kind.data_schema)
