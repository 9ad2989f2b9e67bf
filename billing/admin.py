"""Operator pages for billing: tiers and the revenue summary."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from billing import gateway, reports, service, sponsorships
from growth.db import commit, db, utcnow
from growth.errors import DomainError
from growth.fields import optional_int

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


@bp.post("/sponsorships/<id:booking_id>/bill")
def bill_booking(booking_id: int):  # type: ignore[no-untyped-def]
    """A Stripe invoice or payment link for a booking; back to the booking's page."""
    sponsorships.create_bill(
        db.session,
        gateway.get_gateway() if gateway.is_configured() else None,
        booking_id,
        request.form.get("method", "invoice"),
        utcnow(),
    )
    commit()
    return redirect(f"/admin/sponsorships/{booking_id}", code=303)
