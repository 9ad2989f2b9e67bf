"""Operator pages for billing: tiers and the revenue summary."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from billing import gateway, grants, reports, service
from growth.auth import current_operator
from growth.db import commit, db, utcnow
from growth.errors import DomainError
from growth.fields import MAX_ID, optional_int, parse_int

bp = Blueprint("billing_admin", __name__, url_prefix="/admin")


def tier_input(form: dict) -> service.TierInput:
    """A TierInput from the admin form (prices typed in cents, ASCII digits)."""
    cents = service.MAX_PRICE_CENTS
    return service.TierInput(
        name=form.get("name", ""),
        description=form.get("description", ""),
        monthly_price_cents=optional_int(form.get("monthly_price_cents"), "Monthly price", 1, cents),
        yearly_price_cents=optional_int(form.get("yearly_price_cents"), "Yearly price", 1, cents),
        currency=(form.get("currency") or "").strip().lower() or None,
        trial_days=optional_int(form.get("trial_days"), "Trial days", 0, service.MAX_TRIAL_DAYS) or 0,
        active=form.get("active") == "on",
    )


@bp.route("/tiers", methods=["GET", "POST"])
def tiers():  # type: ignore[no-untyped-def]
    """The tiers, and a form to add one."""
    error = None
    if request.method == "POST":
        try:
            service.create_tier(db.session, tier_input(request.form.to_dict()), utcnow())
            commit()
            return redirect(url_for("billing_admin.tiers"), code=303)
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
    return render_template(
        "billing/admin_tiers.html",
        tiers=service.list_tiers(db.session),
        error=error,
        values=request.form,
        configured=gateway.is_configured(),
    ), (422 if error else 200)


@bp.route("/tiers/<id:tier_id>", methods=["GET", "POST"])
def tier(tier_id: int):  # type: ignore[no-untyped-def]
    """Edit one tier."""
    current = service.get_tier(db.session, tier_id)
    error = None
    if request.method == "POST":
        try:
            service.update_tier(db.session, current, tier_input(request.form.to_dict()), utcnow())
            commit()
            return redirect(url_for("billing_admin.tiers"), code=303)
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
    return render_template("billing/admin_tier.html", tier=current, error=error), (422 if error else 200)


@bp.get("/revenue")
def revenue():  # type: ignore[no-untyped-def]
    """MRR and this year's movements, per currency."""
    now = utcnow()
    report = reports.revenue_report(db.session, reports.default_start(now), now)
    return render_template(
        "billing/admin_revenue.html", report=report, review=service.events_for_review(db.session)
    )


def _back_to(subscriber_id: int):  # type: ignore[no-untyped-def]
    return redirect(url_for("people.subscriber_page", subscriber_id=subscriber_id), code=303)


@bp.post("/subscribers/<id:subscriber_id>/comps")
def give_comp(subscriber_id: int):  # type: ignore[no-untyped-def]
    """Comp a tier from the subscriber's page: a week to forever (empty days)."""
    try:
        tier_id = parse_int(request.form.get("tier_id"), "tier", 1, MAX_ID)
        days = optional_int(request.form.get("days"), "Days", grants.MIN_COMP_DAYS, grants.MAX_COMP_DAYS)
        operator = current_operator()
        result = grants.give_comp(
            db.session, subscriber_id, tier_id, days, utcnow(), operator.email if operator else None
        )
    except DomainError as exc:
        db.session.rollback()
        flash(f"No comp given: {exc.message}")
        return _back_to(subscriber_id)
    commit()
    flash("Comp given." if result.created else "The live comp of that tier now has the new end.")
    return _back_to(subscriber_id)


@bp.post("/subscribers/<id:subscriber_id>/grants/<id:grant_id>/end")
def end_grant(subscriber_id: int, grant_id: int):  # type: ignore[no-untyped-def]
    """End a comp or a gift now."""
    grants.end_grant(db.session, grant_id, subscriber_id, utcnow())
    commit()
    flash("Ended.")
    return _back_to(subscriber_id)
