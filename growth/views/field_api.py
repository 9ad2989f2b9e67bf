"""Custom fields in the JSON API: define and change them, set a reader's values (admins)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from growth import custom_fields, field_schemas, schemas, subscribers
from growth.db import commit, db, utcnow
from growth.openapi import spec

bp = Blueprint("field_api", __name__, url_prefix="/api/v1")
TAGS = ("fields",)


@bp.get("/fields")
@spec.operation(
    "/api/v1/fields",
    "get",
    summary="Every custom field (archived too)",
    response="CustomFieldList",
    tags=TAGS,
)
def list_fields():  # type: ignore[no-untyped-def]
    """The fields operators defined, by name."""
    return jsonify({"fields": [custom_fields.as_json(f) for f in custom_fields.all_fields(db.session)]})


@bp.post("/fields")
@spec.operation(
    "/api/v1/fields",
    "post",
    summary="Define a custom field: text, number, choice (with its choices) or date",
    request="CustomFieldCreate",
    response="CustomField",
    status=201,
    errors=(400, 409, 422),
    tags=TAGS,
)
def create_field():  # type: ignore[no-untyped-def]
    """A new field; names are unique and never change."""
    data = schemas.json_body(field_schemas.FIELD_CREATE)
    field = custom_fields.define_field(
        db.session,
        custom_fields.FieldInput(
            name=data["name"],
            label=data["label"],
            kind=data["kind"],
            choices=tuple(data.get("choices") or ()),
            on_signup=bool(data.get("on_signup")),
            reader_editable=bool(data.get("reader_editable")),
        ),
        utcnow(),
    )
    commit()
    return jsonify(custom_fields.as_json(field)), 201


@bp.patch("/fields/<id:field_id>")
@spec.operation(
    "/api/v1/fields/<id:field_id>",
    "patch",
    summary="Relabel, change the choices, where it is asked, or archive (name and kind never change)",
    request="CustomFieldUpdate",
    response="CustomField",
    errors=(400, 404, 422),
    tags=TAGS,
)
def update_field(field_id: int):  # type: ignore[no-untyped-def]
    """Change what is given."""
    data = schemas.json_body(field_schemas.FIELD_UPDATE)
    field = custom_fields.update_field(
        db.session,
        custom_fields.get_field(db.session, field_id),
        label=data.get("label"),
        choices=data.get("choices"),
        on_signup=data.get("on_signup"),
        reader_editable=data.get("reader_editable"),
        archived=data.get("archived"),
        now=utcnow(),
    )
    commit()
    return jsonify(custom_fields.as_json(field))


@bp.put("/subscribers/<id:subscriber_id>/fields")
@spec.operation(
    "/api/v1/subscribers/<id:subscriber_id>/fields",
    "put",
    summary="Set a reader's custom fields (those named; null clears one)",
    request="FieldValues",
    response="Subscriber",
    errors=(400, 404, 422),
    tags=("subscribers", *TAGS),
)
def set_subscriber_fields(subscriber_id: int):  # type: ignore[no-untyped-def]
    """Any active field; each value checked against its kind."""
    from growth.views.api import subscriber_json

    data = schemas.json_body(field_schemas.FIELD_VALUES)
    subscriber = subscribers.get_subscriber(db.session, subscriber_id)
    values = custom_fields.clean_values(db.session, data, "api")
    custom_fields.set_values(db.session, subscriber.id, values, "api", utcnow())
    commit()
    return jsonify(subscriber_json(subscriber))
