"""Selling slots in sends: sponsors, bookings, the calendar, placement in the email and on the web.

A booking holds one slot (top, middle, bottom) of a newsletter's send on a day; the unique
(newsletter, day, slot) refuses a second booking of it, and a send carries at most
SPONSOR_SLOTS_PER_SEND sponsors (one by default). The send of that day joins its bookings when
it is created, and a sponsored send is a pitch: the pitch rules (nurture, cooldown) apply to it
and it counts in every reader's value-to-pitch ratio.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from content import rendering, sponsor_metrics
from content.models import Post, Send, SendState
from content.sponsor_metrics import SponsorEvent, SponsorFigures
from content.sponsor_models import Booking, Pricing, Slot, Sponsor
from growth import links, tokens
from growth import sponsorships as growth_sponsorships
from growth.db import lock_row
from growth.errors import Conflict, NotFound, ValidationFailed
from growth.fields import one_line
from growth.models import Delivery, EmailEvent, Newsletter
from growth.subscribers import normalize_email

_CURRENCY = re.compile(r"[a-z]{3}")
MAX_PRICE_CENTS = 100_000_000  # a million in any currency's main unit: beyond, a typo
CALENDAR_MAX_DAYS = 92


@dataclass
class SponsorInput:
    """What the operator says of a sponsor."""

    name: Any = None
    contact_email: Any = None
    website: Any = ""


@dataclass
class BookingInput:
    """What the operator says of a booking."""

    sponsor_id: Any = None
    newsletter: Any = None  # slug; the default newsletter when empty
    run_on: Any = None  # YYYY-MM-DD
    slot: Any = Slot.TOP
    creative_markdown: Any = None
    pricing: Any = Pricing.FLAT
    price_cents: Any = None
    currency: Any = "usd"


def create_sponsor(session: Session, data: SponsorInput, now: dt.datetime) -> Sponsor:
    """A new sponsor; the name is unique."""
    name = one_line(data.name, "name", 200, required=True)
    email, _ = normalize_email(one_line(data.contact_email, "contact_email", 320, required=True))
    website = one_line(data.website, "website", 500, required=False)
    if website and not re.match(r"https?://[^\s/]+", website):
        raise ValidationFailed("website must be an http(s) address", code="invalid_field")
    if session.scalars(select(Sponsor.id).where(Sponsor.name == name)).first() is not None:
        raise Conflict("A sponsor of that name exists.", code="sponsor_exists")
    sponsor = Sponsor(name=name, contact_email=email, website=website, created_at=now)
    try:
        with session.begin_nested():
            session.add(sponsor)
    except IntegrityError as exc:
        raise Conflict("A sponsor of that name exists.", code="sponsor_exists") from exc
    return sponsor


def list_sponsors(session: Session) -> list[Sponsor]:
    """Every sponsor by name."""
    return list(session.scalars(select(Sponsor).order_by(Sponsor.name)))


def get_sponsor(session: Session, sponsor_id: int) -> Sponsor:
    """A sponsor by id, or NotFound."""
    sponsor = session.get(Sponsor, sponsor_id)
    if sponsor is None:
        raise NotFound("No such sponsor.", code="sponsor_not_found")
    return sponsor


def get_booking(session: Session, booking_id: int) -> Booking:
    """A booking by id, or NotFound."""
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("No such booking.", code="booking_not_found")
    return booking


def newsletter_by_slug(session: Session, slug: Any) -> Newsletter:
    """The newsletter of that slug, the default one when empty; ValidationFailed when unknown."""
    from content.posts import _newsletter as by_slug

    if slug is not None and not isinstance(slug, str):
        raise ValidationFailed("newsletter must be a slug", code="invalid_field")
    return by_slug(session, slug or None)


def parse_day(value: Any, field: str = "run_on") -> dt.date:
    """A YYYY-MM-DD date (ValidationFailed otherwise)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValidationFailed(f"{field} must be a date, YYYY-MM-DD", code="invalid_field")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(f"{field} must be a date, YYYY-MM-DD", code="invalid_field") from exc


def _price(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_PRICE_CENTS:
        raise ValidationFailed(
            f"price_cents must be a whole number of cents from 1 to {MAX_PRICE_CENTS}", code="invalid_field"
        )
    return value


def render_creative(source: Any) -> str:
    """The creative's Markdown as sanitised HTML (like a post); it must carry an http(s) link."""
    if not isinstance(source, str) or not source.strip() or len(source) > 5000:
        raise ValidationFailed(
            "creative_markdown is required (at most 5,000 characters)", code="invalid_field"
        )
    html = rendering.render_markdown(source)
    if not any(link.startswith(("http://", "https://")) for link in sponsor_metrics.sponsor_links(html)):
        raise ValidationFailed(
            "the creative must carry a link to the sponsor (http or https)", code="invalid_field"
        )
    return html


def check_booking(session: Session, data: BookingInput, now: dt.datetime) -> dict[str, Any]:
    """The validated fields of a booking (raises ValidationFailed on any bad one)."""
    if data.sponsor_id is None or isinstance(data.sponsor_id, bool):
        raise ValidationFailed("sponsor_id is required", code="missing_field")
    try:
        sponsor_id = int(data.sponsor_id)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("sponsor_id must be an id", code="invalid_field") from exc
    if not 1 <= sponsor_id <= 2_147_483_647 or session.get(Sponsor, sponsor_id) is None:
        raise ValidationFailed("no such sponsor", code="unknown_sponsor")
    run_on = parse_day(data.run_on)
    if run_on < now.date():
        raise ValidationFailed("run_on is in the past", code="invalid_field")
    if data.slot not in set(Slot):
        raise ValidationFailed("slot must be top, middle or bottom", code="invalid_field")
    if data.pricing not in set(Pricing):
        raise ValidationFailed("pricing must be flat, per_click or per_thousand", code="invalid_field")
    currency = data.currency.strip().lower() if isinstance(data.currency, str) else ""
    if not _CURRENCY.fullmatch(currency):
        raise ValidationFailed("currency must be a three-letter code", code="invalid_field")
    return {
        "sponsor_id": sponsor_id,
        "newsletter_id": newsletter_by_slug(session, data.newsletter).id,
        "run_on": run_on,
        "slot": str(data.slot),
        "creative_markdown": data.creative_markdown,
        "creative_html": render_creative(data.creative_markdown),
        "pricing": str(data.pricing),
        "price_cents": _price(data.price_cents),
        "currency": currency,
    }


def _sends_of_day(session: Session, newsletter_id: int, day: dt.date) -> list[Send]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return list(
        session.scalars(
            select(Send)
            .where(
                Send.newsletter_id == newsletter_id,
                Send.scheduled_at >= start,
                Send.scheduled_at < start + dt.timedelta(days=1),
                Send.state != SendState.CANCELLED,
            )
            .order_by(Send.scheduled_at, Send.id)
        )
    )


def book_slot(
    session: Session, data: BookingInput, now: dt.datetime, operator_id: int | None = None
) -> Booking:
    """Book a slot; Conflict when it is taken, the send is full or that day's send has gone out."""
    fields = check_booking(session, data, now)
    # Bookers of one newsletter take turns (row lock): two different slots of a send that has
    # room for one cannot both pass the count below. The same slot twice: the unique constraint.
    lock_row(session, Newsletter, fields["newsletter_id"])
    limit = current_app.config["MASTHEAD"].sponsor_slots_per_send
    taken = list(
        session.scalars(
            select(Booking.slot).where(
                Booking.newsletter_id == fields["newsletter_id"], Booking.run_on == fields["run_on"]
            )
        )
    )
    if fields["slot"] in taken:
        raise Conflict("That slot is booked already.", code="slot_taken")
    if len(taken) >= limit:
        raise Conflict(
            f"That send carries {limit} sponsor{'s' if limit != 1 else ''} at most, and has them.",
            code="send_full",
        )
    sends = _sends_of_day(session, fields["newsletter_id"], fields["run_on"])
    if sends and sends[0].state != SendState.SCHEDULED:
        raise Conflict("That day's send has started: its slots can no longer be sold.", code="send_gone_out")
    booking = Booking(**fields, created_by=operator_id, created_at=now)
    try:
        with session.begin_nested():  # two operators booking the same slot at once: one wins
            session.add(booking)
    except IntegrityError as exc:
        raise Conflict("That slot is booked already.", code="slot_taken") from exc
    if sends:
        join_send(session, sends[0])
    return booking


def cancel_booking(session: Session, booking: Booking) -> None:
    """Free the slot; refused once its send has started or a bill was made (its record stays)."""
    send = session.get(Send, booking.send_id) if booking.send_id else None
    if send is not None and send.state not in (SendState.SCHEDULED, SendState.CANCELLED):
        raise Conflict("Its send has started: the booking stays.", code="send_gone_out")
    if growth_sponsorships.payments(session, [booking.id]):
        raise Conflict("It has a bill: the booking stays.", code="booking_billed")
    session.delete(booking)
    session.flush()


def join_send(session: Session, send: Send) -> list[Booking]:
    """Give the day's unattached bookings to this send, which becomes a pitch when it has any."""
    day = send.scheduled_at.date()
    bookings = list(
        session.scalars(
            select(Booking).where(
                Booking.newsletter_id == send.newsletter_id,
                Booking.run_on == day,
                Booking.send_id.is_(None),
            )
        )
    )
    for booking in bookings:
        booking.send_id = send.id
    if bookings or _has_bookings(session, send.id):
        send.kind = "pitch"
    session.flush()
    return bookings


def release_send(session: Session, send: Send) -> None:
    """A cancelled send gives its bookings back to the day (they join the next send created)."""
    for booking in session.scalars(select(Booking).where(Booking.send_id == send.id)):
        booking.send_id = None
    session.flush()


def send_kind(session: Session, post: Post, when: dt.datetime) -> str:
    """The kind a send of `post` starting at `when` will have: a pitch when a sponsor awaits that day."""
    if post.kind == "pitch":
        return "pitch"
    waiting = session.scalars(
        select(Booking.id).where(
            Booking.newsletter_id == post.newsletter_id,
            Booking.run_on == when.date(),
            Booking.send_id.is_(None),
        )
    ).first()
    return "pitch" if waiting is not None else post.kind


def _has_bookings(session: Session, send_id: int) -> bool:
    return session.scalars(select(Booking.id).where(Booking.send_id == send_id)).first() is not None


@dataclass(frozen=True)
class Placement:
    """A sponsor's creative in a send, where it goes."""

    slot: str
    sponsor: str
    html: str
    text: str


def _placement(booking: Booking) -> Placement:
    from content import plaintext

    return Placement(
        slot=booking.slot,
        sponsor=booking.sponsor.name,
        html=booking.creative_html,
        text=plaintext.html_to_text(booking.creative_html),
    )


def placements_for_send(session: Session, send_id: int) -> list[Placement]:
    """The creatives of a send's bookings."""
    bookings = session.scalars(select(Booking).where(Booking.send_id == send_id))
    return [_placement(b) for b in bookings]


def placements_for_post(session: Session, post_id: int) -> list[Placement]:
    """The creatives booked in the first sponsored send of a post (its web page shows them)."""
    first = session.scalars(
        select(Booking.send_id)
        .join(Send, Send.id == Booking.send_id)
        .where(Send.post_id == post_id)
        .order_by(Send.scheduled_at, Send.id)
    ).first()
    return placements_for_send(session, first) if first is not None else []


_BLOCK_END = re.compile(r"(</(?:p|ul|ol|blockquote|pre|table|h[1-6]|figure|div|dl)>)\s*\n", re.I)


def split_body(body_html: str) -> tuple[str, str]:
    """The body cut after its middle top-level block (where the middle slot goes)."""
    ends = [m.end() for m in _BLOCK_END.finditer(body_html)]
    if len(ends) < 2:
        return body_html, ""
    cut = ends[(len(ends) - 1) // 2]
    return body_html[:cut], body_html[cut:]


def by_slot(placements: list[Placement]) -> dict[str, list[Placement]]:
    """{slot: its placements} for the templates."""
    out: dict[str, list[Placement]] = {slot: [] for slot in Slot}
    for p in placements:
        out.setdefault(p.slot, []).append(p)
    return out


# ---------------------------------------------------------------------------------------------
# The calendar


def calendar(session: Session, newsletter: Newsletter, start: dt.date, days: int) -> list[dict[str, Any]]:
    """Each day from `start`: its slots, booked (with the sponsor) or free, and whether it can be sold."""
    days = max(1, min(days, CALENDAR_MAX_DAYS))
    end = start + dt.timedelta(days=days)
    limit = current_app.config["MASTHEAD"].sponsor_slots_per_send
    rows = session.execute(
        select(Booking, Sponsor.name)
        .join(Sponsor, Sponsor.id == Booking.sponsor_id)
        .where(Booking.newsletter_id == newsletter.id, Booking.run_on >= start, Booking.run_on < end)
    ).all()
    booked: dict[dt.date, dict[str, dict[str, Any]]] = {}
    for booking, name in rows:
        booked.setdefault(booking.run_on, {})[booking.slot] = {"booking_id": booking.id, "sponsor": name}
    out = []
    for i in range(days):
        day = start + dt.timedelta(days=i)
        taken = booked.get(day, {})
        full = len(taken) >= limit
        out.append(
            {
                "date": day.isoformat(),
                "slots": [
                    {
                        "slot": slot.value,
                        "state": "booked" if slot in taken else ("full" if full else "free"),
                        **taken.get(slot, {}),
                    }
                    for slot in Slot
                ],
            }
        )
    return out


# ---------------------------------------------------------------------------------------------
# What a booking did


def booking_figures(session: Session, booking: Booking) -> SponsorFigures:
    """The figures of the booking's send (zero before it goes out)."""
    if booking.send_id is None:
        return SponsorFigures()
    rows = session.execute(
        select(
            EmailEvent.delivery_id,
            EmailEvent.type,
            EmailEvent.is_machine,
            EmailEvent.is_scanner,
            EmailEvent.url,
        )
        .join(Delivery, Delivery.id == EmailEvent.delivery_id)
        .where(Delivery.send_id == booking.send_id, EmailEvent.type.in_(("delivered", "open", "click")))
    ).all()
    events = (SponsorEvent(r[0], r[1], bool(r[2]), bool(r[3]), r[4]) for r in rows if r[0] is not None)
    return sponsor_metrics.sponsor_figures(events, sponsor_metrics.sponsor_links(booking.creative_html))


def booking_report(session: Session, booking: Booking) -> dict[str, Any]:
    """What the sponsor is shown: the slot, the send's figures, the amount earned, the opens note."""
    figures = booking_figures(session, booking)
    send = session.get(Send, booking.send_id) if booking.send_id else None
    return {
        "booking_id": booking.id,
        "sponsor": booking.sponsor.name,
        "newsletter": booking.newsletter.name,
        "run_on": booking.run_on.isoformat(),
        "slot": booking.slot,
        "pricing": booking.pricing,
        "price_cents": booking.price_cents,
        "currency": booking.currency,
        "sent": send is not None and send.state in (SendState.SENDING, SendState.DONE),
        "delivered": figures.delivered,
        "human_opens": figures.human_opens,
        "all_opens": figures.all_opens,
        "human_clicks": figures.human_clicks,
        "earned_cents": sponsor_metrics.earned_cents(booking.pricing, booking.price_cents, figures),
        "note": sponsor_metrics.HUMAN_OPENS_NOTE,
    }


def list_bookings(session: Session, limit: int = 500) -> list[Booking]:
    """Bookings, the latest day first."""
    return list(
        session.scalars(select(Booking).order_by(Booking.run_on.desc(), Booking.id.desc()).limit(limit))
    )


def bookings_on(session: Session, newsletter_id: int, day: dt.date) -> int:
    """How many slots of that day's send are sold."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.newsletter_id == newsletter_id, Booking.run_on == day)
        )
        or 0
    )


def describe(booking: Booking) -> str:
    """One line naming what was sold, for the sponsor's invoice."""
    return f"Sponsorship: {booking.slot} slot, {booking.newsletter.name}, {booking.run_on.isoformat()}"


def charge_lookup(session: Session, booking_id: int) -> growth_sponsorships.Charge | None:
    """growth.sponsorships' `charge`: what the booking earned, final once flat or once its send is done."""
    booking = session.get(Booking, booking_id)
    if booking is None:
        return None
    figures = booking_figures(session, booking)
    send = session.get(Send, booking.send_id) if booking.send_id else None
    return growth_sponsorships.Charge(
        booking_id=booking.id,
        sponsor=booking.sponsor.name,
        contact_email=booking.sponsor.contact_email,
        description=describe(booking),
        amount_cents=sponsor_metrics.earned_cents(booking.pricing, booking.price_cents, figures),
        currency=booking.currency,
        final=booking.pricing == Pricing.FLAT or (send is not None and send.state == SendState.DONE),
    )


# ---------------------------------------------------------------------------------------------
# The sponsor's signed link, the API's shape, the sponsors report

REPORT_PURPOSE = "sponsor-report"


def report_url(booking: Booking) -> str:
    """The link the sponsor opens without an account (signed; a forged one is refused)."""
    return links.absolute(f"/sponsor/report/{tokens.make_token(REPORT_PURPOSE, {'b': booking.id})}")


def booking_for_token(session: Session, token: str) -> Booking:
    """The booking a signed report link names; InvalidToken when forged, NotFound when gone."""
    payload = tokens.read_token(REPORT_PURPOSE, token)
    booking_id = payload.get("b") if isinstance(payload, dict) else None
    if (
        not isinstance(booking_id, int)
        or isinstance(booking_id, bool)
        or not 1 <= booking_id <= 2_147_483_647
    ):
        raise tokens.InvalidToken("This link is not valid.")
    return get_booking(session, booking_id)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def payment_json(payment: growth_sponsorships.Payment | None) -> dict[str, Any] | None:
    """A booking's bill as the API shows it (null before one is made, or without billing)."""
    if payment is None:
        return None
    return {
        "method": payment.method,
        "status": payment.status,
        "amount_cents": payment.amount_cents,
        "currency": payment.currency,
        "url": payment.url,
        "paid_at": _iso(payment.paid_at),
    }


def booking_json(session: Session, booking: Booking) -> dict[str, Any]:
    """A booking, what it did and earned, its signed report link and its bill."""
    payment = growth_sponsorships.payments(session, [booking.id]).get(booking.id)
    return {
        **booking_report(session, booking),
        "report_url": report_url(booking),
        "bill": payment_json(payment),
    }


def sponsors_report(session: Session) -> dict[str, Any]:
    """Every booking with its figures and bill, and each sponsor's totals per currency."""
    bookings = list(session.scalars(select(Booking).order_by(Booking.run_on, Booking.id)))
    payments = growth_sponsorships.payments(session, [b.id for b in bookings]) if bookings else {}
    rows = []
    for booking in bookings:
        payment = payments.get(booking.id)
        paid = payment is not None and payment.status == "paid"
        rows.append(
            {
                **booking_report(session, booking),
                "bill_status": payment.status if payment else "none",
                "paid_cents": payment.amount_cents if paid and payment else 0,
                "paid_at": _iso(payment.paid_at) if payment else None,
            }
        )
    return {"sponsors": sponsor_metrics.sponsor_totals(rows), "bookings": rows}
