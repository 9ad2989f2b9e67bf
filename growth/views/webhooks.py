"""Engagement endpoints: SendGrid's signed Event Webhook, the "keep me" link, the summary API.

Also the `engagement-run` command (stages and sunset), registered at the top level of the CLI.
"""

from __future__ import annotations

import datetime as dt
import logging

import click
from flask import Blueprint, current_app, jsonify, render_template, request
from flask.cli import with_appcontext

from growth import engagement, events, links, signals, stages, sunset
from growth.db import commit, db, utcnow
from growth.errors import DomainError
from growth.openapi import spec
from growth.subscribers import get_subscriber
from growth.tokens import read_token

log = logging.getLogger(__name__)

bp = Blueprint("engagement", __name__, cli_group=None)


KEY = "masthead_sendgrid_webhook_key"


@bp.record_once
def _setup(state) -> None:  # type: ignore[no-untyped-def]
    """Parse the webhook key once, at startup (a bad key is logged now, not at the first POST)."""
    raw = state.app.config["MASTHEAD"].sendgrid_webhook_public_key
    key = None
    if raw:
        try:
            key = events.load_public_key(raw)
        except ValueError:
            log.error("SENDGRID_WEBHOOK_PUBLIC_KEY is malformed: every webhook will be refused")
    state.app.extensions[KEY] = key
    signals.subscriber_changed.connect(events.forget_erased)


@bp.post("/webhooks/sendgrid")
def sendgrid_events():  # type: ignore[no-untyped-def]
    """SendGrid Event Webhook: 403 unless signed within a day, 400 unless a JSON array; a job stores it."""
    received = events.receive_webhook(
        current_app.extensions.get(KEY),
        request.get_data(),
        request.headers.get(events.SIGNATURE_HEADER),
        request.headers.get(events.TIMESTAMP_HEADER),
        utcnow(),
    )
    commit()
    return jsonify({"received": received}), 200


@bp.route("/keep/<token>", methods=["GET", "POST"])
def keep_me(token: str):  # type: ignore[no-untyped-def]
    """One click keeps a sunsetting subscriber (a button when a scanner may be the clicker)."""
    try:
        result = sunset.keep(
            db.session,
            read_token("keep", token),
            utcnow(),
            confirmed=request.method == "POST",
            scanner_seconds=current_app.config["MASTHEAD"].scanner_click_seconds,
        )
    except DomainError as exc:
        return render_template("growth/link_problem.html", message=exc.message, code=exc.code), 400
    commit()
    if result.needs_confirmation:
        return render_template("growth/keep_me_confirm.html", subscriber=result.subscriber)
    return render_template(
        "growth/keep_me.html",
        subscriber=result.subscriber,
        kept=result.kept,
        manage_url=links.manage_url(result.subscriber),
    )


ENGAGEMENT_SUMMARY = spec.schema(
    "EngagementSummary",
    {
        "type": "object",
        "required": ["subscriber_id", "engagement", "last_engagement_at", "score"],
        "properties": {
            "subscriber_id": {"type": "integer"},
            "status": {"type": "string"},
            "stage": {"type": "string"},
            "stage_changed_at": {"type": ["string", "null"], "format": "date-time"},
            "engagement": {"enum": [str(e) for e in stages.Engagement]},
            "last_engagement_at": {"type": ["string", "null"], "format": "date-time"},
            "last_machine_open_at": {"type": ["string", "null"], "format": "date-time"},
            "disengaged_since": {"type": ["string", "null"], "format": "date-time"},
            "engagements_30d": {"type": "integer"},
            "engagements_90d": {"type": "integer"},
            "opens_30d": {"type": "integer"},
            "clicks_30d": {"type": "integer"},
            "web_visits_30d": {"type": "integer"},
            "machine_opens_90d": {"type": "integer"},
            "scanner_clicks_90d": {"type": "integer"},
            "engaged_value_emails": {"type": "integer"},
            "score": {
                "type": "number",
                "description": "Human engagements weighted (click 3, web visit 2, open 1), "
                "halved every 30 days of age; machine opens and scanner clicks count 0.",
            },
        },
    },
)


@bp.get("/api/v1/subscribers/<id:subscriber_id>/engagement")
@spec.operation(
    "/api/v1/subscribers/<id:subscriber_id>/engagement",
    "get",
    summary="A subscriber's engagement: engaged, unknown or disengaged, counts and score",
    response="EngagementSummary",
    errors=(404,),
    tags=("subscribers",),
)
def subscriber_engagement(subscriber_id: int):  # type: ignore[no-untyped-def]
    """Operators see why a subscriber is classed as they are."""
    config = current_app.config["MASTHEAD"]
    result = engagement.subscriber_engagement(
        db.session, get_subscriber(db.session, subscriber_id), utcnow(), config.engaged_window_days
    )
    return jsonify(result.as_json())


@bp.cli.command("engagement-run")
@click.option("--now", "now_text", default=None, help="ISO time to run as (default: now, UTC).")
@with_appcontext
def engagement_run(now_text: str | None) -> None:
    """Recompute every subscriber's stage, then send due re-engagement emails and sunset."""
    now = utcnow()
    if now_text:
        try:
            now = dt.datetime.fromisoformat(now_text)
        except ValueError as exc:
            raise click.BadParameter("use an ISO time such as 2026-01-31T06:00:00+00:00") from exc
        now = now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now.astimezone(dt.UTC)
    result = sunset.run_engagement(db.session, now)
    moved, done = result["stages_moved"], result
    summary = ", ".join(f"{n} to {stage}" for stage, n in sorted(moved.items())) or "none"
    click.echo(f"stages moved: {summary}")
    click.echo(f"sunset: {done['notified']} re-engagement emails, {done['inactivated']} set inactive")
