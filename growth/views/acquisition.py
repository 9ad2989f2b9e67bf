"""Acquisition economics: the admins' page (class rules, spend by form and CSV), the spend API and
`GET /api/v1/reports/acquisition` (JSON, or CSV)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from growth import acquisition, panels, schemas
from growth import acquisition_metrics as am
from growth.csvout import csv_response, wants_csv
from growth.db import commit, db, reports_session, utcnow
from growth.errors import DomainError, ValidationFailed
from growth.openapi import spec
from growth.views.reports import PARAMETERS, parse_filters

bp = Blueprint("acquisition", __name__, url_prefix="/admin/acquisition")
api_bp = Blueprint("acquisition_api", __name__, url_prefix="/api/v1")
ROLES = {
    "acquisition.page": "admin",
    "acquisition.save_rule": "admin",
    "acquisition.remove_rule": "admin",
    "acquisition.save_spend": "admin",
    "acquisition.upload_spend": "admin",
    "acquisition_api.list_spend": "admin",
    "acquisition_api.record_spend": "admin",
    "acquisition_api.acquisition_report": "admin",
}
MAX_CSV_BYTES = 2_000_000


def base_host() -> str:
    """Our own host: a signup whose referrer URL is on another host came from another site."""
    return urlsplit(current_app.config["MASTHEAD"].base_url).hostname or ""


def register_panels() -> None:
    """The desk's acquisition panel (admins only: it carries revenue)."""
    panels.register_panels("acquisition", desk_panels)


def desk_panels(session: Session, now: dt.datetime) -> list[panels.Panel]:
    """Per currency: each class's CAC beside the value of a confirmed signup and the most worth paying."""
    report = acquisition.acquisition_report(session, None, None, now, base_host())
    return acquisition.class_panels(report)


# ---- the admins' page -----------------------------------------------------------------------


def _page(error: str | None = None, status: int = 200, notice: str | None = None):  # type: ignore[no-untyped-def]
    report = acquisition.acquisition_report(reports_session(), None, None, utcnow(), base_host())
    return render_template(
        "admin/acquisition.html",
        rules=acquisition.list_rules(db.session),
        spend=acquisition.list_spend(db.session)[:200],
        report=report,
        fields=am.FIELDS,
        classes=am.CLASSES,
        error=error,
        notice=notice,
        values=request.form,
    ), status


@bp.get("")
def page():  # type: ignore[no-untyped-def]
    """The report by class and campaign, the rules in use, the spend entered, and their forms."""
    return _page()


@bp.post("/rules")
def save_rule():  # type: ignore[no-untyped-def]
    """Map a value to a class (an existing rule for the value is changed)."""
    form = request.form
    try:
        acquisition.set_rule(
            db.session, form.get("field"), form.get("value"), form.get("media_class"), utcnow()
        )
    except DomainError as exc:
        db.session.rollback()
        return _page(exc.message, exc.status)
    commit()
    return redirect(url_for("acquisition.page"), code=303)


@bp.post("/rules/<id:rule_id>/delete")
def remove_rule(rule_id: int):  # type: ignore[no-untyped-def]
    """Remove a rule."""
    try:
        acquisition.delete_rule(db.session, rule_id)
    except DomainError as exc:
        db.session.rollback()
        return _page(exc.message, exc.status)
    commit()
    return redirect(url_for("acquisition.page"), code=303)


@bp.post("/spend")
def save_spend():  # type: ignore[no-untyped-def]
    """Enter one campaign's spend for a month (it replaces what that month had)."""
    form = request.form
    try:
        entry = acquisition.parse_spend(
            form.get("campaign"), form.get("month"), form.get("amount_cents"), form.get("currency")
        )
        acquisition.record_spend(db.session, entry, utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _page(exc.message, exc.status)
    commit()
    return redirect(url_for("acquisition.page"), code=303)


@bp.post("/spend.csv")
def upload_spend():  # type: ignore[no-untyped-def]
    """A CSV of spend (campaign, month, amount_cents, currency): every row, or none."""
    upload = request.files.get("file")
    raw = upload.read(MAX_CSV_BYTES + 1) if upload else b""
    try:
        if not raw:
            raise ValidationFailed("choose a CSV file", code="invalid_csv")
        if len(raw) > MAX_CSV_BYTES:
            raise ValidationFailed(f"the file may be at most {MAX_CSV_BYTES:,} bytes", code="invalid_csv")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed("the file must be UTF-8 text", code="invalid_csv") from exc
        counts = acquisition.import_spend_csv(db.session, text, utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _page(exc.message, exc.status)
    commit()
    return _page(
        notice=f"Imported {counts['rows']} rows: {counts['created']} new, {counts['replaced']} replaced."
    )


# ---- the API --------------------------------------------------------------------------------

TAGS = ("acquisition",)
SPEND_FIELDS: dict[str, Any] = {
    "campaign": {"type": "string", "minLength": 1, "maxLength": 200, "description": "as in utm_campaign"},
    "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$", "description": "YYYY-MM"},
    "amount_cents": {"type": "integer", "minimum": 0, "maximum": acquisition.MAX_AMOUNT_CENTS},
    "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
}
SPEND_CREATE = spec.schema(
    "SpendEntry",
    {
        "type": "object",
        "required": list(SPEND_FIELDS),
        "additionalProperties": False,
        "properties": SPEND_FIELDS,
    },
)
_SPEND = {
    "type": "object",
    "required": [*SPEND_FIELDS, "updated_at"],
    "properties": {**SPEND_FIELDS, "updated_at": {"type": "string", "format": "date-time"}},
}
spec.schema("Spend", _SPEND)
spec.schema(
    "SpendList",
    {
        "type": "object",
        "required": ["spend"],
        "properties": {"spend": {"type": "array", "items": {"$ref": "#/components/schemas/Spend"}}},
    },
)
_INT = {"type": "integer", "minimum": 0}
_CENTS_OR_NULL = {"type": ["integer", "null"]}
ROW_COLUMNS = (
    "group",
    "value",
    "currency",
    "signups",
    "confirmed",
    "engaged",
    "nurtured",
    "paying",
    "revenue_cents",
    "spend_cents",
    "cac_cents",
    "roas",
    "payback_months",
    "value_per_signup_cents",
    "value_low_cents",
    "value_high_cents",
    "value_sure",
    "value_horizon_months",
    "max_cac_cents",
)
_ROW = {
    "type": "object",
    "required": list(ROW_COLUMNS),
    "properties": {
        "group": {"type": "string", "enum": list(am.GROUPS)},
        "value": {
            "type": "string",
            "description": "the class, campaign, source, partner code, referrer id or post",
        },
        "currency": {"type": ["string", "null"], "description": "null: neither spend nor revenue"},
        "signups": _INT,
        "confirmed": _INT,
        "engaged": _INT,
        "nurtured": _INT,
        "paying": {**_INT, "description": "signups who ever paid"},
        "revenue_cents": {**_INT, "description": "cash to date: subscriptions, and sponsorship shares"},
        "spend_cents": _INT,
        "cac_cents": {**_CENTS_OR_NULL, "description": "spend / confirmed; null without spend"},
        "roas": {"type": ["number", "null"], "description": "revenue / spend; null without spend"},
        "payback_months": {
            "type": ["integer", "null"],
            "description": "months until the pooled value per confirmed signup reaches CAC; null: not yet",
        },
        "value_per_signup_cents": {
            **_CENTS_OR_NULL,
            "description": "median value of a confirmed signup at value_horizon_months",
        },
        "value_low_cents": _CENTS_OR_NULL,
        "value_high_cents": _CENTS_OR_NULL,
        "value_sure": {
            "type": ["number", "null"],
            "description": "the chance the next cohort's value falls in [low, high] when cohorts are alike",
        },
        "value_horizon_months": {"type": ["integer", "null"], "enum": [3, 6, 12, None]},
        "max_cac_cents": {**_CENTS_OR_NULL, "description": "the most worth paying per confirmed signup"},
        "cohorts": {"type": "array", "items": {"type": "object"}},
        "backtest": {"type": "array", "items": {"type": "object"}},
        "backtest_summary": {"type": "array", "items": {"type": "object"}},
    },
}
_PER_CURRENCY = {"type": "object", "additionalProperties": {"type": "integer"}}
_CREDIT = {
    "type": "object",
    "required": ["key", "label", "revenue_cents", "conversions"],
    "properties": {
        "key": {"type": "string", "description": "as the value of the report's source or campaign rows"},
        "label": {"type": "string"},
        "revenue_cents": _PER_CURRENCY,
        "conversions": _INT,
    },
}
spec.schema(
    "AcquisitionReport",
    {
        "type": "object",
        "required": ["from", "to", "at", "rules", "fallback", "classes", "campaigns", "sources"],
        "properties": {
            "from": {"type": ["string", "null"], "format": "date"},
            "to": {"type": ["string", "null"], "format": "date"},
            "at": {"type": "string", "format": "date-time"},
            "rules": {
                "type": "array",
                "description": "the class mapping in use, in the order it is tried",
                "items": {
                    "type": "object",
                    "required": ["field", "value", "media_class"],
                    "properties": {
                        "field": {"type": "string", "enum": list(am.FIELDS)},
                        "value": {"type": "string"},
                        "media_class": {"type": "string", "enum": list(am.CLASSES)},
                    },
                },
            },
            "fallback": {"type": "string"},
            "classes": {"type": "array", "items": _ROW},
            "campaigns": {"type": "array", "items": _ROW},
            "sources": {
                "type": "object",
                "properties": {
                    k: {"type": "array", "items": _ROW} for k in ("source", "partner", "referrer", "post")
                },
            },
            "attribution": {
                "type": ["object", "null"],
                "description": "revenue credited per source and per campaign by the attribution of "
                "paid conversions (all time, whatever the window); null without billing. For a window "
                "covering every signup its subscription cash agrees with sources.source and campaigns "
                "key by key; their revenue_cents also hold sponsorship shares, which it does not credit",
                "required": ["at", "rules", "source", "campaign", "total_revenue_cents", "conversions"],
                "properties": {
                    "at": {"type": "string", "format": "date-time"},
                    "rules": {
                        "type": "object",
                        "properties": {"source": {"type": "string"}, "campaign": {"type": "string"}},
                    },
                    "source": {"type": "array", "items": _CREDIT},
                    "campaign": {"type": "array", "items": _CREDIT},
                    "total_revenue_cents": _PER_CURRENCY,
                    "conversions": _INT,
                },
            },
        },
    },
)


@api_bp.get("/spend")
@spec.operation(
    "/api/v1/spend", "get", summary="Ad spend by campaign and month", response="SpendList", tags=TAGS
)
def list_spend():  # type: ignore[no-untyped-def]
    """Every spend entry, newest month first."""
    return jsonify({"spend": [acquisition.spend_json(r) for r in acquisition.list_spend(db.session)]})


@api_bp.post("/spend")
@spec.operation(
    "/api/v1/spend",
    "post",
    summary="Enter a campaign's spend for a month (the same campaign, month and currency again replaces it)",
    request="SpendEntry",
    response="Spend",
    status=200,
    errors=(400, 413, 422),
    tags=TAGS,
)
def record_spend():  # type: ignore[no-untyped-def]
    """Idempotent: the same entry twice leaves one row with the amount last sent."""
    data = schemas.json_body(SPEND_CREATE)
    entry = acquisition.parse_spend(data["campaign"], data["month"], data["amount_cents"], data["currency"])
    row, _created = acquisition.record_spend(db.session, entry, utcnow())
    commit()
    return jsonify(acquisition.spend_json(row))


@api_bp.get("/reports/acquisition")
@spec.operation(
    "/api/v1/reports/acquisition",
    "get",
    summary="Acquisition economics per class and campaign: CAC, ROAS, payback, the value of a signup",
    response="AcquisitionReport",
    parameters=PARAMETERS[:2],
    tags=("reports", *TAGS),
    csv="group (class, campaign, source, partner, referrer, post), value and currency",
)
def acquisition_report():  # type: ignore[no-untyped-def]
    """Signups of [from, to] (all time by default); a month's spend counts when the window touches it."""
    filters = parse_filters({k: v for k, v in request.args.items() if k in ("from", "to")})
    as_csv = wants_csv()
    report = acquisition.acquisition_report(
        reports_session(), filters.start, filters.end, utcnow(), base_host()
    )
    if as_csv:
        return csv_response("acquisition.csv", ROW_COLUMNS, report_rows(report))
    return jsonify(report)


def report_rows(report: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every summary row: classes, campaigns, then sources, partners, referrers and posts."""
    yield from report["classes"]
    yield from report["campaigns"]
    for rows in report["sources"].values():
        yield from rows
