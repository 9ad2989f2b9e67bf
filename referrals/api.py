"""The referral JSON API under /api/v1: held referrals, milestones, reward ladders, fulfilment, the report."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from growth import roles
from growth import schemas as growth_schemas
from growth.auth import current_operator
from growth.csvout import csv_response, wants_csv
from growth.db import commit, db, reports_session, utcnow
from growth.errors import Forbidden, InvalidRequest
from growth.models import Subscriber
from growth.openapi import spec
from growth.params import query_int, query_int_schema
from referrals import graph_export, ladders, report, rewards, ring_review, schemas, service
from referrals.models import LadderVariant, Milestone, Referral, RewardGrant

bp = Blueprint("referrals_api", __name__, url_prefix="/api/v1")
MAX_MARKET = 10**12  # more people than there are
VIRALITY_MIN_SIZE = 10
_VIRALITY_PARAM = query_int_schema(
    "virality_min_size",
    minimum=2,
    description="structural virality is averaged over cascades of at least this many readers",
)
_VIRALITY_PARAM["schema"]["default"] = VIRALITY_MIN_SIZE


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def referral_json(r: Referral) -> dict:
    return {
        "id": r.id,
        "referrer_id": r.referrer_id,
        "referred_id": r.referred_id,
        "status": r.status,
        "reason": r.reason,
        "created_at": _iso(r.created_at),
        "confirmed_at": _iso(r.confirmed_at),
        "hold_until": _iso(r.hold_until),
        "decided_by": r.decided_by,
    }


def milestone_json(m: Milestone, readers_past: int) -> dict:
    return {
        "id": m.id,
        "referrals_required": m.referrals_required,
        "reward_name": m.reward_name,
        "description": m.description,
        "fulfilment_note": m.fulfilment_note,
        "active": m.active,
        "readers_past": readers_past,
        "variant_id": m.variant_id,
        "cost_cents": m.cost_cents,
        "currency": m.currency,
    }


def grant_json(g: RewardGrant, subscriber) -> dict:  # type: ignore[no-untyped-def]
    return {
        "id": g.id,
        "subscriber_id": g.subscriber_id,
        "email": subscriber.email,
        "name": subscriber.name,
        "milestone_id": g.milestone_id,
        "reward_name": g.milestone.reward_name,
        "fulfilment_note": g.milestone.fulfilment_note,
        "status": g.status,
        "flag_reason": g.flag_reason,
        "granted_at": _iso(g.granted_at),
        "fulfilled_at": _iso(g.fulfilled_at),
    }


def _operator_email() -> str:
    operator = current_operator()
    return operator.email if operator else "operator"


@bp.get("/referrals/held")
@spec.operation(
    "/api/v1/referrals/held",
    "get",
    summary="Referrals held for review",
    response="ReferralList",
    errors=(),
    tags=("referrals",),
)
def list_held():  # type: ignore[no-untyped-def]
    """Held referrals, oldest first."""
    return jsonify({"referrals": [referral_json(r) for r, _a, _b in service.held_referrals(db.session)]})


@bp.get("/referrals/rings")
@spec.operation(
    "/api/v1/referrals/rings",
    "get",
    summary="Possible rings of fake accounts under one referrer, with their evidence",
    response="ReferralRingList",
    parameters=[
        query_int_schema(
            "days",
            maximum=ring_review.MAX_LOOKBACK_DAYS,
            description=f"referrals confirmed in the last this many days (else {ring_review.LOOKBACK_DAYS})",
        )
    ],
    errors=(400,),
    tags=("referrals",),
)
def list_rings():  # type: ignore[no-untyped-def]
    """Groups of at least REFERRAL_RING_MIN referred readers tied by two independent signals."""
    days = query_int(request.args, "days", ring_review.LOOKBACK_DAYS, maximum=ring_review.MAX_LOOKBACK_DAYS)
    config = current_app.config["MASTHEAD"]
    found = ring_review.possible_rings(db.session, config, utcnow(), days or ring_review.LOOKBACK_DAYS)
    return jsonify(
        {
            "days": days,
            "ring_min": config.referral_ring_min,
            "action": config.referral_ring_action,
            "rings": found,
        }
    )


@bp.post("/referrals/<id:referral_id>/approve")
@spec.operation(
    "/api/v1/referrals/<id:referral_id>/approve",
    "post",
    summary="Approve a held referral",
    response="Referral",
    errors=(404, 409),
    tags=("referrals",),
)
def approve(referral_id: int):  # type: ignore[no-untyped-def]
    """Count a held referral (and grant the milestones it completes)."""
    referral = service.approve(db.session, referral_id, _operator_email(), utcnow())
    commit()
    return jsonify(referral_json(referral))


@bp.post("/referrals/<id:referral_id>/reject")
@spec.operation(
    "/api/v1/referrals/<id:referral_id>/reject",
    "post",
    summary="Reject a referral",
    response="Referral",
    errors=(404, 409),
    tags=("referrals",),
)
def reject(referral_id: int):  # type: ignore[no-untyped-def]
    """Reject a held or counted referral; grants it supported are flagged."""
    referral = service.reject(db.session, referral_id, _operator_email(), utcnow())
    commit()
    return jsonify(referral_json(referral))


@bp.get("/referrals/milestones")
@spec.operation(
    "/api/v1/referrals/milestones",
    "get",
    summary="Milestones",
    response="MilestoneList",
    errors=(),
    tags=("referrals",),
)
def list_milestones():  # type: ignore[no-untyped-def]
    past = rewards.readers_past_counts(db.session)
    return jsonify({"milestones": [milestone_json(m, past[m.id]) for m in service.milestones(db.session)]})


@bp.post("/referrals/milestones")
@spec.operation(
    "/api/v1/referrals/milestones",
    "post",
    summary="Add a milestone",
    request="MilestoneCreate",
    response="Milestone",
    status=201,
    errors=(400, 404, 409, 422),
    tags=("referrals",),
)
def create_milestone():  # type: ignore[no-untyped-def]
    """Add a milestone; readers_past tells who already passed it, grant_existing grants it to them."""
    data = growth_schemas.json_body(schemas.MILESTONE_CREATE)
    milestone, past = rewards.save_and_offer(db.session, data)
    commit()
    return jsonify(
        {**milestone_json(milestone, past), "grant_existing": bool(data.get("grant_existing"))}
    ), 201


@bp.patch("/referrals/milestones/<id:milestone_id>")
@spec.operation(
    "/api/v1/referrals/milestones/<id:milestone_id>",
    "patch",
    summary="Change a milestone",
    request="MilestoneUpdate",
    response="Milestone",
    errors=(400, 404, 409, 422),
    tags=("referrals",),
)
def update_milestone(milestone_id: int):  # type: ignore[no-untyped-def]
    """Change a milestone; lowering it may put readers past it: readers_past, grant_existing."""
    data = growth_schemas.json_body(schemas.MILESTONE_UPDATE)
    milestone, past = rewards.save_and_offer(db.session, data, milestone_id)
    commit()
    return jsonify({**milestone_json(milestone, past), "grant_existing": bool(data.get("grant_existing"))})


def ladder_json(v: LadderVariant, assigned: int, milestones: list[dict]) -> dict:
    return {
        "id": v.id,
        "name": v.name,
        "share": v.share,
        "active": v.active,
        "created_at": _iso(v.created_at),
        "assigned": assigned,
        "milestones": milestones,
    }


def _ladders_json() -> dict:
    past = rewards.readers_past_counts(db.session)
    assigned = ladders.assigned_counts(db.session)
    by_ladder: dict[int | None, list[dict]] = {}
    for m in service.milestones(db.session):
        by_ladder.setdefault(m.variant_id, []).append(milestone_json(m, past[m.id]))
    return {
        "ladders": [
            ladder_json(v, assigned.get(v.id, 0), by_ladder.get(v.id, []))
            for v in ladders.variants(db.session)
        ],
        "default_milestones": by_ladder.get(None, []),
    }


@bp.get("/referrals/ladders")
@spec.operation(
    "/api/v1/referrals/ladders",
    "get",
    summary="Reward ladder variants and their milestones",
    response="LadderList",
    errors=(),
    tags=("referrals",),
)
def list_ladders():  # type: ignore[no-untyped-def]
    return jsonify(_ladders_json())


@bp.post("/referrals/ladders")
@spec.operation(
    "/api/v1/referrals/ladders",
    "post",
    summary="Add a reward ladder variant (its milestones: POST /referrals/milestones with variant_id)",
    request="LadderCreate",
    response="Ladder",
    status=201,
    errors=(400, 409, 422),
    tags=("referrals",),
)
def create_ladder():  # type: ignore[no-untyped-def]
    """Add a variant; new readers are assigned to it from now on, in its share."""
    variant = ladders.save_variant(db.session, growth_schemas.json_body(schemas.LADDER_CREATE))
    commit()
    return jsonify(ladder_json(variant, 0, [])), 201


@bp.patch("/referrals/ladders/<id:variant_id>")
@spec.operation(
    "/api/v1/referrals/ladders/<id:variant_id>",
    "patch",
    summary="Change a reward ladder variant's name, share or active flag (nobody is reassigned)",
    request="LadderUpdate",
    response="Ladder",
    errors=(400, 404, 409, 422),
    tags=("referrals",),
)
def update_ladder(variant_id: int):  # type: ignore[no-untyped-def]
    variant = ladders.save_variant(db.session, growth_schemas.json_body(schemas.LADDER_UPDATE), variant_id)
    commit()
    past = rewards.readers_past_counts(db.session)
    milestones = [milestone_json(m, past[m.id]) for m in service.milestones(db.session, ladder=variant.id)]
    return jsonify(ladder_json(variant, ladders.assigned_counts(db.session).get(variant.id, 0), milestones))


@bp.post("/referrals/milestones/<id:milestone_id>/grant-existing")
@spec.operation(
    "/api/v1/referrals/milestones/<id:milestone_id>/grant-existing",
    "post",
    summary="Grant a milestone to the readers already past it",
    response="MilestoneGrantExisting",
    status=202,
    errors=(404, 409),
    tags=("referrals",),
)
def grant_existing(milestone_id: int):  # type: ignore[no-untyped-def]
    """Queue the grant (once each, with the email) to readers past it; answers how many."""
    past = rewards.offer_to_readers_past(db.session, service.get_milestone(db.session, milestone_id), True)
    commit()
    return jsonify({"milestone_id": milestone_id, "readers_past": past}), 202


@bp.get("/referrals/grants")
@spec.operation(
    "/api/v1/referrals/grants",
    "get",
    summary="Rewards to fulfil",
    response="RewardGrantList",
    parameters=[{"name": "status", "in": "query", "schema": {"enum": ["granted", "fulfilled", "flagged"]}}],
    errors=(422,),
    tags=("referrals",),
)
def list_grants():  # type: ignore[no-untyped-def]
    rows = service.grants(db.session, request.args.get("status") or None)
    return jsonify({"grants": [grant_json(g, s) for g, s in rows]})


@bp.post("/referrals/grants/<id:grant_id>/fulfil")
@spec.operation(
    "/api/v1/referrals/grants/<id:grant_id>/fulfil",
    "post",
    summary="Mark a reward as sent",
    response="RewardGrant",
    errors=(404,),
    tags=("referrals",),
)
def fulfil(grant_id: int):  # type: ignore[no-untyped-def]
    grant = service.mark_fulfilled(db.session, grant_id, utcnow())
    commit()
    subscriber = db.session.get(Subscriber, grant.subscriber_id)
    return jsonify(grant_json(grant, subscriber))


def parse_report_args(args) -> dict:  # type: ignore[no-untyped-def]
    """from/to ISO dates (inclusive), cohort week|month, market a positive integer."""
    out: dict = {}
    for key, name in (("from", "start"), ("to", "end")):
        raw = args.get(key)
        try:
            out[name] = dt.date.fromisoformat(raw) if raw else None
        except ValueError as exc:
            raise InvalidRequest(f"{key} must be an ISO date (YYYY-MM-DD)", code="invalid_date") from exc
    if out["start"] and out["end"] and out["start"] > out["end"]:
        raise InvalidRequest("from must not be after to", code="invalid_range")
    out["cohort"] = args.get("cohort") or "month"
    if out["cohort"] not in {"week", "month"}:
        raise InvalidRequest("cohort must be week or month", code="invalid_cohort")
    if args.get("market"):
        out["market"] = query_int(args, "market", None, maximum=MAX_MARKET)
    out["virality_min_size"] = query_int(args, "virality_min_size", VIRALITY_MIN_SIZE, minimum=2)
    return out


@bp.get("/reports/referrals")
@spec.operation(
    "/api/v1/reports/referrals",
    "get",
    summary="The referral report: k-factor, cohorts, cascades, forecast",
    response="ReferralReport",
    parameters=[
        {
            "name": "from",
            "in": "query",
            "schema": {"type": "string", "format": "date"},
            "description": "inclusive",
        },
        {
            "name": "to",
            "in": "query",
            "schema": {"type": "string", "format": "date"},
            "description": "inclusive",
        },
        {
            "name": "cohort",
            "in": "query",
            "schema": {"enum": ["week", "month"], "default": "month"},
        },
        query_int_schema("market", maximum=MAX_MARKET, description="market size for the logistic forecast"),
        _VIRALITY_PARAM,
    ],
    tags=("reports",),
    csv="figure of the report that is a single number or word (k_factor, share_rate, ...)",
)
def referral_report():  # type: ignore[no-untyped-def]
    """Every referral figure for a window, computed from the stored forest."""
    args = parse_report_args(request.args)
    as_csv = wants_csv()
    horizon = current_app.config["MASTHEAD"].referral_horizon_days
    result = report.referral_report(reports_session(), utcnow(), horizon_days=horizon, **args)
    if not roles.has_role(current_operator(), "admin"):
        # creators see the growth figures, not what the referrers' readers pay
        for rows in result["top_referrers"].values():
            for row in rows:
                row["revenue_credited"] = row["downstream_revenue"] = None
    if as_csv:
        figures = ((k, v) for k, v in result.items() if v is None or isinstance(v, str | int | float))
        return csv_response("referrals.csv", ("figure", "value"), figures)
    return jsonify(result)


GRAPH_FORMATS = {
    "graphml": ("application/graphml+xml; charset=utf-8", "referrals.graphml"),
    "json": ("application/json", "referrals.json"),
}


def _chunked(lines, newline: bool, size: int = 2000):  # type: ignore[no-untyped-def]
    """Lines joined a few thousand at a time: one write per chunk, not per line."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield ("\n".join(batch) + "\n") if newline else "".join(batch)
            batch = []
    if batch:
        yield ("\n".join(batch) + "\n") if newline else "".join(batch)


@bp.get("/referrals/graph")
@spec.operation(
    "/api/v1/referrals/graph",
    "get",
    summary="The counted-referral graph as GraphML or node-link JSON, streamed",
    response="ReferralGraph",
    parameters=[
        {
            "name": "format",
            "in": "query",
            "schema": {"enum": list(GRAPH_FORMATS), "default": "graphml"},
            "description": "graphml (application/graphml+xml, networkx's layout: nx.read_graphml reads it) "
            "or json (networkx node-link: nx.node_link_graph(data, directed=True, multigraph=False))",
        },
        {
            "name": "emails",
            "in": "query",
            "schema": {"type": "boolean", "default": False},
            "description": "admins only: add each reader's email address (403 for other roles)",
        },
    ],
    errors=(400,),
    tags=("referrals",),
    other_content={
        "application/graphml+xml": {
            "type": "string",
            "description": "format=graphml: GraphML as networkx writes it, node attributes as keys",
        }
    },
)
def referral_graph():  # type: ignore[no-untyped-def]
    """Nodes: subscribers in a counted referral with confirmed, source, status, stage, paying,
    downstream, and for admins revenue_<currency> (cents); edges referrer -> referred."""
    fmt = (request.args.get("format") or "graphml").strip().lower()
    if fmt not in GRAPH_FORMATS:
        raise InvalidRequest("format must be graphml or json.", code="invalid_format")
    raw_emails = (request.args.get("emails") or "false").strip().lower()
    if raw_emails not in {"true", "false", "1", "0"}:
        raise InvalidRequest("emails must be true or false.", code="invalid_emails")
    admin = roles.has_role(current_operator(), "admin")
    with_email = raw_emails in {"true", "1"}
    if with_email and not admin:
        raise Forbidden("Only admins may export email addresses.", code="emails_for_admins")
    source = graph_export.referral_graph(db.session, with_revenue=admin, with_email=with_email)
    lines = graph_export.graphml_lines(source) if fmt == "graphml" else graph_export.node_link_chunks(source)
    content_type, filename = GRAPH_FORMATS[fmt]
    response = Response(
        stream_with_context(_chunked(lines, newline=fmt == "graphml")), content_type=content_type
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
