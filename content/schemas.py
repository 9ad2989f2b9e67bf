"""JSON Schemas of the content API (they validate requests and feed the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from content.posts import RULES
from content.topics import MAX_TOPICS_PER_POST, TOPIC_RULE
from growth.openapi import spec

_AUDIENCE = {"type": "string", "pattern": "^(public|free|paid|tier:[0-9]{1,9})$"}
_SEGMENT = {
    "type": "string",
    "maxLength": 120,
    "description": "all, free, paying, tier:<id>, stage:engaged, stage:nurtured or source:<name>",
}


def _post_fields() -> dict[str, Any]:
    return {
        "title": RULES["title"].schema(minLength=1),
        "slug": {"type": "string", "minLength": 1, "maxLength": RULES["slug"].max_length},
        "excerpt": RULES["excerpt"].schema(),
        "preview_text": RULES["preview_text"].schema(),
        "body_markdown": RULES["body_markdown"].schema(),
        "kind": {"enum": ["value", "pitch"]},
        "audience": _AUDIENCE,
        "newsletter": RULES["newsletter"].schema(),
        "status": {"enum": ["draft", "scheduled", "published"]},
        "published_at": {"type": ["string", "null"], "format": "date-time"},
        "topics": {
            "type": "array",
            "maxItems": MAX_TOPICS_PER_POST,
            "items": TOPIC_RULE.schema(minLength=1),
            "description": "topic names: an existing topic by its slug, a new one is created",
        },
    }


POST_CREATE = spec.schema(
    "PostCreate",
    {
        "type": "object",
        "required": ["title"],
        "additionalProperties": False,
        "properties": _post_fields(),
    },
)
POST_UPDATE = spec.schema(
    "PostUpdate",
    {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": _post_fields(),
    },
)
POST = spec.schema(
    "Post",
    {
        "type": "object",
        "required": ["id", "title", "slug", "kind", "audience", "status"],
        "properties": {
            **_post_fields(),
            "id": {"type": "integer"},
            "body_html": {"type": "string"},
            "topics": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["slug", "name"],
                    "properties": {"slug": {"type": "string"}, "name": {"type": "string"}},
                },
            },
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
)
POST_LIST = spec.schema(
    "PostList",
    {
        "type": "object",
        "required": ["posts"],
        "properties": {"posts": {"type": "array", "items": {"$ref": "#/components/schemas/Post"}}},
    },
)
SEGMENT_REQUEST = spec.schema(
    "SegmentRequest",
    {"type": "object", "additionalProperties": False, "properties": {"segment": _SEGMENT}},
)
SEND_PREVIEW = spec.schema(
    "SendPreview",
    {
        "type": "object",
        "required": ["will_receive", "skipped", "summary"],
        "properties": {
            "segment": {"type": "string"},
            "will_receive": {"type": "integer"},
            "skipped": {"type": "object", "additionalProperties": {"type": "integer"}},
            "summary": {"type": "string"},
        },
    },
)
SEND_CREATE = spec.schema(
    "SendCreate",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "segment": _SEGMENT,
            "scheduled_at": {"type": ["string", "null"], "format": "date-time"},
            "subjects": {
                "type": ["array", "null"],
                "description": "Two to four subject lines to test: each goes to an equal random sample first",
                "minItems": 2,
                "maxItems": 4,
                "items": {"type": "string", "minLength": 1, "maxLength": 200},
            },
            "test": {
                "type": ["object", "null"],
                "additionalProperties": False,
                "properties": {
                    "share": {
                        "type": "number",
                        "minimum": 0.02,
                        "maximum": 1,
                        "description": "Share of the audience in all samples together (default 0.1)",
                    },
                    "metric": {
                        "enum": ["opens", "clicks"],
                        "description": "Human opens, or clicks without scanners",
                    },
                    "wait_minutes": {"type": "integer", "minimum": 30, "maximum": 4320},
                },
            },
        },
    },
)
SUBJECT_TEST = spec.schema(
    "SubjectTest",
    {
        "type": "object",
        "description": "A send's subject test; `result` is read once at decide_at and kept",
        "properties": {
            "subjects": {"type": "array", "items": {"type": "string"}},
            "share": {"type": "number"},
            "metric": {"enum": ["opens", "clicks"]},
            "wait_minutes": {"type": "integer"},
            "per_variant": {"type": ["integer", "null"]},
            "started_at": {"type": ["string", "null"], "format": "date-time"},
            "decide_at": {"type": ["string", "null"], "format": "date-time"},
            "decided_at": {"type": ["string", "null"], "format": "date-time"},
            "chosen": {"type": ["integer", "null"], "description": "Index of the subject the rest get"},
            "result": {
                "type": ["object", "null"],
                "description": "winner is null when no variant's interval against every other excludes zero",
                "properties": {
                    "tested": {"type": "boolean"},
                    "reason": {"type": "string"},
                    "metric": {"type": "string"},
                    "basis": {"enum": ["delivered", "sent"]},
                    "confidence": {"type": "number"},
                    "winner": {"type": ["integer", "null"]},
                    "chosen": {"type": "integer"},
                    "variants": {"type": "array", "items": {"type": "object"}},
                    "comparisons": {"type": "array", "items": {"type": "object"}},
                },
            },
            "outlook": {
                "type": ["object", "null"],
                "description": "Before it starts: samples, and the smallest lift they detect at 80% power",
            },
        },
    },
)
SEND = spec.schema(
    "Send",
    {
        "type": "object",
        "required": ["id", "post_id", "segment", "kind", "state", "progress"],
        "properties": {
            "id": {"type": "integer"},
            "post_id": {"type": "integer"},
            "segment": {"type": "string"},
            "kind": {"enum": ["value", "pitch"]},
            "state": {"enum": ["scheduled", "testing", "sending", "done", "cancelled"]},
            "subject_test": {"oneOf": [{"$ref": "#/components/schemas/SubjectTest"}, {"type": "null"}]},
            "scheduled_at": {"type": "string", "format": "date-time"},
            "started_at": {"type": ["string", "null"], "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "progress": {
                "type": "object",
                "required": ["total", "sent", "failed", "unknown", "skipped"],
                "properties": {
                    "total": {"type": "integer"},
                    "sent": {"type": "integer"},
                    "failed": {"type": "integer"},
                    "unknown": {"type": "integer"},
                    "in_flight": {"type": "integer"},
                    "queued": {"type": "integer"},
                    "skipped": {"type": "integer"},
                    "skipped_by_reason": {
                        "type": "object",
                        "additionalProperties": {"type": "integer"},
                    },
                    "done": {"type": ["number", "null"]},
                },
            },
            "batches": {"type": "object", "additionalProperties": {"type": "integer"}},
            "needs_attention": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "number": {"type": "integer"},
                        "state": {"type": "string"},
                        "size": {"type": "integer"},
                        "error": {"type": ["string", "null"]},
                    },
                },
            },
        },
    },
)
TEST_SEND = spec.schema(
    "TestSendRequest",
    {
        "type": "object",
        "required": ["email"],
        "additionalProperties": False,
        "properties": {"email": {"type": "string", "minLength": 3, "maxLength": 320}},
    },
)
TEST_SEND_DONE = spec.schema(
    "TestSendDone",
    {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": "sent"}, "to": {"type": "string"}},
    },
)
REQUEUED = spec.schema(
    "Requeued",
    {"type": "object", "required": ["requeued"], "properties": {"requeued": {"type": "integer"}}},
)
VALUE_PITCH = spec.schema(
    "ValueToPitch",
    {
        "type": "object",
        "required": ["subscriber_id", "value", "pitch", "ratio"],
        "properties": {
            "subscriber_id": {"type": "integer"},
            "value": {"type": "integer", "description": "value emails sent"},
            "pitch": {"type": "integer", "description": "pitches sent"},
            "ratio": {
                "type": ["number", "null"],
                "description": "value per pitch; null before any pitch",
            },
        },
    },
)
