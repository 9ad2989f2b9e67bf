"""The sponsorship API and pages: tokens, refusals, the calendar, the sponsor's signed report."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

from content import sponsorships
from content.sponsor_models import Booking
from growth import auth
from growth.db import utcnow
from growth.models import Delivery, DeliveryKind, DeliveryState, EmailEvent
from tests.content.conftest import csrf_from, make_post
from tests.growth.helpers import login_as

CREATIVE = "Acme makes rockets. [Try Acme](https://acme.example/try)"
DAY = (utcnow().date() + dt.timedelta(days=4)).isoformat()


def admin(session) -> dict[str, str]:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(
        session, f"a-{uuid.uuid4().hex[:6]}@example.com", "a-long-password", "admin"
    )
    token = auth.create_token(session, operator)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def add_booking(client, headers, **fields):  # type: ignore[no-untyped-def]
    sponsor = client.post(
        "/api/v1/sponsors",
        json={"name": fields.pop("sponsor", "Acme"), "contact_email": "ads@acme.example"},
        headers=headers,
    )
    assert sponsor.status_code == 201, sponsor.get_json()
    body = {
        "sponsor_id": sponsor.get_json()["id"],
        "run_on": DAY,
        "creative_markdown": CREATIVE,
        "price_cents": 50_000,
    }
    return client.post("/api/v1/sponsorships/bookings", json={**body, **fields}, headers=headers)


def test_fresh_reports_answer_empty_lists_and_need_a_token(client, session):  # type: ignore[no-untyped-def]
    for path in ("/api/v1/reports/sponsors", "/api/v1/sponsors", "/api/v1/sponsorships/bookings"):
        response = client.get(path)
        assert response.status_code == 401 and response.get_json()["error"]["code"]
    headers = admin(session)
    assert client.get("/api/v1/reports/sponsors", headers=headers).get_json() == {
        "sponsors": [],
        "bookings": [],
    }
    as_csv = client.get("/api/v1/reports/sponsors?format=csv", headers=headers)
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert next(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))[:3] == [
        "booking_id",
        "sponsor",
        "newsletter",
    ]
    assert client.get("/api/v1/reports/sponsors?format=xml", headers=headers).status_code == 400


def test_creators_may_not_sell_slots(client, session):  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "writer@example.com", "a-long-password", "creator")
    token = auth.create_token(session, operator)
    session.commit()
    assert (
        client.get("/api/v1/reports/sponsors", headers={"Authorization": f"Bearer {token}"}).status_code
        == 403
    )


def test_booking_through_the_api_and_its_conflicts(client, session):  # type: ignore[no-untyped-def]
    headers = admin(session)
    made = add_booking(client, headers)
    assert made.status_code == 201
    data = made.get_json()
    assert data["slot"] == "top" and data["earned_cents"] == 50_000 and data["bill"] is None
    assert "/sponsor/report/" in data["report_url"]
    again = add_booking(client, headers, sponsor="Other")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "slot_taken"
    full = add_booking(client, headers, sponsor="Third", slot="bottom")
    assert full.status_code == 409 and full.get_json()["error"]["code"] == "send_full"
    for bad in (
        {"slot": "left"},
        {"price_cents": 0},
        {"run_on": "tomorrow"},
        {"pricing": "free"},
        {"extra": 1},
    ):
        assert add_booking(client, headers, sponsor=f"S{uuid.uuid4().hex[:4]}", **bad).status_code == 400
    no_link = add_booking(
        client, headers, sponsor="NoLink", creative_markdown="Just words", run_on=DAY[:8] + "28"
    )
    assert no_link.status_code == 422
    calendar = client.get(f"/api/v1/sponsorships/calendar?from={DAY}&days=2", headers=headers).get_json()
    assert calendar["days"][0]["slots"][0] == {
        "slot": "top",
        "state": "booked",
        "booking_id": data["booking_id"],
        "sponsor": "Acme",
    }
    assert client.get("/api/v1/sponsorships/calendar?days=0", headers=headers).status_code == 400
    assert client.get("/api/v1/sponsorships/calendar?from=2026-13-01", headers=headers).status_code == 400
    assert client.get("/api/v1/sponsorships/calendar?newsletter=nope", headers=headers).status_code == 422


def test_sponsor_opens_the_signed_report_and_a_forged_one_is_refused(client, session):  # type: ignore[no-untyped-def]
    headers = admin(session)
    data = add_booking(client, headers, pricing="per_click", price_cents=250).get_json()
    # the send of that day, with a reader who clicked the sponsor's link twice and a scanner
    post = make_post(session)
    from content import sending

    send = sending.create_send(
        session,
        post,
        "all",
        utcnow(),
        scheduled_at=dt.datetime.fromisoformat(DAY).replace(hour=9, tzinfo=dt.UTC),
    )
    assert session.get(Booking, data["booking_id"]).send_id == send.id
    from tests.content.conftest import add_subscribers

    ids = add_subscribers(session, 2, prefix="rep")
    for n, sid in enumerate(ids):
        delivery = Delivery(
            subscriber_id=sid,
            send_id=send.id,
            kind=DeliveryKind.PITCH,
            template="post",
            state=DeliveryState.SENT,
            to_email=f"rep-{n}@example.com",
        )
        session.add(delivery)
        session.flush()
        events = [("delivered", False, False, None), ("open", n == 1, False, None)]
        events += (
            [("click", False, False, "https://acme.example/try")] * 2
            if n == 0
            else [("click", False, True, "https://acme.example/try")]
        )
        for kind, machine, scanner, url in events:
            session.add(
                EmailEvent(
                    event_id=uuid.uuid4().hex,
                    type=kind,
                    subscriber_id=sid,
                    delivery_id=delivery.id,
                    at=utcnow(),
                    url=url,
                    is_machine=machine,
                    is_scanner=scanner,
                )
            )
    session.commit()
    path = data["report_url"].split("masthead.test", 1)[-1]
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Acme" in html and "Human opens are a floor" in html
    report = sponsorships.booking_report(session, session.get(Booking, data["booking_id"]))
    assert (report["delivered"], report["human_opens"], report["all_opens"], report["human_clicks"]) == (
        2,
        1,
        2,
        1,
    )
    assert report["earned_cents"] == 250
    token = path.rsplit("/", 1)[-1]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    refused = client.get(f"/sponsor/report/{forged}")
    assert refused.status_code == 400 and "Acme" not in refused.get_data(as_text=True)
    other = sponsorships.tokens.signer("confirm").sign({"b": data["booking_id"]})  # another purpose's key
    assert client.get(f"/sponsor/report/{other}").status_code == 400
    rows = client.get("/api/v1/reports/sponsors", headers=headers).get_json()
    assert rows["sponsors"] == [
        {
            "sponsor": "Acme",
            "bookings": 1,
            "currencies": [{"currency": "usd", "earned_cents": 250, "paid_cents": 0}],
        }
    ]
    assert rows["bookings"][0]["bill_status"] == "none"


def test_admin_pages_render_and_refuse_with_the_reason(client, session):  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "boss@example.com", "a-long-password", "admin")
    session.commit()
    login_as(client, operator)
    page = client.get("/admin/sponsorships")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    made = client.post(
        "/admin/sponsorships/sponsors",
        data={"name": "Acme", "contact_email": "ads@acme.example", "csrf_token": token},
    )
    assert made.status_code == 303
    sponsor_id = sponsorships.list_sponsors(session)[0].id
    form = {
        "sponsor_id": str(sponsor_id),
        "newsletter": "",
        "run_on": DAY,
        "slot": "middle",
        "creative_markdown": CREATIVE,
        "pricing": "flat",
        "price_cents": "9900",
        "currency": "usd",
        "csrf_token": token,
    }
    booked = client.post("/admin/sponsorships/bookings", data=form)
    assert booked.status_code == 303
    page_html = client.get(booked.headers["Location"]).get_data(as_text=True)
    assert "/sponsor/report/" in page_html and "Sponsored · Acme" in page_html
    taken = client.post("/admin/sponsorships/bookings", data=form)
    assert taken.status_code == 409 and "booked already" in taken.get_data(as_text=True)
    calendar = client.get(f"/admin/sponsorships/calendar?from={DAY}").get_data(as_text=True)
    assert "Acme" in calendar and "free" in calendar


def test_a_booking_is_cancelled_before_its_send_and_stays_after(client, session):  # type: ignore[no-untyped-def]
    headers = admin(session)
    data = add_booking(client, headers).get_json()
    path = f"/api/v1/sponsorships/bookings/{data['booking_id']}"
    assert client.delete(path).status_code == 401
    assert client.delete(path, headers=headers).status_code == 204
    assert client.get(path, headers=headers).status_code == 404
    assert client.delete(path, headers=headers).status_code == 404
    again = add_booking(client, headers, sponsor="Again").get_json()  # the slot is free again
    from content import sending

    session.expire_all()
    booking = session.get(Booking, again["booking_id"])
    send = sending.create_send(
        session,
        make_post(session),
        "all",
        utcnow(),
        scheduled_at=dt.datetime.fromisoformat(DAY).replace(tzinfo=dt.UTC),
    )
    assert booking.send_id == send.id
    send.state = "sending"
    session.commit()
    refused = client.delete(f"/api/v1/sponsorships/bookings/{again['booking_id']}", headers=headers)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "send_gone_out"
