"""Creator pages: write and publish posts, preview and run sends, watch their progress."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from content import (
    pacing,
    post_metrics,
    post_report,
    posts,
    related,
    send_control,
    sending,
    stats,
    subject_tests,
    topics,
)
from content.metrics import SKIP_LABELS, segment_options
from content.segments import parse_segment, preview_post, segment_counts
from growth import access, roles
from growth.auth import current_operator
from growth.db import commit, db, utcnow
from growth.errors import DomainError, ValidationFailed
from growth.fields import optional_int, single_line

bp = Blueprint("content_admin", __name__, url_prefix="/admin")
FIELDS = (
    "title",
    "slug",
    "excerpt",
    "preview_text",
    "body_markdown",
    "kind",
    "audience",
    "newsletter",
    "status",
)


def _form_time(value: str | None, field: str) -> dt.datetime | None:
    """A datetime-local field, read as UTC (the form says so)."""
    if not value:
        return None
    try:
        if not single_line(value):
            raise ValueError(value)
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(f"{field} is not a date and time", code="invalid_field") from exc
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def post_input() -> posts.PostInput:
    """The editor's fields; topics are the ticked ones plus any typed, comma-separated."""
    values = {f: request.form.get(f) for f in FIELDS}
    if not values["slug"]:
        values["slug"] = None
    topics: list[str] | None = None
    if request.form.get("topics_shown"):
        topics = request.form.getlist("topic") + [
            t for t in request.form.get("new_topics", "").split(",") if t.strip()
        ]
    return posts.PostInput(
        **values,
        published_at=_form_time(request.form.get("published_at"), "published_at"),
        topics=topics,
    )


def _choices(post) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The editor's lists: topics, audiences and segments, each segment with its count."""
    session = db.session
    newsletter_id = post.newsletter_id if post else posts.newsletters(session)[0].id
    tiers = access.tiers_on_offer(session)
    counts = segment_counts(session, newsletter_id, utcnow(), [t for t, _ in tiers])
    return {
        "topics": topics.all_topics(session),
        "tiers": tiers,
        "counts": counts,
        "segments": segment_options(counts, dict(tiers)),
    }


def _edit_page(post, status: int = 200, error: str | None = None, preview_text: str | None = None):  # type: ignore[no-untyped-def]
    return render_template(
        "content/admin_post.html",
        post=post,
        newsletters=posts.newsletters(db.session),
        error=error,
        sends=send_control.sends_of(db.session, post.id) if post else [],
        related_clicks=related.click_counts(db.session, post.id) if post else None,
        preview=preview_text,
        segment=request.form.get("segment", "all"),
        **_choices(post),
    ), status


@bp.get("/posts")
def post_list():  # type: ignore[no-untyped-def]
    """Every post with its status and what it did, newest first or by a figure (`?sort=`)."""
    sort = request.args.get("sort", "")
    if sort and sort not in post_metrics.SORTS:
        raise ValidationFailed("Unknown sort.", code="invalid_sort")
    rows = post_report.post_rows(db.session, posts.list_posts(db.session))
    if sort:
        rows = post_metrics.sort_rows(rows, sort)
    admin = roles.has_role(current_operator(), "admin")
    return render_template("content/admin_posts.html", rows=rows, sort=sort, admin=admin)


@bp.route("/posts/new", methods=["GET", "POST"])
def post_new():  # type: ignore[no-untyped-def]
    """Write a new post."""
    if request.method == "GET":
        return _edit_page(None)
    try:
        operator = current_operator()
        post = posts.create_post(db.session, post_input(), utcnow(), operator.id if operator else None)
    except DomainError as exc:
        db.session.rollback()
        return _edit_page(None, exc.status, exc.message)
    commit()
    flash("Post saved.")
    return redirect(url_for("content_admin.post_edit", post_id=post.id))


@bp.route("/posts/<id:post_id>", methods=["GET", "POST"])
def post_edit(post_id: int):  # type: ignore[no-untyped-def]
    """Edit a post; its sends and the send form are on the same page."""
    post = posts.get_post(db.session, post_id)
    if request.method == "GET":
        return _edit_page(post)
    try:
        posts.update_post(db.session, post, post_input(), utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _edit_page(posts.get_post(db.session, post_id), exc.status, exc.message)
    commit()
    flash("Post saved.")
    return redirect(url_for("content_admin.post_edit", post_id=post.id))


@bp.post("/posts/<id:post_id>/preview")
def post_preview(post_id: int):  # type: ignore[no-untyped-def]
    """Say who the send would reach before it goes."""
    post = posts.get_post(db.session, post_id)
    config = current_app.config["MASTHEAD"]
    try:
        segment = parse_segment(request.form.get("segment", "all"))
        result = preview_post(db.session, post, segment, utcnow(), config)
    except DomainError as exc:
        return _edit_page(post, exc.status, exc.message)
    return _edit_page(post, preview_text=result.sentence)


@bp.post("/posts/<id:post_id>/sends")
def post_send(post_id: int):  # type: ignore[no-untyped-def]
    """Send now or at a time, once the operator has confirmed who it reaches."""
    post = posts.get_post(db.session, post_id)
    if request.form.get("confirmed") != "yes":
        return _confirm_page(post)
    try:
        operator = current_operator()
        send = sending.create_send(
            db.session,
            post,
            request.form.get("segment", "all"),
            utcnow(),
            scheduled_at=_form_time(request.form.get("scheduled_at"), "scheduled_at"),
            operator_id=operator.id if operator else None,
            test=subject_tests.plan_from_form(request.form),
        )
    except DomainError as exc:
        db.session.rollback()
        return _edit_page(posts.get_post(db.session, post_id), exc.status, exc.message)
    commit()
    return redirect(url_for("content_admin.send_page", send_id=send.id))


def _confirm_page(post):  # type: ignore[no-untyped-def]
    """Who the send reaches and, for a pitch, who it skips and why, before anything is sent."""
    config = current_app.config["MASTHEAD"]
    try:
        segment = parse_segment(request.form.get("segment", "all"))
        scheduled_at = _form_time(request.form.get("scheduled_at"), "scheduled_at")
        result = preview_post(db.session, post, segment, utcnow(), config, when=scheduled_at)
        test = subject_tests.plan_from_form(request.form)
    except DomainError as exc:
        return _edit_page(post, exc.status, exc.message)
    outlook = (
        subject_tests.outlook(db.session, post.newsletter_id, test, result.will_receive) if test else None
    )
    return render_template(
        "content/admin_send_confirm.html",
        post=post,
        test=test,
        outlook=outlook,
        segment=str(segment),
        scheduled_at=request.form.get("scheduled_at", ""),
        when=scheduled_at,
        result=result,
        labels=SKIP_LABELS,
    )


@bp.post("/posts/<id:post_id>/test")
def post_test(post_id: int):  # type: ignore[no-untyped-def]
    """A proof to one address."""
    post = posts.get_post(db.session, post_id)
    try:
        send_control.send_test_email(db.session, post, request.form.get("email", ""))
    except DomainError as exc:
        return _edit_page(post, exc.status, exc.message)
    flash(f"Test sent to {request.form.get('email')}.")
    return redirect(url_for("content_admin.post_edit", post_id=post.id))


@bp.get("/sends/<id:send_id>")
def send_page(send_id: int):  # type: ignore[no-untyped-def]
    """Progress, skipped recipients by reason, batches that need a decision, the rate cap."""
    return _send_page(sending.get_send(db.session, send_id))


def _send_page(send, status: int = 200, error: str | None = None):  # type: ignore[no-untyped-def]
    progress = send_control.progress(db.session, send)
    pace = pacing.outlook(db.session, send, utcnow())
    rate = pacing.rate_of(db.session, send.newsletter_id)
    test = subject_tests.test_of(db.session, send.id)
    outlook = (
        subject_tests.outlook_for_send(db.session, send, test, utcnow())
        if test is not None and test.started_at is None
        else None
    )
    page = render_template(
        "content/admin_send.html",
        progress=progress,
        labels=SKIP_LABELS,
        pace=pace,
        rate=rate,
        error=error,
        test=test,
        outlook=outlook,
        apple_note=subject_tests.APPLE_NOTE,
    )
    return page, status


@bp.post("/sends/<id:send_id>/send-rate")
def send_rate(send_id: int):  # type: ignore[no-untyped-def]
    """Cap (or uncap, when blank) the post emails per hour of this send's newsletter."""
    send = sending.get_send(db.session, send_id)
    try:
        per_hour = optional_int(request.form.get("per_hour"), "Messages per hour", 1, pacing.MAX_PER_HOUR)
        pacing.set_rate(db.session, send.newsletter_id, per_hour, utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _send_page(send, 422, exc.message)
    commit()
    flash(f"Send rate: {per_hour:,} messages per hour." if per_hour else "Send rate: no cap.")
    return redirect(url_for("content_admin.send_page", send_id=send_id))


@bp.post("/sends/<id:send_id>/batches/<id:number>/resend")
def send_resend_batch(send_id: int, number: int):  # type: ignore[no-untyped-def]
    """The operator resends a batch whose outcome is unknown."""
    send_control.resend_batch(db.session, send_control.get_batch(db.session, send_id, number), utcnow())
    commit()
    flash(f"Batch {number} queued again.")
    return redirect(url_for("content_admin.send_page", send_id=send_id))


@bp.post("/sends/<id:send_id>/send-to-skipped")
def send_skipped(send_id: int):  # type: ignore[no-untyped-def]
    """Send to the skipped who are now allowed."""
    count = send_control.send_to_skipped(db.session, sending.get_send(db.session, send_id), utcnow())
    commit()
    flash(f"{count:,} skipped recipients queued.")
    return redirect(url_for("content_admin.send_page", send_id=send_id))


@bp.post("/sends/<id:send_id>/decide")
def send_decide(send_id: int):  # type: ignore[no-untyped-def]
    """End a subject test's wait: judge it now and send the rest."""
    send = sending.get_send(db.session, send_id)
    try:
        subject_tests.decide_now(db.session, send, utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _send_page(send, exc.status, exc.message)
    commit()
    return redirect(url_for("content_admin.send_page", send_id=send_id))


@bp.post("/sends/<id:send_id>/cancel")
def send_cancel(send_id: int):  # type: ignore[no-untyped-def]
    """Cancel a scheduled send."""
    sending.cancel_send(db.session, sending.get_send(db.session, send_id))
    commit()
    return redirect(url_for("content_admin.send_page", send_id=send_id))


@bp.get("/value-to-pitch")
def value_to_pitch():  # type: ignore[no-untyped-def]
    """Subscribers by value-to-pitch ratio, lowest first."""
    return render_template("content/admin_ratios.html", rows=stats.most_pitched(db.session))
