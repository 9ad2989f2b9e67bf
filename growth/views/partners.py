"""The admins' page of partner publications: add one, and what each brought and was sent."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from growth import partners
from growth.db import commit, db, reports_session, utcnow
from growth.errors import DomainError

bp = Blueprint("partners", __name__, url_prefix="/admin")
ROLES = {
    "partners.partner_page": "admin",
    "partners.partner_create": "admin",
    "public.recommendations": "public",  # the reader's ticks, behind their signed /me/ link
}


def _page(error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    report = partners.partners_report(reports_session(), utcnow())
    return render_template(
        "admin/partners.html",
        partners=partners.list_partners(db.session),
        rows=report["partners"],
        verify_days=report["verify_days"],
        credited_rule=report["revenue_credited_rule"],
        error=error,
        values=request.form,
    ), status


@bp.get("/partners")
def partner_page():  # type: ignore[no-untyped-def]
    """Partners, their numbers, and the form to add one."""
    return _page()


@bp.post("/partners")
def partner_create():  # type: ignore[no-untyped-def]
    """Add a partner publication."""
    form = request.form
    data = partners.PartnerInput(
        code=form.get("code"),
        name=form.get("name"),
        description=form.get("description", ""),
        website=form.get("website", ""),
        recommended=form.get("recommended") == "on",
        signup_api_url=form.get("signup_api_url") or None,
        page_url=form.get("page_url") or None,
        their_code=form.get("their_code") or None,
        price_per_subscriber_cents=form.get("price_per_subscriber_cents") or None,
        currency=form.get("currency") or "usd",
    )
    try:
        partners.create_partner(db.session, data, utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _page(exc.message, exc.status)
    commit()
    return redirect(url_for("partners.partner_page"), code=303)
