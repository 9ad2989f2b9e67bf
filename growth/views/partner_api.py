"""The partners JSON API for admins and `GET /api/v1/reports/partners` (JSON, or CSV)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from growth import partners, schemas
from growth.csvout import csv_response, wants_csv
from growth.db import commit, db, reports_session, utcnow
from growth.openapi import spec

bp = Blueprint("partner_api", __name__, url_prefix="/api/v1")
TAGS = ("partners",)
ROLES = {
    "partner_api.list_partners": "admin",
    "partner_api.create_partner": "admin",
    "partner_api.partners_report": "admin",
}
_URL = {"type": ["string", "null"], "maxLength": 500}
PARTNER_FIELDS: dict[str, Any] = {
    "code": {
        "type": "string",
        "pattern": "^[a-z0-9][a-z0-9-]{1,39}$",
        "description": "what their links carry: partner=<code>",
    },
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": {"type": "string", "maxLength": 500},
    "website": {"type": "string", "maxLength": 500},
    "recommended": {"type": "boolean", "description": "shown to our readers (boxes unticked)"},
    "signup_api_url": {
        **_URL,
        "description": "a tick POSTs {email, name, partner} here; their double opt-in applies",
    },
    "page_url": {
        **_URL,
        "description": "else a tick opens this page; {code} is replaced by their_code (or ?ref= is added)",
    },
    "their_code": {"type": ["string", "null"], "maxLength": 100},
    "price_per_subscriber_cents": {
        "type": ["integer", "null"],
        "minimum": 1,
        "maximum": partners.MAX_PRICE_CENTS,
    },
    "currency": {"type": "string", "pattern": "^[a-z]{3}$"},
}
PARTNER_CREATE = spec.schema(
    "PartnerCreate",
    {
        "type": "object",
        "required": ["code", "name"],
        "additionalProperties": False,
        "properties": PARTNER_FIELDS,
    },
)
spec.schema(
    "Partner",
    {
        "type": "object",
        "required": ["id", *PARTNER_FIELDS],
        "properties": {"id": {"type": "integer"}, **PARTNER_FIELDS},
    },
)
spec.schema(
    "PartnerList",
    {
        "type": "object",
        "required": ["partners"],
        "properties": {"partners": {"type": "array", "items": {"$ref": "#/components/schemas/Partner"}}},
    },
)
_COUNT = {"type": "integer", "minimum": 0}
REPORT_COLUMNS = (
    "partner_id",
    "code",
    "name",
    "signups",
    "pending",
    "verified",
    "rejected",
    "price_per_subscriber_cents",
    "currency",
    "billable_cents",
    "clicks",
    "subscriptions",
)
spec.schema(
    "PartnersReport",
    {
        "type": "object",
        "required": ["verify_days", "partners", "revenue_credited_rule"],
        "properties": {
            "revenue_credited_rule": {
                "type": ["string", "null"],
                "description": "how revenue_credited is credited; null without billing",
            },
            "verify_days": {
                "type": "integer",
                "description": "a signup verifies by confirming and engaging as a person within these days",
            },
            "partners": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [*REPORT_COLUMNS, "revenue_credited"],
                    "properties": {
                        "partner_id": {"type": "integer"},
                        "code": {"type": "string"},
                        "name": {"type": "string"},
                        "signups": {
                            **_COUNT,
                            "description": "inbound: arrived with partner=<code> (not referrals)",
                        },
                        "pending": _COUNT,
                        "verified": _COUNT,
                        "rejected": _COUNT,
                        "price_per_subscriber_cents": {"type": ["integer", "null"]},
                        "currency": {"type": "string"},
                        "billable_cents": {
                            "type": ["integer", "null"],
                            "description": "verified x price; null without a price",
                        },
                        "clicks": {**_COUNT, "description": "outbound: our readers who ticked the partner"},
                        "subscriptions": {
                            **_COUNT,
                            "description": "outbound ticks the partner's signup API accepted",
                        },
                        "revenue_credited": {
                            "type": ["object", "null"],
                            "additionalProperties": {"type": "integer"},
                            "description": "net cents per currency of the paid conversions credited "
                            "to the partner (the attribution's campaign view partner:<code>); null "
                            "without billing; not in the CSV",
                        },
                        "paid_conversions": {
                            "type": ["integer", "null"],
                            "description": "paid conversions credited to the partner; null without billing",
                        },
                    },
                },
            },
        },
    },
)


@bp.get("/partners")
@spec.operation(
    "/api/v1/partners", "get", summary="List partner publications", response="PartnerList", tags=TAGS
)
def list_partners():  # type: ignore[no-untyped-def]
    """Every partner by name."""
    return jsonify({"partners": [partners.partner_json(p) for p in partners.list_partners(db.session)]})


@bp.post("/partners")
@spec.operation(
    "/api/v1/partners",
    "post",
    summary="Add a partner publication",
    request="PartnerCreate",
    response="Partner",
    status=201,
    errors=(400, 409, 413, 422),
    tags=TAGS,
)
def create_partner():  # type: ignore[no-untyped-def]
    """A new partner (the code is unique)."""
    data = schemas.json_body(PARTNER_CREATE)
    partner = partners.create_partner(db.session, partners.PartnerInput(**data), utcnow())
    commit()
    return jsonify(partners.partner_json(partner)), 201


@bp.get("/reports/partners")
@spec.operation(
    "/api/v1/reports/partners",
    "get",
    summary="Partners: inbound pending, verified (14-day rule), rejected, billable; outbound ticks",
    response="PartnersReport",
    csv="partner",
    tags=("reports", "partners"),
)
def partners_report():  # type: ignore[no-untyped-def]
    """The partners report; `?format=csv` answers one row per partner."""
    csv = wants_csv()
    report = partners.partners_report(reports_session(), utcnow())
    if csv:
        return csv_response("partners.csv", REPORT_COLUMNS, report["partners"])
    return jsonify(report)
