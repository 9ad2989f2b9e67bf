"""Creator pages for sequences: list and create, settings, steps (edit, add, reorder, remove), figures."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from content import posts, sequence_stats, sequences
from content.sequence_metrics import LABELS
from growth import branding
from growth.db import commit, db, utcnow
from growth.errors import DomainError, ValidationFailed

bp = Blueprint("sequence_admin", __name__, url_prefix="/admin/sequences")
WEEKDAYS = ((1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun"))


def _int(name: str, default: int | None = None) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValidationFailed(
            f"{name.replace('_', ' ')} must be a whole number", code="invalid_field"
        ) from exc


def _step_input() -> sequences.StepInput:
    days = [int(d) for d in request.form.getlist("window_days") if d.isdigit()]
    return sequences.StepInput(
        subject=request.form.get("subject", ""),
        preview=request.form.get("preview", ""),
        body=request.form.get("body", ""),
        delay_minutes=_int("delay_minutes", 0) or 0,
        kind=request.form.get("kind", "value"),
        window_days=days or None,
        window_start_hour=_int("window_start_hour"),
        window_end_hour=_int("window_end_hour"),
        condition=(request.form.get("condition") or "").strip() or None,
    )


def _sequence_input(creating: bool) -> sequences.SequenceInput:
    given = {"name", "trigger", "holdout_percent", "pitch_wait_days", "repeatable"}
    data = sequences.SequenceInput(
        name=request.form.get("name", ""),
        # A typed answer trigger (field:<name>=<value>, poll:<id>=<answer>) wins over the list.
        trigger=request.form.get("trigger_answer", "").strip() or request.form.get("trigger", ""),
        holdout_percent=_int("holdout_percent"),
        pitch_wait_days=_int("pitch_wait_days"),
        repeatable=request.form.get("repeatable") == "on",
        given=given,
    )
    if creating:
        data.newsletter = request.form.get("newsletter") or None
        data.active = request.form.get("active") == "on"
    return data


def _sequence_page(sequence: Any, status: int = 200, error: str | None = None):  # type: ignore[no-untyped-def]
    session = db.session
    return render_template(
        "content/admin_sequence.html",
        sequence=sequence,
        newsletter=sequence_stats.newsletter_slug(session, sequence.newsletter_id),
        steps=sequence.live_steps,
        stats=sequence_stats.step_figures(session, sequence, utcnow()),
        counts=sequences.enrolment_counts(session, sequence.id),
        waiting=sequences.waiting_reasons(session, sequence.id),
        triggers=sequences.TRIGGERS,
        labels=LABELS,
        timezone=branding.current().timezone,
        error=error,
    ), status


def _step_page(sequence: Any, step: Any, status: int = 200, error: str | None = None):  # type: ignore[no-untyped-def]
    return render_template(
        "content/admin_sequence_step.html",
        sequence=sequence,
        step=step,
        weekdays=WEEKDAYS,
        timezone=branding.current().timezone,
        error=error,
    ), status


@bp.get("")
def sequence_list():  # type: ignore[no-untyped-def]
    """Every sequence, and the form for a new one."""
    found = sequences.list_sequences(db.session)
    commit()  # the welcome series is created on first sight
    counts = {s.id: sequences.enrolment_counts(db.session, s.id) for s in found}
    return render_template(
        "content/admin_sequences.html",
        sequences=found,
        counts=counts,
        triggers=sequences.TRIGGERS,
        newsletters=posts.newsletters(db.session),
        error=None,
    )


@bp.post("")
def sequence_create():  # type: ignore[no-untyped-def]
    """Create a sequence (then add its steps on its page)."""
    try:
        sequence = sequences.create_sequence(db.session, _sequence_input(creating=True), utcnow())
    except DomainError as exc:
        db.session.rollback()
        found = sequences.list_sequences(db.session)
        return render_template(
            "content/admin_sequences.html",
            sequences=found,
            counts={s.id: sequences.enrolment_counts(db.session, s.id) for s in found},
            triggers=sequences.TRIGGERS,
            newsletters=posts.newsletters(db.session),
            error=exc.message,
        ), exc.status
    commit()
    flash("Sequence created. Add its steps below.")
    return redirect(url_for("sequence_admin.sequence_page", sequence_id=sequence.id))


@bp.route("/<id:sequence_id>", methods=["GET", "POST"])
def sequence_page(sequence_id: int):  # type: ignore[no-untyped-def]
    """A sequence: settings, steps with their figures."""
    sequence = sequences.get_sequence(db.session, sequence_id)
    if request.method == "GET":
        return _sequence_page(sequence)
    try:
        sequences.update_sequence(db.session, sequence, _sequence_input(creating=False), utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _sequence_page(sequences.get_sequence(db.session, sequence_id), exc.status, exc.message)
    commit()
    flash("Sequence saved.")
    return redirect(url_for("sequence_admin.sequence_page", sequence_id=sequence_id))


@bp.post("/<id:sequence_id>/state")
def sequence_state(sequence_id: int):  # type: ignore[no-untyped-def]
    """Pause, resume or archive."""
    sequence = sequences.get_sequence(db.session, sequence_id)
    action = request.form.get("action")
    now = utcnow()
    try:
        if action == "pause":
            sequences.set_active(db.session, sequence, False, now)
        elif action == "resume":
            sequences.set_active(db.session, sequence, True, now)
        elif action == "archive":
            sequences.archive_sequence(db.session, sequence, now)
        else:
            raise ValidationFailed("unknown action", code="invalid_action")
    except DomainError as exc:
        db.session.rollback()
        return _sequence_page(sequences.get_sequence(db.session, sequence_id), exc.status, exc.message)
    commit()
    flash({"pause": "Paused.", "resume": "Running.", "archive": "Archived."}[action])
    return redirect(url_for("sequence_admin.sequence_page", sequence_id=sequence_id))


@bp.route("/<id:sequence_id>/steps/new", methods=["GET", "POST"])
def step_new(sequence_id: int):  # type: ignore[no-untyped-def]
    """Add a step (at the end unless a position is given)."""
    sequence = sequences.get_sequence(db.session, sequence_id)
    if request.method == "GET":
        return _step_page(sequence, None)
    try:
        sequences.save_step(db.session, sequence, None, _step_input(), utcnow(), _int("position"))
    except DomainError as exc:
        db.session.rollback()
        return _step_page(sequences.get_sequence(db.session, sequence_id), None, exc.status, exc.message)
    commit()
    flash("Step added.")
    return redirect(url_for("sequence_admin.sequence_page", sequence_id=sequence_id))


@bp.route("/<id:sequence_id>/steps/<id:step_id>", methods=["GET", "POST"])
def step_edit(sequence_id: int, step_id: int):  # type: ignore[no-untyped-def]
    """Edit a step (readers who already got it never get it again)."""
    sequence = sequences.get_sequence(db.session, sequence_id)
    step = next((s for s in sequence.live_steps if s.id == step_id), None)
    if step is None:
        return _sequence_page(sequence, 404, "No such step.")
    if request.method == "GET":
        return _step_page(sequence, step)
    try:
        sequences.save_step(db.session, sequence, step_id, _step_input(), utcnow())
    except DomainError as exc:
        db.session.rollback()
        sequence = sequences.get_sequence(db.session, sequence_id)
        return _step_page(
            sequence, next(s for s in sequence.live_steps if s.id == step_id), exc.status, exc.message
        )
    commit()
    flash("Step saved.")
    return redirect(url_for("sequence_admin.sequence_page", sequence_id=sequence_id))


@bp.post("/<id:sequence_id>/steps/<id:step_id>/move")
def step_move(sequence_id: int, step_id: int):  # type: ignore[no-untyped-def]
    """Move a step up or down, or remove it."""
    sequence = sequences.get_sequence(db.session, sequence_id)
    action = request.form.get("action")
    try:
        if action in ("up", "down"):
            sequences.move_step(db.session, sequence, step_id, -1 if action == "up" else 1, utcnow())
        elif action == "remove":
            sequences.remove_step(db.session, sequence, step_id, utcnow())
        else:
            raise ValidationFailed("unknown action", code="invalid_action")
    except DomainError as exc:
        db.session.rollback()
        return _sequence_page(sequences.get_sequence(db.session, sequence_id), exc.status, exc.message)
    commit()
    return redirect(url_for("sequence_admin.sequence_page", sequence_id=sequence_id))
