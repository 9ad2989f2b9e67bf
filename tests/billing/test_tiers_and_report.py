"""Tiers through the JSON API, the admin pages and the CLI; the revenue report endpoint."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from billing.models import Tier
from growth import auth
from tests.billing.conftest import confirmed_subscriber, csrf_from, post_event
from tests.fakes.stripe import event, invoice, subscription


def bearer(session) -> dict[str, str]:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "op@example.com", "correct horse battery")
    token = auth.create_token(session, operator)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


GOLD = {
    "name": "Gold",
    "monthly_price_cents": 500,
    "yearly_price_cents": 5000,
    "currency": "USD",
    "trial_days": 7,
}


def test_tiers_api_create_read_update(client, session):
    headers = bearer(session)
    created = client.post("/api/v1/tiers", json=GOLD, headers=headers)
    assert created.status_code == 201
    tier = created.get_json()
    assert tier["currency"] == "usd" and tier["active"] is True and tier["synced"] is False
    assert tier["stripe_prices"] == {"month": None, "year": None}
    listed = client.get("/api/v1/tiers", headers=headers).get_json()["tiers"]
    assert [t["name"] for t in listed] == ["Gold"]
    changed = client.patch(
        f"/api/v1/tiers/{tier['id']}",
        json={"monthly_price_cents": 600, "active": False},
        headers=headers,
    )
    assert changed.status_code == 200 and changed.get_json()["monthly_price_cents"] == 600
    assert changed.get_json()["active"] is False
    assert client.get(f"/api/v1/tiers/{tier['id']}", headers=headers).get_json()["yearly_price_cents"] == 5000


def test_tiers_api_needs_a_token(client):
    assert client.get("/api/v1/tiers").status_code == 401
    assert client.post("/api/v1/tiers", json=GOLD).status_code == 401


def test_tiers_api_validates(client, session):
    headers = bearer(session)
    bad = [
        {**GOLD, "monthly_price_cents": 4.99},
        {**GOLD, "monthly_price_cents": 0},
        {**GOLD, "currency": "dollars"},
        {**GOLD, "trial_days": -1},
        {**GOLD, "unexpected": 1},
        {"name": "No prices"},
    ]
    for body in bad:
        response = client.post("/api/v1/tiers", json=body, headers=headers)
        assert response.status_code == 400, body
        assert response.get_json()["error"]["code"] in {"invalid_field", "missing_field"}
    assert client.post("/api/v1/tiers", json=GOLD, headers=headers).status_code == 201
    duplicate = client.post("/api/v1/tiers", json={**GOLD, "name": "gold"}, headers=headers)
    assert duplicate.status_code == 409
    assert client.patch("/api/v1/tiers/999999", json={"active": False}, headers=headers).status_code == 404
    assert client.patch("/api/v1/tiers/1", json={}, headers=headers).status_code == 400


def test_admin_tier_pages(app, client):
    # Short app contexts only: the client's requests must each get their own `g` (CSRF, operator).
    from growth.db import db

    with app.app_context():
        auth.create_operator(db.session, "admin@example.com", "correct horse battery")
        db.session.commit()
    login_page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page)
    assert token
    client.post(
        "/admin/login",
        data={
            "email": "admin@example.com",
            "password": "correct horse battery",
            "csrf_token": token.group(1),
        },
    )
    page = client.get("/admin/tiers")
    assert page.status_code == 200 and b"No tiers yet" in page.data
    csrf = csrf_from(page.get_data(as_text=True))
    form = {
        "csrf_token": csrf,
        "name": "Silver",
        "description": "",
        "monthly_price_cents": "300",
        "yearly_price_cents": "3000",
        "currency": "eur",
        "trial_days": "0",
        "active": "on",
    }
    assert client.post("/admin/tiers", data=form).status_code == 303

    def silver() -> Tier:
        with app.app_context():
            return db.session.scalars(select(Tier).where(Tier.name == "Silver")).one()

    assert (silver().monthly_price_cents, silver().currency, silver().active) == (300, "eur", True)
    bad = client.post("/admin/tiers", data={**form, "name": "Bronze", "monthly_price_cents": "three"})
    assert bad.status_code == 422 and b"whole number" in bad.data
    tier_id = silver().id
    assert (
        client.post(f"/admin/tiers/{tier_id}", data={**form, "monthly_price_cents": "350"}).status_code == 303
    )
    assert (silver().monthly_price_cents, silver().active) == (350, True)
    assert (
        client.post(
            f"/admin/tiers/{tier_id}", data={k: v for k, v in form.items() if k != "active"}
        ).status_code
        == 303
    )
    assert silver().active is False
    assert b"Silver" in client.get("/admin/tiers").data
    assert client.get("/admin/revenue").status_code == 200


def test_admin_pages_need_a_login(client):
    assert client.get("/admin/tiers").status_code == 302


def test_tier_cli(app, session, connection):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "tiers",
            "create",
            "Patron",
            "--monthly",
            "1000",
            "--yearly",
            "10000",
            "--currency",
            "gbp",
            "--trial-days",
            "3",
        ]
    )
    assert result.exit_code == 0, result.output
    tier = session.scalars(select(Tier).where(Tier.name == "Patron")).one()
    assert (tier.currency, tier.trial_days) == ("gbp", 3)
    result = runner.invoke(args=["tiers", "update", str(tier.id), "--monthly", "1200", "--inactive"])
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert (session.get(Tier, tier.id).monthly_price_cents, session.get(Tier, tier.id).active) == (
        1200,
        False,
    )
    listed = runner.invoke(args=["tiers", "list"])
    assert "Patron" in listed.output and "not synced" in listed.output
    bad = runner.invoke(args=["tiers", "create", "Cheap", "--monthly", "0", "--yearly", "1"])
    assert bad.exit_code != 0 and "monthly_price_cents" in bad.output


def test_revenue_report_endpoint(bclient, boutbox, bsession):
    headers = bearer(bsession)
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    jan = int(dt.datetime(2026, 1, 10, tzinfo=dt.UTC).timestamp())
    feb = int(dt.datetime(2026, 2, 10, tzinfo=dt.UTC).timestamp())
    meta = {"subscriber_id": str(ana.id)}
    # Ana: 1000 usd a month from Jan 10, upgraded to 2 seats Feb 10 (expansion 1000)
    post_event(
        bclient,
        event(
            "customer.subscription.created",
            subscription(sub_id="sub_a", customer="cus_a", unit_amount=1000, metadata=meta),
            jan,
        ),
    )
    post_event(
        bclient,
        event(
            "customer.subscription.updated",
            subscription(sub_id="sub_a", customer="cus_a", unit_amount=1000, quantity=2, metadata=meta),
            feb,
        ),
    )
    # Someone unknown: 12000 eur a year from Jan 10, past due in Feb
    post_event(
        bclient,
        event(
            "customer.subscription.created",
            subscription(
                sub_id="sub_b", customer="cus_b", unit_amount=12000, currency="eur", interval="year"
            ),
            jan,
        ),
    )
    post_event(
        bclient,
        event(
            "customer.subscription.updated",
            subscription(
                sub_id="sub_b",
                customer="cus_b",
                unit_amount=12000,
                currency="eur",
                interval="year",
                status="past_due",
            ),
            feb,
        ),
    )
    post_event(
        bclient,
        event(
            "invoice.paid",
            invoice(customer="cus_a", amount_paid=1100, tax=100, paid_at=jan, metadata=meta),
            jan,
        ),
    )
    response = bclient.get("/api/v1/reports/revenue?from=2026-01-01&to=2026-03-01", headers=headers)
    assert response.status_code == 200
    report = response.get_json()
    # usd MRR 2000 beats eur MRR 1000: usd is the main currency
    assert (report["currency"], report["mrr_cents"], report["arr_cents"]) == ("usd", 2000, 24000)
    assert report["paying_subscribers"] == 1 and report["churn_rate"] is None  # nobody paid on Jan 1
    assert [m["month"] for m in report["movements"]] == ["2026-01", "2026-02"]
    assert (report["movements"][0]["new_cents"], report["movements"][1]["expansion_cents"]) == (
        1000,
        1000,
    )
    assert report["movements"][1]["customer_churn_rate"] == 0.0
    assert report["ledger"] == {
        "paid_cents": 1100,
        "tax_cents": 100,
        "net_cents": 1000,
        "invoices": 1,
        "refunds_cents": 0,
        "disputes_cents": 0,
        "net_cash_cents": 1000,
    }
    ledger = bclient.get("/api/v1/reports/revenue/ledger?from=2026-01-01&to=2026-03-01", headers=headers)
    assert ledger.status_code == 200
    (line,) = ledger.get_json()["invoices"]
    assert (line["subscriber_id"], line["amount_paid_cents"], line["tax_cents"]) == (
        ana.id,
        1100,
        100,
    )
    assert (line["net_cents"], line["currency"]) == (1000, "usd") and line["period_end"] is not None
    empty = bclient.get("/api/v1/reports/revenue/ledger?from=2026-02-01&to=2026-03-01", headers=headers)
    assert empty.get_json() == {"invoices": [], "truncated": False}
    eur = next(c for c in report["currencies"] if c["currency"] == "eur")
    assert (eur["mrr_cents"], eur["at_risk_mrr_cents"], eur["paying_subscribers"]) == (
        1000,
        1000,
        1,
    )
    assert eur["movements"][0]["by_plan"]["annual"]["paying_at_start"] == 0
    assert eur["movements"][1]["by_plan"]["annual"] == {
        "paying_at_start": 1,
        "customer_churn_rate": 0.0,
        "revenue_churn_rate": 0.0,
    }


def test_revenue_report_validates_its_range(client, session):
    headers = bearer(session)
    assert client.get("/api/v1/reports/revenue", headers=headers).get_json()["currencies"] == []
    assert client.get("/api/v1/reports/revenue?from=yesterday", headers=headers).status_code == 400
    assert (
        client.get("/api/v1/reports/revenue?from=2026-03-01&to=2026-02-01", headers=headers).status_code
        == 400
    )
    assert (
        client.get("/api/v1/reports/revenue?from=2000-01-01&to=2026-02-01", headers=headers).status_code
        == 400
    )


def test_revenue_report_needs_a_token(client):
    assert client.get("/api/v1/reports/revenue").status_code == 401


def test_billing_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {
        "/api/v1/tiers",
        "/api/v1/tiers/{tier_id}",
        "/api/v1/reports/revenue",
        "/api/v1/reports/revenue/ledger",
    } <= set(paths)


def test_admin_revenue_page_lists_events_kept_for_review(billing_app, bclient):
    from growth.db import db

    with billing_app.app_context():
        auth.create_operator(db.session, "rev@example.com", "correct horse battery")
        db.session.commit()
    post_event(
        bclient,
        event("invoice.payment_failed", invoice(customer="cus_nobody", status="open"), 1_767_225_600),
    )
    login_page = bclient.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page)
    assert token
    bclient.post(
        "/admin/login",
        data={
            "email": "rev@example.com",
            "password": "correct horse battery",
            "csrf_token": token.group(1),
        },
    )
    page = bclient.get("/admin/revenue")
    assert page.status_code == 200
    assert b"cus_nobody" in page.data and b"unmatched" in page.data


def test_default_report_start_is_a_year_of_months():
    from billing.reports import default_start

    assert default_start(dt.datetime(2026, 11, 25, tzinfo=dt.UTC)) == dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
    assert default_start(dt.datetime(2026, 12, 31, tzinfo=dt.UTC)) == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
