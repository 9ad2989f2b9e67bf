"""The sequences JSON API: create, read, change (steps, order, pause, archive) and per-step figures."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from content import sequence_stats, sequences
from content.sequence_models import Sequence
from growth import schemas
from growth.db import commit, db, utcnow
from growth.openapi import spec

bp = Blueprint("sequence_api", __name__, url_prefix="/api/v1")
TAGS = ("sequences",)

_WINDOW_DAYS = {
    "type": ["array", "null"],
    "items": {"type": "integer", "minimum": 1, "maximum": 7},
    "minItems": 1,
    "maxItems": 7,
    "description": "ISO weekdays, 1 = Monday, in the publication's time zone",
}
_HOUR = {"type": ["integer", "null"], "minimum": 0, "maximum": 24}
STEP_FIELDS: dict[str, Any] = {
    "id": {"type": "integer", "description": "an existing step (PATCH); left out: a new step"},
    "subject": sequences.RULES["subject"].schema(minLength=1, description="required for a new step"),
    "preview": sequences.RULES["preview"].schema(),
    "body": sequences.RULES["body"].schema(description="Markdown, sanitised as posts are"),
    "delay_minutes": {"type": "integer", "minimum": 0, "maximum": sequences.MAX_DELAY_MINUTES},
    "kind": {"enum": ["value", "pitch"]},
    "window_days": _WINDOW_DAYS,
    "window_start_hour": _HOUR,
    "window_end_hour": _HOUR,
    "condition": {
        "type": ["string", "null"],
        "maxLength": 120,
        "description": "a segment expression; when it fails the step is skipped (and the skip recorded)",
    },
}
# What GET answers besides: accepted back (and ignored), so a step read can be sent back as is.
READ_ONLY = ("position", "body_html", "stats")
STEP_FIELDS.update({name: {"readOnly": True} for name in READ_ONLY})
STEP_IN = spec.schema(
    "SequenceStepInput",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": STEP_FIELDS,
        # A new step needs its subject; an existing one (by id) keeps the fields left out.
        "anyOf": [{"required": ["subject"]}, {"required": ["id"]}],
    },
)
_SEQUENCE_FIELDS: dict[str, Any] = {
    "name": sequences.RULES["name"].schema(minLength=1),
    "newsletter": {"type": "string", "maxLength": 64, "description": "a newsletter slug (default: main)"},
    "trigger": {
        "anyOf": [
            {"enum": list(sequences.TRIGGERS)},
            {
                "type": "string",
                "maxLength": sequences.TRIGGER_LENGTH,
                "pattern": "^(field:[a-z][a-z0-9_]{0,39}|poll:[0-9]{1,9})=[^\\x00-\\x1f]+$",
            },
        ],
        "description": "what enrols readers; field:<name>=<value> and poll:<id>=<answer> start on an answer",
    },
    "steps": {
        "type": "array",
        "maxItems": 100,
        "items": {"$ref": "#/components/schemas/SequenceStepInput"},
        "description": "the steps in order; on PATCH the full new list (steps left out are removed)",
    },
    "active": {"type": "boolean"},
    "archived": {"type": "boolean", "description": "true archives the sequence for good"},
    "holdout_percent": {"type": "integer", "minimum": 0, "maximum": sequences.MAX_HOLDOUT},
    "repeatable": {"type": "boolean"},
    "pitch_wait_days": {"type": "integer", "minimum": 0, "maximum": 365},
}


def _with_steps(schema: dict[str, Any]) -> dict[str, Any]:
    # The component schemas refer to each other; jsonschema validates with them inline.
    props = dict(schema["properties"])
    props["steps"] = {**props["steps"], "items": STEP_IN}
    return {**schema, "properties": props}


SEQUENCE_CREATE = spec.schema(
    "SequenceCreate",
    {
        "type": "object",
        "required": ["name", "trigger"],
        "additionalProperties": False,
        "properties": {k: v for k, v in _SEQUENCE_FIELDS.items() if k != "archived"},
    },
)
SEQUENCE_UPDATE = spec.schema(
    "SequenceUpdate",
    {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": _SEQUENCE_FIELDS},
)
spec.schema(
    "Sequence",
    {
        "type": "object",
        "required": ["id", "name", "newsletter", "trigger", "active", "holdout_percent", "steps"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "newsletter": {"type": "string"},
            "trigger": {"type": "string"},
            "active": {"type": "boolean"},
            "archived": {"type": "boolean"},
            "welcome": {
                "type": "boolean",
                "description": "the welcome series: its first step is sent at confirmation",
            },
            "holdout_percent": {"type": "integer"},
            "repeatable": {"type": "boolean"},
            "pitch_wait_days": {"type": "integer"},
            "enrolments": {"type": "object", "additionalProperties": {"type": "integer"}},
            "steps": {"type": "array", "items": {"type": "object"}},
        },
    },
)
spec.schema(
    "SequenceList",
    {
        "type": "object",
        "properties": {"sequences": {"type": "array", "items": {"$ref": "#/components/schemas/Sequence"}}},
    },
)
_CREATE_CHECK = _with_steps(SEQUENCE_CREATE)
_UPDATE_CHECK = _with_steps(SEQUENCE_UPDATE)


def step_json(step: Any) -> dict[str, Any]:
    return {
        "id": step.id,
        "position": step.position,
        "subject": step.subject,
        "preview": step.preview,
        "body": step.body_markdown,
        "body_html": step.body_html,
        "delay_minutes": step.delay_minutes,
        "kind": step.kind,
        "window_days": step.window_days,
        "window_start_hour": step.window_start_hour,
        "window_end_hour": step.window_end_hour,
        "condition": step.condition,
    }


def sequence_json(sequence: Sequence, with_stats: bool = False) -> dict[str, Any]:
    """The API shape of a sequence (and, for one sequence, its enrolments and per-step figures)."""
    session = db.session
    newsletter = sequence_stats.newsletter_slug(session, sequence.newsletter_id)
    out: dict[str, Any] = {
        "id": sequence.id,
        "name": sequence.name,
        "newsletter": newsletter,
        "trigger": sequence.trigger,
        "active": sequence.active,
        "archived": sequence.archived_at is not None,
        "welcome": sequence.welcome_newsletter_id is not None,
        "holdout_percent": sequence.holdout_percent,
        "repeatable": sequence.repeatable,
        "pitch_wait_days": sequence.pitch_wait_days,
        "steps": [step_json(s) for s in sequence.live_steps],
    }
    if with_stats:
        out["enrolments"] = sequences.enrolment_counts(session, sequence.id)
        out["waiting"] = sequences.waiting_reasons(session, sequence.id)
        figures = sequence_stats.step_figures(session, sequence, utcnow())
        for step in out["steps"]:
            step["stats"] = figures.get(step["id"])
    return out


def _input(data: dict[str, Any]) -> sequences.SequenceInput:
    steps = None
    if "steps" in data:
        steps = [
            sequences.StepInput(
                **{k: v for k, v in s.items() if k not in READ_ONLY},
                given=set(s) - set(READ_ONLY) - {"id"},
            )
            for s in data["steps"]
        ]
    fields = {k: v for k, v in data.items() if k not in ("steps", "archived")}
    return sequences.SequenceInput(**fields, steps=steps, given=set(data))


@bp.get("/sequences")
@spec.operation("/api/v1/sequences", "get", summary="List sequences", response="SequenceList", tags=TAGS)
def list_sequences():  # type: ignore[no-untyped-def]
    """Every sequence, the welcome series first."""
    found = sequences.list_sequences(db.session)
    commit()  # the welcome series may just have been created
    return jsonify({"sequences": [sequence_json(s) for s in found]})


@bp.post("/sequences")
@spec.operation(
    "/api/v1/sequences",
    "post",
    summary="Create a sequence (active at once unless active is false)",
    request="SequenceCreate",
    response="Sequence",
    status=201,
    errors=(400, 422),
    tags=TAGS,
)
def create_sequence():  # type: ignore[no-untyped-def]
    """A new sequence with its steps."""
    data = schemas.json_body(_CREATE_CHECK)
    sequence = sequences.create_sequence(db.session, _input(data), utcnow())
    commit()
    return jsonify(sequence_json(sequence, with_stats=True)), 201


@bp.get("/sequences/<id:sequence_id>")
@spec.operation(
    "/api/v1/sequences/<id:sequence_id>",
    "get",
    summary="One sequence, its enrolments and per-step figures",
    response="Sequence",
    errors=(404,),
    tags=TAGS,
)
def get_sequence(sequence_id: int):  # type: ignore[no-untyped-def]
    """A sequence by id."""
    return jsonify(sequence_json(sequences.get_sequence(db.session, sequence_id), with_stats=True))


@bp.patch("/sequences/<id:sequence_id>")
@spec.operation(
    "/api/v1/sequences/<id:sequence_id>",
    "patch",
    summary="Edit, reorder, pause or archive a sequence (never resends a step)",
    request="SequenceUpdate",
    response="Sequence",
    errors=(400, 404, 409, 422),
    tags=TAGS,
)
def update_sequence(sequence_id: int):  # type: ignore[no-untyped-def]
    """Change some fields; `steps` is the whole new list, existing steps named by id."""
    data = schemas.json_body(_UPDATE_CHECK)
    sequence = sequences.get_sequence(db.session, sequence_id)
    now = utcnow()
    changes = {k: v for k, v in data.items() if k != "archived"}
    if changes:
        sequences.update_sequence(db.session, sequence, _input(changes), now)
    if data.get("archived"):
        sequences.archive_sequence(db.session, sequence, now)
    commit()
    return jsonify(sequence_json(sequence, with_stats=True))
