"""Operator pages for billing: tiers, the revenue summary, offers and comps."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for

from billing import gateway, grants, offers, reports, service, sponsorships
from growth.auth import current_operator
from growth.db import commit, db, reports_session, utcnow
from growth.errors import DomainError, ValidationFailed
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
        retention=(
            optional_int(form.get("retention_percent_off"), "Retention percent off", 1, 100),
            optional_int(form.get("retention_months"), "Retention months", 1, 12),
        )
        if "retention_percent_off" in form or "retention_months" in form
        else None,
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
    report = reports.revenue_report(reports_session(), reports.default_start(now), now)
    return render_template(
        "billing/admin_revenue.html", report=report, review=service.events_for_review(db.session)
    )


@bp.post("/sponsorships/<id:booking_id>/bill")
def bill_booking(booking_id: int):  # type: ignore[no-untyped-def]
    """A Stripe invoice or payment link for a booking; back to the booking's page."""
    sponsorships.create_bill(
        db.session,
        gateway.optional_gateway(),
        booking_id,
        request.form.get("method", "invoice"),
        utcnow(),
    )
    commit()
    return redirect(f"/admin/sponsorships/{booking_id}", code=303)


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


def _date(raw: str | None, label: str) -> dt.datetime | None:
    """A YYYY-MM-DD from the form as the start of that day, UTC; None when blank."""
    if not raw or not raw.strip():
        return None
    try:
        day = dt.date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise ValidationFailed(f"{label} must be a date such as 2027-01-31", code="invalid_date") from exc
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def offer_input(form: dict) -> offers.OfferInput:
    """An OfferInput from the admin form (whole numbers typed as ASCII digits)."""
    return offers.OfferInput(
        code=form.get("code", ""),
        name=form.get("name", ""),
        tier_id=parse_int(form.get("tier_id"), "Tier", 1, MAX_ID),
        interval=form.get("interval", ""),
        kind=form.get("kind", ""),
        percent_off=optional_int(form.get("percent_off"), "Percent off", 1, 100),
        amount_off_cents=optional_int(form.get("amount_off_cents"), "Amount off", 1, service.MAX_PRICE_CENTS),
        duration=form.get("duration") or None,
        duration_in_months=optional_int(form.get("duration_in_months"), "Months", 1, 36),
        trial_days=optional_int(form.get("trial_days"), "Trial days", 1, service.MAX_TRIAL_DAYS),
        starts_at=_date(form.get("starts_on"), "Start"),
        ends_at=_date(form.get("ends_on"), "End"),
        max_redemptions=optional_int(form.get("max_redemptions"), "Limit", 1, 10_000_000),
        featured=form.get("featured") == "on",
    )


@bp.route("/offers", methods=["GET", "POST"])
def offers_page():  # type: ignore[no-untyped-def]
    """The offers with their redemptions and links, and a form to make one."""
    error = None
    if request.method == "POST":
        try:
            stripe_gateway = gateway.optional_gateway()
            offers.create_offer(db.session, stripe_gateway, offer_input(request.form.to_dict()), utcnow())
            commit()
            return redirect(url_for("billing_admin.offers_page"), code=303)
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
    now = utcnow()
    rows = [
        (o, offers.describe(o), offers.redemptions(db.session, o), offers.why_not_live(db.session, o, now))
        for o in offers.list_offers(db.session)
    ]
    return render_template(
        "billing/admin_offers.html",
        rows=rows,
        url_of=offers.offer_url,
        tiers=service.list_tiers(db.session, active_only=True),
        error=error,
        values=request.form,
        configured=gateway.is_configured(),
    ), (422 if error else 200)


@bp.post("/offers/<id:offer_id>/end")
def end_offer(offer_id: int):  # type: ignore[no-untyped-def]
    """End an offer now (its promotion code too)."""
    offer = offers.get_offer(db.session, offer_id)
    stripe_gateway = gateway.optional_gateway()
    offers.end_offer(db.session, stripe_gateway, offer, utcnow())
    commit()
    return redirect(url_for("billing_admin.offers_page"), code=303)
