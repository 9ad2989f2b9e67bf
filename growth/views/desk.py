"""Admin pages for the publication itself: branding and newsletters (admins only)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from growth import branding, csvout, newsletters, series
from growth.db import commit, db, utcnow
from growth.errors import DomainError
from growth.models import Newsletter

bp = Blueprint("desk", __name__, url_prefix="/admin")

CHART_DAYS = 30


def _form(*names: str) -> dict[str, str]:
    return {name: request.form.get(name, "") for name in names}


@bp.get("/branding")
def branding_page():  # type: ignore[no-untyped-def]
    """The publication's name, logo, colour, postal address, default sender and time zone."""
    return render_template("admin/branding.html", values=branding.current().as_dict(), error=None)


@bp.post("/branding")
def branding_save():  # type: ignore[no-untyped-def]
    """Store the branding: the next page and the next email use it (no restart)."""
    values = _form(*branding.FIELDS)
    try:
        branding.update(db.session, values, utcnow())
    except DomainError as exc:
        db.session.rollback()
        return render_template("admin/branding.html", values=values, error=exc.message), exc.status
    commit()
    flash("Branding saved: pages and emails use it from now on.")
    return redirect(url_for("desk.branding_page"))


def _daily(newsletter: Newsletter) -> series.Series:
    """Signups and confirmations of this newsletter per day, last CHART_DAYS days."""
    return newsletters.daily_signups(
        db.session, newsletter, utcnow(), CHART_DAYS, branding.current().timezone
    )


@bp.get("/newsletters")
def newsletter_list():  # type: ignore[no-untyped-def]
    """Every newsletter with its readers, and a form for a new one."""
    return _list_page({}, None, 200)


def _list_page(values: dict[str, str], error: str | None, status: int):  # type: ignore[no-untyped-def]
    figures = newsletters.all_newsletters(db.session)
    commit()  # the default newsletter, created on first use
    return render_template("admin/newsletters.html", figures=figures, values=values, error=error), status


@bp.post("/newsletters")
def newsletter_create():  # type: ignore[no-untyped-def]
    """A new newsletter, offered at signup from now on."""
    values = _form("name", "slug", "description", "sender_name", "reply_to")
    try:
        newsletter = newsletters.create_newsletter(db.session, values, utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _list_page(values, exc.message, exc.status)
    commit()
    flash(f"Newsletter “{newsletter.name}” created.")
    return redirect(url_for("desk.newsletter_page", newsletter_id=newsletter.id))


def _newsletter_page(newsletter: Newsletter, values: dict[str, str] | None, error: str | None, status: int):  # type: ignore[no-untyped-def]
    daily = _daily(newsletter)
    return render_template(
        "admin/newsletter.html",
        newsletter=newsletter,
        values=values
        or {
            "name": newsletter.name,
            "description": newsletter.description,
            "sender_name": newsletter.sender_name or "",
            "reply_to": newsletter.reply_to or "",
        },
        error=error,
        daily=daily,
        chart_days=CHART_DAYS,
    ), status


@bp.get("/newsletters/<id:newsletter_id>")
def newsletter_page(newsletter_id: int):  # type: ignore[no-untyped-def]
    """One newsletter: its settings and daily signups and confirmations."""
    return _newsletter_page(newsletters.get_newsletter(db.session, newsletter_id), None, None, 200)


@bp.get("/newsletters/<id:newsletter_id>/daily.csv")
def newsletter_daily_csv(newsletter_id: int):  # type: ignore[no-untyped-def]
    """The chart's numbers as CSV."""
    newsletter = newsletters.get_newsletter(db.session, newsletter_id)
    daily = _daily(newsletter)
    return csvout.csv_response(f"{newsletter.slug}-daily.csv", ["day", *daily.columns], daily.rows())


@bp.post("/newsletters/<id:newsletter_id>")
def newsletter_save(newsletter_id: int):  # type: ignore[no-untyped-def]
    """Rename, describe, set the sender name and reply-to."""
    newsletter = newsletters.get_newsletter(db.session, newsletter_id)
    values = _form(*newsletters.EDITABLE)
    try:
        newsletters.update_newsletter(db.session, newsletter, values)
    except DomainError as exc:
        db.session.rollback()
        return _newsletter_page(newsletter, values, exc.message, exc.status)
    commit()
    flash("Saved.")
    return redirect(url_for("desk.newsletter_page", newsletter_id=newsletter.id))


@bp.post("/newsletters/<id:newsletter_id>/archive")
def newsletter_archive(newsletter_id: int):  # type: ignore[no-untyped-def]
    """Archive (offered to nobody) or, with restore=1, offer it again."""
    newsletter = newsletters.get_newsletter(db.session, newsletter_id)
    try:
        if request.form.get("restore") == "1":
            newsletters.restore_newsletter(db.session, newsletter)
        else:
            newsletters.archive_newsletter(db.session, newsletter, utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _newsletter_page(newsletter, None, exc.message, exc.status)
    commit()
    flash(
        "Archived: no longer offered to readers." if newsletter.archived_at else "Offered to readers again."
    )
    return redirect(url_for("desk.newsletter_page", newsletter_id=newsletter.id))
