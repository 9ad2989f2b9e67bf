"""GET /api/v1/reports/attribution: revenue credited by post, source, campaign or referrer (admins)."""

from __future__ import annotations

from flask import jsonify, request

from billing import attribution, attribution_report
from billing import schemas as _schemas  # noqa: F401  (declares AttributionReport)
from billing.api import bp
from growth.csvout import csv_response, wants_csv
from growth.db import db, utcnow
from growth.errors import InvalidRequest
from growth.openapi import spec


@bp.get("/reports/attribution")
@spec.operation(
    "/api/v1/reports/attribution",
    "get",
    summary="Paid conversions and their revenue credited by post, source, campaign or referrer",
    response="AttributionReport",
    parameters=[
        {
            "name": "by",
            "in": "query",
            "required": True,
            "schema": {"enum": list(attribution.VIEWS)},
            "description": "the view; each sums to the total revenue per currency",
        }
    ],
    tags=("billing", "reports"),
    csv="key and currency of the view (a key without revenue: one row, currency empty)",
)
def attribution_view():  # type: ignore[no-untyped-def]
    """One view of the attribution of paid conversions (rules: billing.attribution)."""
    by = request.args.get("by", "").strip().lower()
    if by not in attribution.VIEWS:
        raise InvalidRequest(f"by must be one of {', '.join(attribution.VIEWS)}", code="invalid_by")
    as_csv = wants_csv()
    result = attribution_report.report(db.session, by, utcnow())
    if as_csv:
        return csv_response(
            f"attribution-{by}.csv", attribution_report.CSV_HEADER, attribution_report.csv_rows(result)
        )
    return jsonify(result)
