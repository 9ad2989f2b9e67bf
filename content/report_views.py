"""What each post did: `GET /api/v1/reports/posts` (JSON or CSV) and a page per post."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request

from content import post_metrics, post_report, posts
from growth import roles
from growth.auth import current_operator
from growth.csvout import csv_response, format_parameter, wants_csv
from growth.db import reports_session
from growth.errors import InvalidRequest
from growth.openapi import spec

bp = Blueprint("content_reports", __name__)

CSV_COLUMNS = (
    "id",
    "title",
    "slug",
    "kind",
    "audience",
    "status",
    "published_at",
    "sends",
    "recipients",
    *post_metrics.EMAIL_FIGURES,
    "open_rate",
    "click_rate",
    "referral_visits",
    "referral_signups",
)
_FIGURE = {"type": "integer", "minimum": 0}
_ROW = {
    "type": "object",
    "required": [
        "id",
        "title",
        "slug",
        "sends",
        "recipients",
        *post_metrics.EMAIL_FIGURES,
        "referral_visits",
        "referral_signups",
    ],
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "slug": {"type": "string"},
        "kind": {"enum": ["value", "pitch"]},
        "audience": {"type": "string"},
        "status": {"enum": ["draft", "scheduled", "published"]},
        "published_at": {"type": ["string", "null"], "format": "date-time"},
        "sends": _FIGURE,
        "recipients": {**_FIGURE, "description": "deliveries sent"},
        **{name: _FIGURE for name in post_metrics.EMAIL_FIGURES},
        "open_rate": {"type": ["number", "null"], "description": "human opens per delivered"},
        "click_rate": {"type": ["number", "null"], "description": "clicks (no scanners) per delivered"},
        "referral_visits": _FIGURE,
        "referral_signups": _FIGURE,
        "paid_conversions": {"type": ["integer", "null"], "description": "admins only"},
        "revenue": {
            "type": ["object", "null"],
            "additionalProperties": {"type": "integer"},
            "description": "cents per currency; admins only",
        },
        "revenue_note": {"type": ["string", "null"], "description": "why revenue is null; admins only"},
    },
}
spec.schema("PostReportRow", _ROW)
spec.schema(
    "PostReport",
    {
        "type": "object",
        "required": ["posts", "sort"],
        "properties": {
            "sort": {"enum": list(post_metrics.SORTS)},
            "posts": {"type": "array", "items": {"$ref": "#/components/schemas/PostReportRow"}},
        },
    },
)


def _sort() -> str:
    value = request.args.get("sort", "engaged_readers")
    if value not in post_metrics.SORTS:
        raise InvalidRequest(f"sort must be one of {', '.join(post_metrics.SORTS)}", code="invalid_sort")
    return value


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    at = row.get("published_at")
    return {**row, "published_at": at.isoformat() if at else None}


def _rows_for_viewer(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    admin = roles.has_role(current_operator(), "admin")
    return (rows if admin else [post_report.without_revenue(r) for r in rows]), admin


@bp.get("/api/v1/reports/posts")
@spec.operation(
    "/api/v1/reports/posts",
    "get",
    summary="What each post did: readers, referrals, money (admins), every post included",
    response="PostReport",
    parameters=[
        {
            "name": "sort",
            "in": "query",
            "schema": {"enum": list(post_metrics.SORTS)},
            "description": "largest first; default engaged_readers",
        },
        format_parameter(),
    ],
    tags=("reports",),
    csv="post",
)
def post_report_api():  # type: ignore[no-untyped-def]
    """One row per post, sorted; creators get it without the revenue columns."""
    sort = _sort()
    as_csv = wants_csv()
    read = reports_session()
    rows = post_metrics.sort_rows(post_report.post_rows(read, post_report.all_posts(read)), sort)
    rows, admin = _rows_for_viewer(rows)
    if as_csv:
        header = list(CSV_COLUMNS)
        if admin:
            header += ["paid_conversions", "revenue", "revenue_note"]
            rows = [{**r, "revenue": _revenue_text(r.get("revenue"))} for r in rows]
        return csv_response("posts-report.csv", header, rows)
    return jsonify({"sort": sort, "posts": [_json_row(r) for r in rows]})


def _revenue_text(revenue: dict[str, int] | None) -> str | None:
    """'usd 1200; eur 300' for a spreadsheet cell."""
    return "; ".join(f"{c} {n}" for c, n in sorted(revenue.items())) if revenue else None


@bp.get("/admin/posts/<id:post_id>/report")
def post_report_page(post_id: int):  # type: ignore[no-untyped-def]
    """What one post did, in total and send by send."""
    read = reports_session()
    post = posts.get_post(read, post_id)
    rows, admin = _rows_for_viewer(post_report.post_rows(read, [post]))
    sends = post_report.send_rows(read, post)
    return render_template("content/admin_post_report.html", post=post, row=rows[0], sends=sends, admin=admin)
