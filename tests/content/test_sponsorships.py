"""Sponsored slots: booking and its conflicts, placement in the email and on the web, a pitch."""

from __future__ import annotations

import datetime as dt

import pytest

from content import sending, sponsorships
from content.models import Send
from content.sponsorships import BookingInput, SponsorInput
from growth.db import commit, db, utcnow
from growth.errors import Conflict, ValidationFailed
from growth.models import Delivery
from tests.content.conftest import add_subscribers, engage, make_post

CREATIVE = "**Acme** makes rockets. [Try Acme](https://acme.example/try?utm=news)"


def sponsor(session, name: str = "Acme"):  # type: ignore[no-untyped-def]
    return sponsorships.create_sponsor(
        session, SponsorInput(name, "ads@acme.example", "https://acme.example"), utcnow()
    )


def book(session, sponsor_id: int, day: dt.date, slot: str = "top", **fields):  # type: ignore[no-untyped-def]
    data = BookingInput(
        sponsor_id=sponsor_id,
        run_on=day.isoformat(),
        slot=slot,
        creative_markdown=fields.pop("creative_markdown", CREATIVE),
        pricing=fields.pop("pricing", "flat"),
        price_cents=fields.pop("price_cents", 50_000),
        currency=fields.pop("currency", "usd"),
        **fields,
    )
    return sponsorships.book_slot(session, data, utcnow())


def test_a_slot_is_sold_once_and_a_send_carries_one_sponsor_by_default(session):  # type: ignore[no-untyped-def]
    acme, other = sponsor(session), sponsor(session, "Other")
    day = utcnow().date() + dt.timedelta(days=3)
    book(session, acme.id, day, "top")
    with pytest.raises(Conflict) as taken:
        book(session, other.id, day, "top")
    assert taken.value.code == "slot_taken"
    with pytest.raises(Conflict) as full:
        book(session, other.id, day, "bottom")
    assert full.value.code == "send_full"
    book(session, other.id, day + dt.timedelta(days=1), "bottom")  # another day is free


def test_more_slots_per_send_when_configured(app_factory, session):  # type: ignore[no-untyped-def]
    app = app_factory(sponsor_slots_per_send=2)
    with app.app_context():
        acme, other = sponsor(db.session), sponsor(db.session, "Other")
        day = utcnow().date() + dt.timedelta(days=3)
        book(db.session, acme.id, day, "top")
        book(db.session, other.id, day, "bottom")
        with pytest.raises(Conflict) as full:
            book(db.session, other.id, day, "middle")
        assert full.value.code == "send_full"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slot", "side"),
        ("pricing", "per_view"),
        ("price_cents", 0),
        ("price_cents", "12.5"),
        ("currency", "dollars"),
        ("creative_markdown", "No link at all"),
        ("creative_markdown", "[click](javascript:alert(1))"),
        ("run_on", "2026-02-30"),
    ],
)
def test_bad_bookings_are_refused(session, field, value):  # type: ignore[no-untyped-def]
    acme = sponsor(session)
    fields = {
        "creative_markdown": CREATIVE,
        "price_cents": 100,
        "pricing": "flat",
        "currency": "usd",
        "slot": "top",
    }
    fields[field] = value
    day = value if field == "run_on" else (utcnow().date() + dt.timedelta(days=1)).isoformat()
    data = BookingInput(sponsor_id=acme.id, run_on=day, **{k: v for k, v in fields.items() if k != "run_on"})
    with pytest.raises(ValidationFailed):
        sponsorships.book_slot(session, data, utcnow())


def test_a_past_day_and_an_unknown_sponsor_are_refused(session):  # type: ignore[no-untyped-def]
    acme = sponsor(session)
    with pytest.raises(ValidationFailed):
        book(session, acme.id, utcnow().date() - dt.timedelta(days=1))
    with pytest.raises(ValidationFailed):
        book(session, 999_999, utcnow().date())


def test_creative_is_sanitised(session):  # type: ignore[no-untyped-def]
    acme = sponsor(session)
    booking = book(
        session,
        acme.id,
        utcnow().date(),
        creative_markdown='<script>alert(1)</script><img src=x onerror="alert(1)"> [Go](https://acme.example)',
    )
    assert "<script" not in booking.creative_html and "onerror" not in booking.creative_html
    assert 'href="https://acme.example"' in booking.creative_html


def test_middle_cut_falls_between_blocks():  # type: ignore[no-untyped-def]
    body = "<p>One</p>\n<p>Two</p>\n<p>Three</p>\n<p>Four</p>"
    assert sponsorships.split_body(body) == ("<p>One</p>\n<p>Two</p>\n", "<p>Three</p>\n<p>Four</p>")
    assert sponsorships.split_body("<p>Only</p>") == ("<p>Only</p>", "")


def test_booked_slot_is_in_the_email_and_on_the_web_marked_sponsored_and_the_send_is_a_pitch(
    sg_app, session, fake_sendgrid, client
):  # type: ignore[no-untyped-def]
    ids = add_subscribers(session, 3, prefix="spon")
    for sid in ids[:2]:
        engage(session, sid, 3, at=utcnow())  # nurtured: a pitch may reach them
    acme = sponsor(session)
    booking = book(session, acme.id, utcnow().date(), "middle")
    post = make_post(
        session, title="Sponsored issue", body_markdown="Para one.\n\nPara two.\n\nPara three.\n\nPara four."
    )
    session.commit()
    with sg_app.app_context():
        send = sending.create_send(db.session, db.session.get(type(post), post.id), "all", utcnow())
        commit()
        send_id = send.id
    session.expire_all()
    assert session.get(Send, send_id).kind == "pitch"
    assert session.get(type(booking), booking.id).send_id == send_id
    body = fake_sendgrid.requests[0]
    html = next(c["value"] for c in body["content"] if c["type"] == "text/html")
    text = next(c["value"] for c in body["content"] if c["type"] == "text/plain")
    assert "Sponsored · Acme" in html and 'href="https://acme.example/try?utm=news"' in html
    assert html.index("Para two") < html.index("Sponsored · Acme") < html.index("Para three")
    assert "SPONSORED · Acme" in text and text.index("Para two") < text.index("---- SPONSORED") < text.index(
        "Para three"
    )
    # a pitch: the reader not yet nurtured is skipped, the deliveries are pitches
    assert sorted(p["to"][0]["email"] for p in body["personalizations"]) == [
        "spon-0@example.com",
        "spon-1@example.com",
    ]
    kinds = {d.kind for d in session.query(Delivery).filter(Delivery.send_id == send_id)}
    assert kinds == {"pitch"}
    page = client.get(f"/p/{post.slug}").get_data(as_text=True)
    assert 'class="sponsored"' in page and "Sponsored · Acme" in page
    assert page.index("Para two") < page.index("Sponsored · Acme") < page.index("Para three")


def test_booking_after_the_send_is_scheduled_joins_it_and_refused_once_it_started(session):  # type: ignore[no-untyped-def]
    post = make_post(session)
    later = utcnow() + dt.timedelta(days=2)
    send = sending.create_send(session, post, "all", utcnow(), scheduled_at=later)
    assert send.kind == "value"
    acme = sponsor(session)
    booking = book(session, acme.id, later.date(), "top")
    assert booking.send_id == send.id and send.kind == "pitch"
    today = sending.create_send(session, make_post(session, title="Now"), "all", utcnow())
    assert today.state == "sending"
    with pytest.raises(Conflict) as gone:
        book(session, acme.id, utcnow().date(), "top")
    assert gone.value.code == "send_gone_out"


def test_unsponsored_email_is_unchanged_by_the_slots(app, session):  # type: ignore[no-untyped-def]
    from content import composer

    post = make_post(session)
    with app.test_request_context():
        plain = composer.render_post_email(post, None)
    assert "Sponsored" not in plain.html and "SPONSORED" not in plain.text
    assert "First paragraph." in plain.text and "Second one." in plain.text


def test_calendar_shows_free_booked_and_full_slots(app, session):  # type: ignore[no-untyped-def]
    from growth.subscribers import default_newsletter

    acme = sponsor(session)
    day = utcnow().date() + dt.timedelta(days=1)
    booking = book(session, acme.id, day, "top")
    days = sponsorships.calendar(session, default_newsletter(session), day, 2)
    assert days[0]["date"] == day.isoformat()
    assert days[0]["slots"] == [
        {"slot": "top", "state": "booked", "booking_id": booking.id, "sponsor": "Acme"},
        {"slot": "middle", "state": "full"},
        {"slot": "bottom", "state": "full"},
    ]
    assert [s["state"] for s in days[1]["slots"]] == ["free", "free", "free"]


def test_the_send_preview_counts_a_sponsored_day_as_a_pitch(app, session):  # type: ignore[no-untyped-def]
    from content.segments import parse_segment, preview_post

    add_subscribers(session, 2, prefix="prev")  # never engaged: not nurtured
    post = make_post(session)
    config = app.config["MASTHEAD"]
    assert preview_post(session, post, parse_segment("all"), utcnow(), config).skipped == {}
    book(session, sponsor(session).id, utcnow().date())
    skipped = preview_post(session, post, parse_segment("all"), utcnow(), config).skipped
    assert skipped.get("not_nurtured", 0) >= 2
    tomorrow = utcnow() + dt.timedelta(days=1)
    assert preview_post(session, post, parse_segment("all"), utcnow(), config, when=tomorrow).skipped == {}


def test_a_cancelled_send_gives_its_sponsor_to_the_next_send_of_the_day(session):  # type: ignore[no-untyped-def]
    later = utcnow() + dt.timedelta(days=2)
    first = sending.create_send(session, make_post(session), "all", utcnow(), scheduled_at=later)
    booking = book(session, sponsor(session).id, later.date(), "top")
    assert booking.send_id == first.id
    sending.cancel_send(session, first)
    assert booking.send_id is None
    second = sending.create_send(
        session, make_post(session, title="Instead"), "all", utcnow(), scheduled_at=later
    )
    assert booking.send_id == second.id and second.kind == "pitch"
