"""A sponsorship booking billed through Stripe (invoice or payment link), booked once when paid."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from billing.models import Invoice
from billing.sponsorship_models import SponsorshipBill
from content import sponsorships
from growth import auth
from growth.db import utcnow
from tests.billing.conftest import post_event

CREATIVE = "Acme makes rockets. [Try Acme](https://acme.example/try)"


def bearer(session) -> dict[str, str]:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "money@example.com", "correct horse battery", role="admin")
    token = auth.create_token(session, operator)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def booking(session, pricing: str = "flat", price: int = 80_000, currency: str = "usd") -> int:  # type: ignore[no-untyped-def]
    sponsor = sponsorships.create_sponsor(
        session, sponsorships.SponsorInput(f"Acme {pricing}", "ads@acme.example"), utcnow()
    )
    made = sponsorships.book_slot(
        session,
        sponsorships.BookingInput(
            sponsor_id=sponsor.id,
            run_on=(utcnow().date() + dt.timedelta(days=5)).isoformat(),
            slot="top",
            creative_markdown=CREATIVE,
            pricing=pricing,
            price_cents=price,
            currency=currency,
        ),
        utcnow(),
    )
    session.commit()
    return made.id


def revenue(client, headers) -> dict:  # type: ignore[no-untyped-def]
    start = (utcnow() - dt.timedelta(days=30)).date().isoformat()
    end = (utcnow() + dt.timedelta(days=1)).date().isoformat()
    response = client.get(f"/api/v1/reports/revenue?from={start}&to={end}", headers=headers)
    assert response.status_code == 200
    return response.get_json()


def test_invoice_is_booked_once_when_paid_and_never_counts_as_mrr(bclient, bsession, fake_stripe):  # type: ignore[no-untyped-def]
    headers = bearer(bsession)
    booking_id = booking(bsession)
    made = bclient.post(
        f"/api/v1/sponsorships/bookings/{booking_id}/bill", json={"method": "invoice"}, headers=headers
    )
    assert made.status_code == 201, made.get_json()
    bill = made.get_json()
    assert (
        bill["status"] == "open"
        and bill["amount_cents"] == 80_000
        and bill["url"].startswith("https://invoice.")
    )
    # what Stripe was asked: a send_invoice invoice for the sponsor, one item, finalised
    (invoice,) = fake_stripe.invoices.values()
    assert invoice["status"] == "open" and invoice["collection_method"] == "send_invoice"
    assert invoice["amount_due"] == 80_000 and invoice["metadata"] == {"masthead_booking_id": str(booking_id)}
    assert fake_stripe.customers[invoice["customer"]]["email"] == "ads@acme.example"
    # a second click gives the same bill, and Stripe no second invoice
    again = bclient.post(f"/api/v1/sponsorships/bookings/{booking_id}/bill", json={}, headers=headers)
    assert again.status_code == 201 and again.get_json()["url"] == bill["url"]
    assert len(fake_stripe.invoices) == 1
    assert revenue(bclient, headers)["sponsorship_cents"] == 0  # not paid yet: nothing booked
    billed = bclient.delete(f"/api/v1/sponsorships/bookings/{booking_id}", headers=headers)
    assert billed.status_code == 409 and billed.get_json()["error"]["code"] == "booking_billed"

    paid, succeeded = fake_stripe.pay_invoice(invoice["id"], int(utcnow().timestamp()))
    for event in (succeeded, paid, paid):  # out of order, and delivered twice
        assert post_event(bclient, event).status_code == 200
    bsession.expire_all()
    stored = bsession.scalars(select(SponsorshipBill)).one()
    assert stored.status == "paid" and stored.paid_cents == 80_000
    # not a subscriber's payment: nothing in the subscription ledger
    assert bsession.scalar(select(func.count()).select_from(Invoice)) == 0
    report = revenue(bclient, headers)
    assert report["sponsorship_cents"] == 80_000 and report["mrr_cents"] == 0
    (usd,) = report["currencies"]
    assert usd["currency"] == "usd" and usd["sponsorship_cents"] == 80_000 and usd["mrr_cents"] == 0
    assert usd["ledger"]["paid_cents"] == 0
    start = (utcnow() - dt.timedelta(days=30)).date().isoformat()
    as_csv = bclient.get(f"/api/v1/reports/revenue?format=csv&from={start}", headers=headers).get_data(
        as_text=True
    )
    assert "sponsorship_cents" in as_csv.splitlines()[0]
    listed = bclient.get(f"/api/v1/sponsorships/bookings/{booking_id}", headers=headers).get_json()
    assert listed["bill"]["status"] == "paid" and listed["bill"]["paid_at"]


def test_payment_link_is_booked_when_its_checkout_completes(bclient, bsession, fake_stripe):  # type: ignore[no-untyped-def]
    headers = bearer(bsession)
    booking_id = booking(bsession, currency="eur", price=12_345)
    made = bclient.post(
        f"/api/v1/sponsorships/bookings/{booking_id}/bill", json={"method": "payment_link"}, headers=headers
    )
    assert made.status_code == 201
    (link,) = fake_stripe.payment_links.values()
    assert made.get_json()["url"] == link["url"]
    assert link["restrictions"]["completed_sessions"]["limit"] == 1
    price = fake_stripe.prices[link["line_items"][0]["price"]]
    assert price["type"] == "one_time" and price["unit_amount"] == 12_345 and price["currency"] == "eur"
    (completed,) = fake_stripe.pay_payment_link(link["id"], int(utcnow().timestamp()))
    assert completed["data"]["object"]["metadata"] == {"masthead_booking_id": str(booking_id)}
    assert post_event(bclient, completed).status_code == 200
    assert post_event(bclient, completed).status_code == 200
    report = revenue(bclient, headers)
    eur = next(c for c in report["currencies"] if c["currency"] == "eur")
    assert eur["sponsorship_cents"] == 12_345 and eur["mrr_cents"] == 0


def test_results_priced_booking_waits_for_its_send(bclient, bsession, fake_stripe):  # type: ignore[no-untyped-def]
    headers = bearer(bsession)
    booking_id = booking(bsession, pricing="per_click", price=200)
    refused = bclient.post(f"/api/v1/sponsorships/bookings/{booking_id}/bill", json={}, headers=headers)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "amount_not_final"
    assert fake_stripe.invoices == {}


def test_bill_needs_an_admin_token_and_a_known_booking(bclient, bsession):  # type: ignore[no-untyped-def]
    assert bclient.post("/api/v1/sponsorships/bookings/1/bill", json={}).status_code == 401
    headers = bearer(bsession)
    missing = bclient.post("/api/v1/sponsorships/bookings/999999/bill", json={}, headers=headers)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "booking_not_found"
    bad = bclient.post("/api/v1/sponsorships/bookings/1/bill", json={"method": "cash"}, headers=headers)
    assert bad.status_code == 400


def test_without_stripe_a_known_booking_is_refused_with_the_reason(client, session):  # type: ignore[no-untyped-def]
    headers = bearer(session)
    booking_id = booking(session)
    refused = client.post(f"/api/v1/sponsorships/bookings/{booking_id}/bill", json={}, headers=headers)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "payments_not_configured"
