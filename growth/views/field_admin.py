"""The admin's custom fields: define them, relabel them, change where they are asked, archive."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from growth import custom_fields
from growth.db import commit, db, utcnow
from growth.errors import DomainError

bp = Blueprint("field_admin", __name__, url_prefix="/admin/fields")


def _choices(raw: str | None) -> tuple[str, ...]:
    """Choices typed one a line (blank lines ignored)."""
    return tuple(line.strip() for line in (raw or "").splitlines() if line.strip())


def _page(error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template(
        "admin/fields.html",
        fields=custom_fields.all_fields(db.session),
        values=request.form if error else {},
        error=error,
    ), status


@bp.get("")
def field_list():  # type: ignore[no-untyped-def]
    """Every field and a form to define one."""
    return _page()


@bp.post("")
def field_create():  # type: ignore[no-untyped-def]
    """Define a field from the form."""
    form = request.form
    try:
        field = custom_fields.define_field(
            db.session,
            custom_fields.FieldInput(
                name=form.get("name", ""),
                label=form.get("label", ""),
                kind=form.get("kind", ""),
                choices=_choices(form.get("choices")),
                on_signup=form.get("on_signup") == "on",
                reader_editable=form.get("reader_editable") == "on",
            ),
            utcnow(),
        )
    except DomainError as exc:
        db.session.rollback()
        return _page(exc.message, exc.status)
    commit()
    flash(f"Field {field.name} defined.")
    return redirect(url_for("field_admin.field_list"))


@bp.post("/<id:field_id>")
def field_save(field_id: int):  # type: ignore[no-untyped-def]
    """Save one field's label, choices, where it is asked, and whether it is archived."""
    form = request.form
    field = custom_fields.get_field(db.session, field_id)
    try:
        custom_fields.update_field(
            db.session,
            field,
            label=form.get("label", ""),
            choices=_choices(form.get("choices")) if field.kind == "choice" else None,
            on_signup=form.get("on_signup") == "on",
            reader_editable=form.get("reader_editable") == "on",
            archived=form.get("archived") == "on",
            now=utcnow(),
        )
    except DomainError as exc:
        db.session.rollback()
        return _page(exc.message, exc.status)
    commit()
    flash(f"Field {field.name} saved.")
    return redirect(url_for("field_admin.field_list"))
