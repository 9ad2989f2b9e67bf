"""JSON Schemas of custom fields in the API (growth.custom_fields checks values by kind)."""

from __future__ import annotations

from typing import Any

from growth.custom_fields import CHOICE, LABEL, MAX_CHOICES
from growth.models import FieldKind
from growth.openapi import spec
from growth.schemas import FIELD_ANSWERS


def _definition() -> dict[str, Any]:
    return {
        "label": LABEL.schema(),
        "choices": {"type": "array", "items": CHOICE.schema(), "maxItems": MAX_CHOICES},
        "on_signup": {
            "type": "boolean",
            "description": "asked on the signup form and accepted by the signup API",
        },
        "reader_editable": {"type": "boolean", "description": "shown and editable on the reader's page"},
    }


FIELD_CREATE = spec.schema(
    "CustomFieldCreate",
    {
        "type": "object",
        "required": ["name", "label", "kind"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"},
            "kind": {"enum": [str(k) for k in FieldKind]},
            **_definition(),
        },
    },
)
FIELD_UPDATE = spec.schema(
    "CustomFieldUpdate",
    {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {**_definition(), "archived": {"type": "boolean"}},
    },
)
FIELD = spec.schema(
    "CustomField",
    {
        "type": "object",
        "required": ["id", "name", "label", "kind", "choices", "on_signup", "reader_editable", "archived"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "label": {"type": "string"},
            "kind": {"enum": [str(k) for k in FieldKind]},
            "choices": {"type": "array", "items": {"type": "string"}},
            "on_signup": {"type": "boolean"},
            "reader_editable": {"type": "boolean"},
            "archived": {"type": "boolean"},
        },
    },
)
FIELD_LIST = spec.schema(
    "CustomFieldList",
    {
        "type": "object",
        "required": ["fields"],
        "properties": {"fields": {"type": "array", "items": {"$ref": "#/components/schemas/CustomField"}}},
    },
)
FIELD_VALUES = spec.schema("FieldValues", {**FIELD_ANSWERS, "type": "object"})
