"""Request validation with JSON Schema; the same schemas feed the OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

from flask import request
from jsonschema import Draft202012Validator

from growth.errors import InvalidRequest
from growth.fields import PATTERN_MESSAGES
from growth.openapi import spec
from growth.subscribers import NEWSLETTER_SLUG, SIGNUP_RULES

_validators: dict[int, Draft202012Validator] = {}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """The request's JSON object, checked against `schema`; 400 when malformed or incomplete."""
    # Parsed by load_json, not request.get_json: a deeply nested body raised RecursionError (500).
    payload = load_json(request.get_data()) if request.is_json else None
    if not isinstance(payload, dict):
        raise InvalidRequest("The body must be a JSON object.", code="malformed_json")
    validate(schema, payload)
    return payload  # type: ignore[no-any-return]


def validate(schema: dict[str, Any], payload: Any) -> None:
    """Raise InvalidRequest naming the first problem."""
    validator = _validators.get(id(schema))
    if validator is None:
        validator = _validators[id(schema)] = Draft202012Validator(schema)
    error = next(iter(sorted(validator.iter_errors(payload), key=lambda e: list(e.path))), None)
    if error is not None:
        where = ".".join(str(p) for p in error.path)
        missing = error.validator == "required"
        raise InvalidRequest(
            f"{where + ': ' if where else ''}{_message(error)}",
            code="missing_field" if missing else "invalid_field",
        )


MAX_JSON_DEPTH = 32


def load_json(body: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A signed body as JSON; InvalidRequest (400) when it is not UTF-8 RFC 8259 JSON or nests too deep.

    The depth bound keeps a nested body from exhausting the stack here, or later when the
    payload is serialised to be stored.
    """
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidRequest("The body is not valid JSON.", code="malformed_json") from exc
    if json_depth(value) > max_depth:
        raise InvalidRequest(f"The JSON nests deeper than {max_depth} levels.", code="malformed_json")
    return value


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); PostgreSQL's json type refuses them when stored.
    raise ValueError(f"{name} is not JSON")


def json_depth(value: Any) -> int:
    """How deep arrays and objects nest (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def has_nul(value: Any) -> bool:
    """True when a string anywhere in the JSON value (keys too) holds a NUL, which text columns refuse."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _message(error: Any) -> str:
    """What was wrong, without echoing the value (it may be a megabyte, or a NUL)."""
    if error.validator == "maxLength":
        return f"must have at most {error.validator_value} characters"
    if error.validator == "pattern" and error.validator_value in PATTERN_MESSAGES:
        return PATTERN_MESSAGES[error.validator_value]
    message = str(error.message)
    return message if len(message) <= 200 else message[:200] + "..."


def _str(name: str) -> dict[str, Any]:
    return SIGNUP_RULES[name].schema(nullable=True)


# Custom fields by name (growth.custom_fields checks each against its kind; 422 names the field).
FIELD_ANSWERS = {
    "type": "object",
    "maxProperties": 100,
    "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,39}$"},
    "additionalProperties": {"type": ["string", "number", "null"]},
    "description": "custom fields by name: text, a number, a choice or a date (YYYY-MM-DD); null clears",
}

SIGNUP = spec.schema(
    "SignupRequest",
    {
        "type": "object",
        "required": ["email"],
        "additionalProperties": True,
        "properties": {
            "email": {"type": "string", "minLength": 1, "maxLength": 320},
            "name": _str("name"),
            "newsletters": {"type": "array", "items": NEWSLETTER_SLUG.schema(), "maxItems": 50},
            "source": _str("source"),
            "ref": _str("ref"),
            "partner": {
                **_str("partner"),
                "description": "a partner publication's code (partner=<code>): earned, never a referral",
            },
            "utm_source": _str("utm_source"),
            "utm_medium": _str("utm_medium"),
            "utm_campaign": _str("utm_campaign"),
            "referrer_url": _str("referrer_url"),
            "landing_url": _str("landing_url"),
            "ask": {
                "type": "string",
                "maxLength": 16,
                "description": "the referral ask the referral link came from (post_end, confirmed, poll, "
                "welcome); another value is ignored",
            },
            "fields": FIELD_ANSWERS,
        },
    },
)

SIGNUP_ACCEPTED = spec.schema(
    "SignupAccepted",
    {"type": "object", "required": ["status"], "properties": {"status": {"const": "pending"}}},
)

SUBSCRIBER = spec.schema(
    "Subscriber",
    {
        "type": "object",
        "required": ["id", "email", "status", "stage", "referral_code", "created_at", "confirmed_at"],
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "status": {
                "enum": ["pending", "active", "unsubscribed", "bounced", "complained", "inactive", "erased"]
            },
            "stage": {
                "enum": [
                    "signed_up",
                    "confirmed",
                    "engaged",
                    "nurtured",
                    "presumed",
                    "paying",
                    "lapsed",
                    "churned",
                ]
            },
            "referral_code": {"type": "string"},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "custom fields by name, in their canonical text",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "confirmed_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
)

SUBSCRIBER_PAGE = spec.schema(
    "SubscriberPage",
    {
        "type": "object",
        "required": ["subscribers", "page", "total"],
        "properties": {
            "subscribers": {"type": "array", "items": {"$ref": "#/components/schemas/Subscriber"}},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer"},
        },
    },
)

SUBSCRIBER_DATA = spec.schema(
    "SubscriberData",
    {
        "type": "object",
        "description": "One key per part of Masthead that holds data of the reader (core and domains)",
        "required": ["format", "exported_at", "subscriber_id", "profile"],
        "properties": {
            "format": {"const": "masthead.subscriber-data/1"},
            "exported_at": {"type": "string", "format": "date-time"},
            "subscriber_id": {"type": "integer"},
            "profile": {"type": "object"},
        },
        "additionalProperties": True,
    },
)

IMPORT_CSV = spec.schema(
    "ImportCsv",
    {"type": "string", "description": "UTF-8 CSV with a header row; columns: email, name, source, utm_*"},
)

IMPORT_REPORT = spec.schema(
    "ImportReport",
    {
        "type": "object",
        "required": ["created", "existing", "invalid", "confirmations_queued"],
        "properties": {
            "created": {"type": "integer"},
            "existing": {"type": "integer", "description": "known addresses, left unchanged"},
            "erased": {"type": "integer", "description": "addresses erased on request, not imported"},
            "invalid": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "line": {"type": "integer"},
                        "email": {"type": "string"},
                        "reason": {"type": "string"},
                    },
                },
            },
            "confirmations_queued": {"type": "integer"},
        },
    },
)


_ROW_PROBLEM = {
    "type": "object",
    "properties": {
        "line": {"type": "integer"},
        "email": {"type": "string"},
        "reason": {"type": "string"},
    },
}

MEMBER_EXPORT_CSV = spec.schema(
    "MemberExportCsv",
    {
        "type": "string",
        "description": "UTF-8 CSV as the platform exports it: Substack's email list or subscribers "
        "export, beehiiv's subscribers export, Ghost's members export, Kit's subscribers export",
    },
)

MEMBER_IMPORT_REPORT = spec.schema(
    "MemberImportReport",
    {
        "type": "object",
        "required": ["platform", "dry_run", "new", "updated", "unchanged", "invalid", "paid_found"],
        "properties": {
            "platform": {"type": "string"},
            "dry_run": {"type": "boolean", "description": "true: counts of what would change"},
            "new": {"type": "integer"},
            "updated": {"type": "integer", "description": "known readers whose Stripe customer is linked"},
            "unchanged": {"type": "integer"},
            "erased": {"type": "integer", "description": "addresses erased on request, not imported"},
            "invalid": {"type": "array", "items": _ROW_PROBLEM},
            "paid_found": {"type": "integer", "description": "rows of paying members with a Stripe customer"},
            "paid_linked": {"type": "integer", "description": "customers linked by this run"},
            "subscriptions_mirrored": {"type": "integer"},
            "untiered": {
                "type": "integer",
                "description": "paid members paying through Stripe prices no tier knows (no paid posts)",
            },
            "paid_errors": {
                "type": "array",
                "items": _ROW_PROBLEM,
                "description": "readers imported whose Stripe customer could not be linked",
            },
            "notes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "line": {"type": "integer"},
                        "email": {"type": "string"},
                        "note": {"type": "string"},
                    },
                },
                "description": "what was not carried over (comps, gifts, paid without a customer)",
            },
            "new_by_status": {"type": "object", "additionalProperties": {"type": "integer"}},
            "confirmations_queued": {"type": "integer"},
            "warnings": {"type": "array", "items": {"type": "string"}},
        },
    },
)


def _newsletter_fields() -> dict[str, Any]:
    from growth import newsletters

    return {
        "name": newsletters.NAME.schema(),
        "description": newsletters.DESCRIPTION.schema(nullable=True),
        "sender_name": newsletters.SENDER_NAME.schema(nullable=True),
        "reply_to": newsletters.REPLY_TO.schema(nullable=True),
    }


NEWSLETTER_CREATE = spec.schema(
    "NewsletterCreate",
    {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {**_newsletter_fields(), "slug": {"type": "string", "pattern": "^[a-z0-9-]{1,64}$"}},
    },
)
NEWSLETTER_UPDATE = spec.schema(
    "NewsletterUpdate",
    {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": _newsletter_fields()},
)
NEWSLETTER = spec.schema(
    "Newsletter",
    {
        "type": "object",
        "required": ["id", "slug", "name", "description", "is_default", "archived_at", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "sender_name": {"type": ["string", "null"]},
            "reply_to": {"type": ["string", "null"]},
            "is_default": {"type": "boolean"},
            "archived_at": {"type": ["string", "null"], "format": "date-time"},
            "created_at": {"type": "string", "format": "date-time"},
            "active": {"type": "integer"},
            "pending": {"type": "integer"},
        },
    },
)
NEWSLETTER_LIST = spec.schema(
    "NewsletterList",
    {
        "type": "object",
        "required": ["newsletters"],
        "properties": {
            "newsletters": {"type": "array", "items": {"$ref": "#/components/schemas/Newsletter"}}
        },
    },
)
