"""The sponsorship JSON API for admins: sponsors, bookings, the calendar, the sponsors report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from content import sponsor_schemas, sponsorships
from content.sponsor_models import Sponsor
from growth import schemas
from growth.auth import current_operator
from growth.csvout import csv_response, wants_csv
from growth.db import commit, db, reports_session, utcnow
from growth.errors import InvalidRequest, ValidationFailed
from growth.openapi import spec
from growth.params import query_int, query_int_schema

bp = Blueprint("sponsor_api", __name__, url_prefix="/api/v1")
TAGS = ("sponsorships",)
REPORT_CSV_COLUMNS = (
    "booking_id",
    "sponsor",
    "newsletter",
    "run_on",
    "slot",
    "pricing",
    "price_cents",
    "currency",
    "sent",
    "delivered",
    "human_opens",
    "all_opens",
    "human_clicks",
    "earned_cents",
    "bill_status",
    "paid_cents",
    "paid_at",
)


def sponsor_json(sponsor: Sponsor) -> dict[str, Any]:
    """The API shape of a sponsor."""
    return {
        "id": sponsor.id,
        "name": sponsor.name,
        "contact_email": sponsor.contact_email,
        "website": sponsor.website,
    }


@bp.get("/sponsors")
@spec.operation("/api/v1/sponsors", "get", summary="List sponsors", response="SponsorList", tags=TAGS)
def list_sponsors():  # type: ignore[no-untyped-def]
    """Every sponsor by name."""
    return jsonify({"sponsors": [sponsor_json(s) for s in sponsorships.list_sponsors(db.session)]})


@bp.post("/sponsors")
@spec.operation(
    "/api/v1/sponsors",
    "post",
    summary="Add a sponsor",
    request="SponsorCreate",
    response="Sponsor",
    status=201,
    errors=(400, 409, 413, 422),
    tags=TAGS,
)
def create_sponsor():  # type: ignore[no-untyped-def]
    """A new sponsor (the name is unique)."""
    data = schemas.json_body(sponsor_schemas.SPONSOR_CREATE)
    sponsor = sponsorships.create_sponsor(db.session, sponsorships.SponsorInput(**data), utcnow())
    commit()
    return jsonify(sponsor_json(sponsor)), 201


@bp.get("/sponsorships/bookings")
@spec.operation(
    "/api/v1/sponsorships/bookings", "get", summary="List bookings", response="BookingList", tags=TAGS
)
def list_bookings():  # type: ignore[no-untyped-def]
    """Bookings, the latest day first, with what each did and its bill."""
    session = db.session
    return jsonify(
        {"bookings": [sponsorships.booking_json(session, b) for b in sponsorships.list_bookings(session)]}
    )


@bp.post("/sponsorships/bookings")
@spec.operation(
    "/api/v1/sponsorships/bookings",
    "post",
    summary="Book a slot of a send",
    request="BookingCreate",
    response="Booking",
    status=201,
    errors=(400, 409, 413, 422),
    tags=TAGS,
)
def create_booking():  # type: ignore[no-untyped-def]
    """Book a slot; 409 when it is taken, the send is full or that day's send has gone out."""
    data = schemas.json_body(sponsor_schemas.BOOKING_CREATE)
    operator = current_operator()
    booking = sponsorships.book_slot(
        db.session, sponsorships.BookingInput(**data), utcnow(), operator.id if operator else None
    )
    commit()
    return jsonify(sponsorships.booking_json(db.session, booking)), 201


@bp.get("/sponsorships/bookings/<id:booking_id>")
@spec.operation(
    "/api/v1/sponsorships/bookings/<id:booking_id>",
    "get",
    summary="One booking: what it did, what it earned, its bill",
    response="Booking",
    errors=(404,),
    tags=TAGS,
)
def get_booking(booking_id: int):  # type: ignore[no-untyped-def]
    """A booking by id."""
    return jsonify(sponsorships.booking_json(db.session, sponsorships.get_booking(db.session, booking_id)))


@bp.delete("/sponsorships/bookings/<id:booking_id>")
@spec.operation(
    "/api/v1/sponsorships/bookings/<id:booking_id>",
    "delete",
    summary="Cancel a booking (before its send starts and before it is billed)",
    status=204,
    errors=(404, 409),
    tags=TAGS,
)
def cancel_booking(booking_id: int):  # type: ignore[no-untyped-def]
    """Free the slot; 409 once its send has started or it has a bill."""
    sponsorships.cancel_booking(db.session, sponsorships.get_booking(db.session, booking_id))
    commit()
    return "", 204


def _start(raw: str | None) -> dt.date:
    if raw is None:
        return utcnow().date()
    try:
        return sponsorships.parse_day(raw, "from")
    except ValidationFailed as exc:
        raise InvalidRequest(exc.message, code="invalid_field") from exc


@bp.get("/sponsorships/calendar")
@spec.operation(
    "/api/v1/sponsorships/calendar",
    "get",
    summary="Free and booked slots per day of a newsletter",
    response="SponsorCalendar",
    parameters=[
        {"name": "newsletter", "in": "query", "required": False, "schema": {"type": "string"}},
        {"name": "from", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}},
        query_int_schema("days", maximum=sponsorships.CALENDAR_MAX_DAYS, required=False),
    ],
    errors=(400, 422),
    tags=TAGS,
)
def calendar():  # type: ignore[no-untyped-def]
    """The calendar from `from` (today) for `days` days (28)."""
    newsletter = sponsorships.newsletter_by_slug(db.session, request.args.get("newsletter"))
    days = query_int(request.args, "days", 28, minimum=1, maximum=sponsorships.CALENDAR_MAX_DAYS) or 28
    start = _start(request.args.get("from"))
    return jsonify(
        {
            "newsletter": newsletter.slug,
            "slots_per_send": current_app.config["MASTHEAD"].sponsor_slots_per_send,
            "days": sponsorships.calendar(db.session, newsletter, start, days),
        }
    )


@bp.get("/reports/sponsors")
@spec.operation(
    "/api/v1/reports/sponsors",
    "get",
    summary="Sponsors: each booking's delivery, opens, clicks, earnings and payment",
    response="SponsorsReport",
    csv="booking",
    tags=("reports",),
)
def sponsors_report():  # type: ignore[no-untyped-def]
    """The sponsors report; `?format=csv` answers one row per booking."""
    csv = wants_csv()
    report = sponsorships.sponsors_report(reports_session())
    if csv:
        return csv_response("sponsors.csv", REPORT_CSV_COLUMNS, report["bookings"])
    return jsonify(report)
