"""The JSON API under /api/v1: public signup, operator endpoints, the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import func, select

from growth import custom_fields, exports, imports, member_imports, platforms, privacy, schemas, subscribers
from growth.auth import current_operator
from growth.csvout import csv_response, wants_csv
from growth.db import commit, db, lock_row, utcnow
from growth.errors import InvalidRequest, NotFound
from growth.extensions import signup_limit
from growth.models import Status, Subscriber
from growth.openapi import spec
from growth.params import DB_INT_MAX, query_int, query_int_schema
from growth.platforms import PLATFORMS
from growth.views.common import is_bot, signup_request

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PER_PAGE = 50
MAX_PAGE = DB_INT_MAX // PER_PAGE  # the offset stays an integer the database takes


def subscriber_json(s: Subscriber, fields: dict[str, str] | None = None) -> dict:
    """The public shape of a subscriber in the API (`fields`: their custom fields, else read)."""
    if fields is None:
        fields = custom_fields.values_of(db.session, [s.id])[s.id]
    return {
        "id": s.id,
        "email": s.email,
        "name": s.name,
        "status": s.status,
        "stage": s.stage,
        "referral_code": s.referral_code,
        "source": s.source,
        "created_at": s.created_at.isoformat(),
        "confirmed_at": s.confirmed_at.isoformat() if s.confirmed_at else None,
        "fields": fields,
    }


def _cors_headers(response):  # type: ignore[no-untyped-def]
    origin = request.headers.get("Origin", "").rstrip("/")
    if origin and origin in current_app.config["MASTHEAD"].cors_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


@bp.route("/subscribers", methods=["OPTIONS"], provide_automatic_options=False)
def signup_preflight():  # type: ignore[no-untyped-def]
    """CORS preflight for sites in CORS_ORIGINS."""
    return _cors_headers(current_app.response_class(status=204))


@bp.post("/subscribers")
@spec.operation(
    "/api/v1/subscribers",
    "post",
    summary="Sign up (double opt-in follows)",
    auth=False,
    request="SignupRequest",
    response="SignupAccepted",
    status=202,
    errors=(400, 422, 429),
    tags=("subscribers",),
)
@signup_limit
def create_subscriber():  # type: ignore[no-untyped-def]
    """Public signup: 202 pending for new and known addresses alike (no enumeration)."""
    data = schemas.json_body(schemas.SIGNUP)
    if not is_bot(data):
        subscribers.signup(
            db.session,
            signup_request(data, form=data.get("source") or "api"),
            utcnow(),
            resend_after=current_app.config["MASTHEAD"].confirmation_resend_seconds,
            refuse_disposable=current_app.config["MASTHEAD"].disposable_emails == "refuse",
            defer=True,  # answered after the INSERT: the finish_signup job does the rest
        )
        commit()
    return _cors_headers(jsonify({"status": "pending"})), 202


@bp.get("/subscribers")
@spec.operation(
    "/api/v1/subscribers",
    "get",
    summary="List subscribers (`format=csv`: every match, streamed, one row each)",
    response="SubscriberPage",
    parameters=[
        {"name": "status", "in": "query", "schema": {"enum": [str(s) for s in Status]}},
        {
            "name": "email",
            "in": "query",
            "schema": {"type": "string"},
            "description": "exact, normalised; 422 when it is not an address",
        },
        query_int_schema("page", maximum=MAX_PAGE),
    ],
    errors=(400, 422),
    tags=("subscribers",),
    csv="subscriber",
)
def list_subscribers():  # type: ignore[no-untyped-def]
    """Operators page through subscribers, filtered by status or exact email; or take them all as CSV."""
    where = exports.subscriber_filters(request.args)
    if wants_csv():
        commit()  # the request's own writes (the token's use) first: pages then read on their own
        rows = exports.iter_subscriber_rows(db.session, where)
        return csv_response("subscribers.csv", exports.HEADER, rows)
    query = select(Subscriber).where(*where)
    page = query_int(request.args, "page", 1, maximum=MAX_PAGE) or 1
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(
        db.session.scalars(query.order_by(Subscriber.id).limit(PER_PAGE).offset((page - 1) * PER_PAGE))
    )
    fields = custom_fields.values_of(db.session, [s.id for s in rows])
    return jsonify(
        {
            "subscribers": [subscriber_json(s, fields[s.id]) for s in rows],
            "page": page,
            "per_page": PER_PAGE,
            "total": total,
        }
    )


@bp.get("/subscribers/<id:subscriber_id>")
@spec.operation(
    "/api/v1/subscribers/<id:subscriber_id>",
    "get",
    summary="One subscriber",
    response="Subscriber",
    errors=(404,),
    tags=("subscribers",),
)
def get_subscriber(subscriber_id: int):  # type: ignore[no-untyped-def]
    """One subscriber by id."""
    return jsonify(subscriber_json(subscribers.get_subscriber(db.session, subscriber_id)))


@bp.delete("/subscribers/<id:subscriber_id>")
@spec.operation(
    "/api/v1/subscribers/<id:subscriber_id>",
    "delete",
    summary="Erase a subscriber's personal data everywhere (final; counts keep an anonymous row)",
    response="Subscriber",
    errors=(404,),
    tags=("subscribers",),
)
def erase_subscriber(subscriber_id: int):  # type: ignore[no-untyped-def]
    """Erasure on request: personal data removed in every domain, status erased."""
    return _erase(subscriber_id)


@bp.post("/subscribers/<id:subscriber_id>/erase")
@spec.operation(
    "/api/v1/subscribers/<id:subscriber_id>/erase",
    "post",
    summary="Erase a subscriber's personal data everywhere (the same as DELETE)",
    response="Subscriber",
    errors=(404,),
    tags=("subscribers",),
)
def erase_subscriber_post(subscriber_id: int):  # type: ignore[no-untyped-def]
    """The same erasure for clients that cannot send DELETE."""
    return _erase(subscriber_id)


def _erase(subscriber_id: int):  # type: ignore[no-untyped-def]
    subscriber = lock_row(db.session, Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFound("No such subscriber.")
    privacy.erase_subscriber(db.session, subscriber, utcnow())
    commit()
    return jsonify(subscriber_json(subscriber))


@bp.get("/subscribers/<id:subscriber_id>/data")
@spec.operation(
    "/api/v1/subscribers/<id:subscriber_id>/data",
    "get",
    summary="Everything held of one subscriber, every domain's part (a data-access request)",
    response="SubscriberData",
    errors=(404,),
    tags=("subscribers",),
)
def subscriber_data(subscriber_id: int):  # type: ignore[no-untyped-def]
    """The reader's data as one JSON document (also their own download at /me/<token>/data)."""
    subscriber = subscribers.get_subscriber(db.session, subscriber_id)
    return jsonify(privacy.export_subscriber(db.session, subscriber, utcnow()))


@bp.post("/subscribers/<id:subscriber_id>/lift-suppression")
@spec.operation(
    "/api/v1/subscribers/<id:subscriber_id>/lift-suppression",
    "post",
    summary="Lift a bounce or complaint suppression (the reader asked): active again, nothing sent",
    response="Subscriber",
    errors=(404, 409),
    tags=("subscribers",),
)
def lift_suppression(subscriber_id: int):  # type: ignore[no-untyped-def]
    """Only an operator may bring a bounced or complained address back."""
    subscriber = subscribers.get_subscriber(db.session, subscriber_id)
    operator = current_operator()
    subscribers.lift_suppression(db.session, subscriber, utcnow(), operator.email if operator else "unknown")
    commit()
    return jsonify(subscriber_json(subscriber))


@bp.post("/subscribers/import")
@spec.operation(
    "/api/v1/subscribers/import",
    "post",
    summary="Import subscribers from CSV (header with an email column; name, source, utm_* optional)",
    request="ImportCsv",
    request_content_type="text/csv",
    response="ImportReport",
    parameters=[
        {
            "name": "confirmed",
            "in": "query",
            "schema": {"type": "boolean"},
            "description": "true: they opted in elsewhere (import as active); else pending + confirmation",
        },
        {
            "name": "newsletters",
            "in": "query",
            "schema": {"type": "string"},
            "description": "comma-separated slugs",
        },
    ],
    errors=(400, 422),
    tags=("subscribers",),
)
def import_csv():  # type: ignore[no-untyped-def]
    """Bulk import; known addresses are left as they are, invalid rows reported by line."""
    upload = request.files.get("file")
    raw = upload.read() if upload else request.get_data()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("The CSV must be UTF-8.", code="bad_encoding") from exc
    slugs = [s for s in request.args.get("newsletters", "").split(",") if s.strip()]
    report = imports.import_subscribers(
        db.session,
        imports.parse_csv(text),
        utcnow(),
        confirmed=request.args.get("confirmed", "").lower() in {"1", "true", "yes"},
        newsletter_slugs=slugs,
        label="csv:api",
        refuse_disposable=current_app.config["MASTHEAD"].disposable_emails == "refuse",
    )
    commit()
    return jsonify(report.as_dict())


@bp.post("/subscribers/import-members")
@spec.operation(
    "/api/v1/subscribers/import-members",
    "post",
    summary="Import a Substack, beehiiv, Ghost or Kit member export (free and paid members)",
    request="MemberExportCsv",
    request_content_type="text/csv",
    response="MemberImportReport",
    parameters=[
        {
            "name": "platform",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "enum": list(PLATFORMS)},
            "description": "whose export the body is",
        },
        {
            "name": "dry_run",
            "in": "query",
            "schema": {"type": "boolean"},
            "description": "true: report what would change, write nothing",
        },
        {
            "name": "newsletters",
            "in": "query",
            "schema": {"type": "string"},
            "description": "comma-separated slugs (default: the default newsletter)",
        },
        query_int_schema(
            "tier_id",
            description="the tier paid members bought, for Stripe prices no tier knows (the old platform's)",
        ),
    ],
    errors=(400, 422),
    tags=("subscribers",),
)
def import_members():  # type: ignore[no-untyped-def]
    """Move in from another platform: readers keep their standing, paid members their Stripe customer."""
    platform = request.args.get("platform", "")
    # A mistyped dry_run must not import for real: only these spellings are read.
    raw_dry_run = request.args.get("dry_run", "false").strip().lower()
    if raw_dry_run not in {"true", "1", "yes", "false", "0", "no"}:
        raise InvalidRequest("dry_run must be true or false", code="invalid_dry_run")
    dry_run = raw_dry_run in {"true", "1", "yes"}
    upload = request.files.get("file")
    raw = upload.read() if upload else request.get_data()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("The CSV must be UTF-8.", code="bad_encoding") from exc
    slugs = [s for s in request.args.get("newsletters", "").split(",") if s.strip()]
    report = member_imports.import_members(
        db.session,
        platform,
        platforms.parse_export(platform, text),
        utcnow(),
        dry_run=dry_run,
        newsletter_slugs=slugs,
        label=f"{platform}:api",
        refuse_disposable=current_app.config["MASTHEAD"].disposable_emails == "refuse",
        tier_id=query_int(request.args, "tier_id", None),
    )
    if dry_run:
        db.session.rollback()
    else:
        commit()
    return jsonify(report.as_dict())


@bp.get("/openapi.json")
@spec.operation("/api/v1/openapi.json", "get", summary="This document", auth=False, errors=())
def openapi():  # type: ignore[no-untyped-def]
    """The OpenAPI 3.1 document of every JSON endpoint."""
    return jsonify(spec.document(current_app.config["MASTHEAD"].base_url))
