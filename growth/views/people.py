"""Admin pages for subscribers: the searchable directory and one subscriber's page (admins only)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from growth import (
    access,
    custom_fields,
    directory,
    member_imports,
    newsletters,
    operator_actions,
    platforms,
    subscribers,
    timeline,
)
from growth.db import commit, db, utcnow
from growth.engagement import subscriber_engagement
from growth.errors import DomainError, InvalidRequest
from growth.fields import MAX_ID, parse_int
from growth.models import Stage, Status
from growth.platforms import PLATFORMS
from growth.stages import Engagement

bp = Blueprint("people", __name__, url_prefix="/admin/subscribers")


@bp.get("")
def subscriber_list():  # type: ignore[no-untyped-def]
    """Search by email or name (every status); filter by status, stage, newsletter, source, tier, class."""
    config = current_app.config["MASTHEAD"]
    filters = directory.parse_filters(request.args)
    page = directory.search(db.session, filters, utcnow(), config.engaged_window_days)
    return render_template(
        "admin/subscribers.html",
        filters=filters,
        page=page,
        statuses=list(Status),
        stages=list(Stage),
        classes=list(Engagement),
        newsletters=[f.newsletter for f in newsletters.all_newsletters(db.session)],
        sources=directory.sources(db.session),
        tiers=access.tier_names(db.session),
    )


def _subscriber_page(subscriber_id: int, error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    config = current_app.config["MASTHEAD"]
    subscriber = subscribers.get_subscriber(db.session, subscriber_id)
    now = utcnow()
    tier_id = access.paying_tiers(db.session, [subscriber.id]).get(subscriber.id)
    return render_template(
        "admin/subscriber.html",
        subscriber=subscriber,
        engagement=subscriber_engagement(db.session, subscriber, now, config.engaged_window_days),
        entries=timeline.timeline(db.session, subscriber),
        memberships={m.newsletter_id: m.status for m in subscriber.memberships},
        offered=newsletters.active_newsletters(db.session),
        tier=access.tier_names(db.session).get(tier_id) if tier_id else None,
        fields=custom_fields.values_of(db.session, [subscriber.id])[subscriber.id],
        grants=access.grants_of(db.session, subscriber.id),
        tiers_on_offer=access.tiers_on_offer(db.session),
        error=error,
    ), status


@bp.get("/<id:subscriber_id>")
def subscriber_page(subscriber_id: int):  # type: ignore[no-untyped-def]
    """One subscriber: details, engagement, newsletters, timeline and actions."""
    return _subscriber_page(subscriber_id)


@bp.post("/<id:subscriber_id>/resend-confirmation")
def resend_confirmation(subscriber_id: int):  # type: ignore[no-untyped-def]
    """Send a pending reader their confirmation link again (not twice within the resend delay)."""
    subscriber = subscribers.get_subscriber(db.session, subscriber_id)
    seconds = current_app.config["MASTHEAD"].confirmation_resend_seconds
    try:
        queued = operator_actions.resend_confirmation(db.session, subscriber, utcnow(), seconds)
    except DomainError as exc:
        db.session.rollback()
        return _subscriber_page(subscriber_id, exc.message, exc.status)
    commit()
    flash(
        "Confirmation sent again."
        if queued
        else f"A confirmation went out less than {seconds // 60 or 1} minutes ago: not sent again."
    )
    return redirect(url_for("people.subscriber_page", subscriber_id=subscriber_id))


@bp.post("/<id:subscriber_id>/newsletters")
def change_newsletters(subscriber_id: int):  # type: ignore[no-untyped-def]
    """Keep exactly the newsletters checked (the reader asked us)."""
    subscriber = subscribers.get_subscriber(db.session, subscriber_id)
    try:
        ids = {parse_int(v, "newsletter", 1, MAX_ID) for v in request.form.getlist("newsletter")}
        operator_actions.change_newsletters(db.session, subscriber, ids, utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _subscriber_page(subscriber_id, exc.message, exc.status)
    commit()
    flash("Newsletters saved.")
    return redirect(url_for("people.subscriber_page", subscriber_id=subscriber_id))


def _import_page(report=None, error: str | None = None, status: int = 200, form=None):  # type: ignore[no-untyped-def]
    return render_template(
        "admin/import_members.html",
        platforms=PLATFORMS,
        tiers=access.tier_names(db.session),
        max_mb=f"{(current_app.config['MAX_CONTENT_LENGTH'] or 0) / 1024 / 1024:g}",
        # about 120 bytes a row in these exports
        max_rows=f"{(current_app.config['MAX_CONTENT_LENGTH'] or 0) // 120 // 1000 * 1000:,}",
        report=report,
        error=error,
        form=form or {"platform": "", "dry_run": True, "tier": ""},
    ), status


@bp.get("/import")
def import_members_page():  # type: ignore[no-untyped-def]
    """Upload another platform's member export: a dry run first, then the import."""
    return _import_page()


@bp.post("/import")
def import_members():  # type: ignore[no-untyped-def]
    """Run the upload as a dry run or for real and show the report."""
    platform = request.form.get("platform", "")
    dry_run = request.form.get("dry_run") == "1"
    form = {"platform": platform, "dry_run": dry_run, "tier": request.form.get("tier", "")}
    upload = request.files.get("file")
    try:
        raw_tier = request.form.get("tier", "")
        tier_id = parse_int(raw_tier, "tier", 1, MAX_ID) if raw_tier else None
        if upload is None or not upload.filename:
            raise InvalidRequest("Choose the export file to upload.", code="missing_file")
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidRequest(
                "The file must be UTF-8 (as the platforms export it).", code="bad_encoding"
            ) from exc
        report = member_imports.import_members(
            db.session,
            platform,
            platforms.parse_export(platform, text),
            utcnow(),
            dry_run=dry_run,
            label=f"{platform}:{upload.filename}"[:100],
            refuse_disposable=current_app.config["MASTHEAD"].disposable_emails == "refuse",
            tier_id=tier_id,
        )
    except DomainError as exc:
        db.session.rollback()
        return _import_page(error=exc.message, status=exc.status, form=form)
    if dry_run:
        db.session.rollback()
    else:
        commit()
    return _import_page(report=report, form=form)
