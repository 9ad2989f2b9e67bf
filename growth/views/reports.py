"""The funnel, cohort and growth reports under /api/v1/reports (JSON, or CSV with ?format=csv)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select

from growth import report_schemas  # noqa: F401 - registers the report shapes in the document
from growth import report_service as service
from growth.csvout import csv_response, wants_csv
from growth.db import db, reports_session, utcnow
from growth.errors import InvalidRequest
from growth.fields import single_line
from growth.models import Newsletter
from growth.openapi import spec

bp = Blueprint("reports", __name__, url_prefix="/api/v1/reports")

EARLIEST, LATEST = dt.date(1970, 1, 1), dt.date(2999, 12, 31)
MAX_GROWTH_DAYS = 366 * 10

PARAMETERS = [
    {
        "name": "from",
        "in": "query",
        "schema": {"type": "string", "format": "date"},
        "description": "inclusive; default: all time",
    },
    {
        "name": "to",
        "in": "query",
        "schema": {"type": "string", "format": "date"},
        "description": "inclusive; default: today",
    },
    {
        "name": "newsletter",
        "in": "query",
        "schema": {"type": "string", "maxLength": 64},
        "description": "a newsletter's slug",
    },
    {
        "name": "source",
        "in": "query",
        "schema": {"type": "string", "maxLength": 100},
        "description": "acquisition source: referral, direct, or the source a signup gave",
    },
]


def _date(args: Mapping[str, str], name: str) -> dt.date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidRequest(f"{name} must be a date such as 2026-01-31", code="invalid_date") from exc
    if not EARLIEST <= value <= LATEST:
        raise InvalidRequest(f"{name} must lie between {EARLIEST} and {LATEST}", code="invalid_date")
    return value


def parse_filters(args: Mapping[str, str]) -> service.Filters:
    """from, to, newsletter (slug) and source, each optional; anything malformed is a 400."""
    start, end = _date(args, "from"), _date(args, "to")
    if start and end and start > end:
        raise InvalidRequest("from must not be after to", code="invalid_range")
    newsletter_id = None
    slug = args.get("newsletter")
    if slug:
        newsletter_id = db.session.scalar(select(Newsletter.id).where(Newsletter.slug == slug[:64]))
        if newsletter_id is None or len(slug) > 64:
            raise InvalidRequest("newsletter names no newsletter (give its slug)", code="invalid_newsletter")
    source = args.get("source")
    if source is not None and (len(source) > 100 or not single_line(source)):
        raise InvalidRequest("source must be at most 100 characters, on one line", code="invalid_field")
    return service.Filters(start, end, newsletter_id, source or None)


def _window_days() -> int:
    return int(current_app.config["MASTHEAD"].engaged_window_days)


@bp.get("/funnel")
@spec.operation(
    "/api/v1/reports/funnel",
    "get",
    summary="The funnel: confirmed, engaged, nurtured, paid, still paying at 90 days",
    response="FunnelReport",
    parameters=PARAMETERS,
    tags=("reports",),
    csv="group (all, newsletter, source, campaign, post), value and step",
)
def funnel():  # type: ignore[no-untyped-def]
    """Readers who signed up in [from, to]: each milestone, conversions, days, who still waits."""
    filters = parse_filters(request.args)
    as_csv = wants_csv()
    result = service.funnel_report(reports_session(), filters)
    if as_csv:
        return csv_response("funnel.csv", FUNNEL_HEADER, funnel_rows(result))
    return jsonify(result)


FUNNEL_HEADER = ("group", "value", "step", "count", "conversion", "median_days", "waiting", "share_waiting")


def funnel_rows(result: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The funnel as one row per (group, value, step); paying_90 is a step counted among `eligible`.

    presumed_nurtured, a row of its own, counts readers presumed nurtured and not nurtured on
    human signals (they are not in the nurtured step).
    """
    blocks = [("all", "", result)] + [
        (group, block["value"], block) for group, values in result["breakdowns"].items() for block in values
    ]
    for group, value, block in blocks:
        for step in block["steps"]:
            yield {"group": group, "value": value, **step}
        p90 = block["paying_90"]
        yield {
            "group": group,
            "value": value,
            "step": "paying_90",
            "count": p90["count"],
            "conversion": p90["conversion"],
        }
        # Counted apart from the nurtured step (only machine opens: Apple Mail hides them).
        yield {
            "group": group,
            "value": value,
            "step": "presumed_nurtured",
            "count": block["presumed_nurtured"],
        }


@bp.get("/cohorts")
@spec.operation(
    "/api/v1/reports/cohorts",
    "get",
    summary="Monthly signup cohorts: active and engaged, paying, revenue per subscriber",
    response="CohortReport",
    parameters=PARAMETERS,
    tags=("reports",),
    csv="cohort, month since signup and currency (currency empty where nothing was paid)",
)
def cohorts():  # type: ignore[no-untyped-def]
    """Cohorts of the months overlapping [from, to], by calendar months since signup."""
    filters = parse_filters(request.args)
    as_csv = wants_csv()
    result = service.cohort_report(reports_session(), filters, utcnow())
    if as_csv:
        return csv_response("cohorts.csv", COHORT_HEADER, cohort_rows(result))
    return jsonify(result)


COHORT_HEADER = (
    "cohort",
    "signups",
    "month",
    "starts",
    "complete",
    "active_engaged",
    "active_engaged_share",
    "paying",
    "paying_share",
    "currency",
    "revenue_cents",
    "revenue_per_subscriber_cents",
)


def cohort_rows(result: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One row per cohort, month and currency paid in (one row with no currency when none)."""
    for cohort in result["cohorts"]:
        for month in cohort["months"]:
            base = {"cohort": cohort["cohort"], "signups": cohort["signups"], **month}
            for money in month["revenue"] or [{}]:
                yield {**base, **money}


@bp.get("/growth")
@spec.operation(
    "/api/v1/reports/growth",
    "get",
    summary="Daily signups, confirmations, unsubscribes, net growth; MRR movements by month",
    response="GrowthReport",
    parameters=PARAMETERS,
    tags=("reports",),
    csv="day (MRR movements are in /reports/revenue?format=csv)",
)
def growth():  # type: ignore[no-untyped-def]
    """Every day of [from, to] in order, and billing's MRR movements for its months."""
    filters = parse_filters(request.args)
    as_csv = wants_csv()
    read = reports_session()
    start, end = filters.start or service.first_day(read), filters.end or utcnow().date()
    if start is not None and (end - start).days > MAX_GROWTH_DAYS:
        raise InvalidRequest(f"the range may span at most {MAX_GROWTH_DAYS} days", code="invalid_range")
    result = service.growth_report(read, filters, utcnow(), _window_days())
    if as_csv:
        return csv_response("growth.csv", GROWTH_HEADER, result["days"])
    return jsonify(result)


GROWTH_HEADER = ("date", "signups", "confirmations", "unsubscribes", "net_growth")


@bp.get("/value-pitch")
@spec.operation(
    "/api/v1/reports/value-pitch",
    "get",
    summary="Unsubscribe and complaint rates within 48 hours of value and of pitch emails, by pitches before",
    response="ValuePitchReport",
    parameters=PARAMETERS[:2],
    tags=("reports",),
    csv="kind (value, pitch) and pitches before (0, 1, 2+, all)",
)
def value_pitch():  # type: ignore[no-untyped-def]
    """The audience's resistance to pitching: leaves after each kind of email sent in [from, to]."""
    filters = parse_filters(request.args)
    as_csv = wants_csv()
    result = service.value_pitch_report(reports_session(), filters, utcnow())
    if as_csv:
        return csv_response("value-pitch.csv", VALUE_PITCH_HEADER, result["rows"])
    return jsonify(result)


VALUE_PITCH_HEADER = (
    "kind",
    "pitches_before",
    "emails",
    "unsubscribes",
    "complaints",
    "unsubscribe_rate",
    "complaint_rate",
)
