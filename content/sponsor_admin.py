"""Admin pages for sponsorships: sponsors, bookings and their calendar, each booking's report."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from content import media_kit, posts, sponsorships
from content.sponsor_models import Pricing, Slot
from growth import sponsorships as growth_sponsorships
from growth.auth import current_operator
from growth.db import commit, db, utcnow
from growth.errors import DomainError
from growth.params import query_int

bp = Blueprint("sponsor_admin", __name__, url_prefix="/admin")


def _page(error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    session = db.session
    return render_template(
        "content/admin_sponsorships.html",
        sponsors=sponsorships.list_sponsors(session),
        bookings=sponsorships.list_bookings(session),
        newsletters=posts.newsletters(session),
        payments=growth_sponsorships.payments(session),
        rates=media_kit.rate_card(session),
        slots=list(Slot),
        pricings=list(Pricing),
        values=request.form,
        error=error,
        today=utcnow().date(),
    ), status


@bp.get("/sponsorships")
def sponsorships_page():  # type: ignore[no-untyped-def]
    """Sponsors, bookings, and the forms to add either."""
    return _page()


@bp.post("/sponsorships/sponsors")
def sponsor_create():  # type: ignore[no-untyped-def]
    """Add a sponsor."""
    form = request.form
    try:
        sponsorships.create_sponsor(
            db.session,
            sponsorships.SponsorInput(form.get("name"), form.get("contact_email"), form.get("website", "")),
            utcnow(),
        )
    except DomainError as exc:
        db.session.rollback()
        return _page(exc.message, exc.status)
    commit()
    return redirect(url_for("sponsor_admin.sponsorships_page"), code=303)


@bp.post("/sponsorships/bookings")
def booking_create():  # type: ignore[no-untyped-def]
    """Book a slot (a taken slot, a full send or a send gone out is refused with the reason)."""
    form = request.form
    operator = current_operator()
    try:
        booking = sponsorships.book_slot(
            db.session,
            sponsorships.BookingInput(
                sponsor_id=form.get("sponsor_id"),
                newsletter=form.get("newsletter"),
                run_on=form.get("run_on"),
                slot=form.get("slot"),
                creative_markdown=form.get("creative_markdown"),
                pricing=form.get("pricing"),
                price_cents=form.get("price_cents"),
                currency=form.get("currency"),
            ),
            utcnow(),
            operator.id if operator else None,
        )
    except DomainError as exc:
        db.session.rollback()
        return _page(exc.message, exc.status)
    commit()
    return redirect(url_for("sponsor_admin.booking_page", booking_id=booking.id), code=303)


@bp.get("/sponsorships/calendar")
def calendar_page():  # type: ignore[no-untyped-def]
    """Free and booked slots per day of one newsletter, four weeks from `from` (today)."""
    session = db.session
    newsletter = sponsorships.newsletter_by_slug(session, request.args.get("newsletter"))
    raw = request.args.get("from")
    start = sponsorships.parse_day(raw, "from") if raw else utcnow().date()
    days = query_int(request.args, "days", 28, maximum=sponsorships.CALENDAR_MAX_DAYS) or 28
    return render_template(
        "content/admin_sponsor_calendar.html",
        newsletter=newsletter,
        newsletters=posts.newsletters(session),
        days=sponsorships.calendar(session, newsletter, start, days),
        start=start,
        limit=current_app.config["MASTHEAD"].sponsor_slots_per_send,
    )


@bp.get("/sponsorships/<id:booking_id>")
def booking_page(booking_id: int):  # type: ignore[no-untyped-def]
    """What a booking did and earned, the sponsor's signed link, its bill."""
    session = db.session
    booking = sponsorships.get_booking(session, booking_id)
    return render_template(
        "content/admin_booking.html",
        booking=booking,
        data=sponsorships.booking_json(session, booking),
        charge=growth_sponsorships.charge(session, booking.id),
        billing=growth_sponsorships.has_billing(),
    )


@bp.post("/sponsorships/rates")
def rate_set():  # type: ignore[no-untyped-def]
    """Add or change a line of the media kit's rate card."""
    form = request.form
    try:
        media_kit.set_rate(
            db.session,
            form.get("slot"),
            form.get("pricing"),
            form.get("price_cents"),
            form.get("currency"),
            form.get("note", ""),
            utcnow(),
        )
    except DomainError as exc:
        db.session.rollback()
        return _page(exc.message, exc.status)
    commit()
    return redirect(url_for("sponsor_admin.sponsorships_page"), code=303)


@bp.post("/sponsorships/rates/<id:rate_id>/delete")
def rate_delete(rate_id: int):  # type: ignore[no-untyped-def]
    """Take a line off the rate card."""
    media_kit.remove_rate(db.session, rate_id)
    commit()
    return redirect(url_for("sponsor_admin.sponsorships_page"), code=303)


@bp.post("/sponsorships/<id:booking_id>/cancel")
def booking_cancel(booking_id: int):  # type: ignore[no-untyped-def]
    """Free the slot (refused once its send has started or it has a bill)."""
    sponsorships.cancel_booking(db.session, sponsorships.get_booking(db.session, booking_id))
    commit()
    return redirect(url_for("sponsor_admin.sponsorships_page"), code=303)
