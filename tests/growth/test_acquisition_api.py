"""Acquisition through the app: the spend API and CSV, the rules page, the report's JSON and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid

import pytest
from flask import g
from sqlalchemy import func, select

from billing.models import Invoice
from growth import auth
from growth.acquisition_models import AdSpend
from growth.models import Subscriber
from tests.growth.helpers import login_as

UTC = dt.UTC


def bearer(session, role: str = "admin") -> dict[str, str]:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(
        session, f"{role}-{uuid.uuid4().hex[:6]}@example.com", "correct horse battery", role=role
    )
    token = auth.create_token(session, operator)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def reader(session, n: int, when: dt.datetime, confirmed: bool = True, **extra) -> Subscriber:  # type: ignore[no-untyped-def]
    s = Subscriber(
        email=f"r{n}@example.com",
        email_normalized=f"r{n}@example.com",
        referral_code=f"acq{n}-{uuid.uuid4().hex[:6]}",
        status="active" if confirmed else "pending",
        created_at=when,
        confirmed_at=when + dt.timedelta(hours=1) if confirmed else None,
        **extra,
    )
    session.add(s)
    session.flush()
    return s


def invoice(session, subscriber: Subscriber, paid_at: dt.datetime, cents: int, currency: str = "usd") -> None:  # type: ignore[no-untyped-def]
    session.add(
        Invoice(
            stripe_invoice_id=f"in_{uuid.uuid4().hex[:12]}",
            stripe_customer_id="cus_acq",
            subscriber_id=subscriber.id,
            currency=currency,
            amount_paid_cents=cents,
            tax_cents=0,
            paid_at=paid_at,
        )
    )


@pytest.fixture
def history(session):  # type: ignore[no-untyped-def]
    """January 2026: 4 readers from the cpc campaign spring (3 confirmed, one pays 3000), one by the embed."""
    jan = dt.datetime(2026, 1, 21, 10, tzinfo=UTC)
    ads = [
        reader(session, n, jan, confirmed=n < 3, utm_medium="cpc", utm_campaign="spring") for n in range(4)
    ]
    embed = reader(session, 9, jan + dt.timedelta(days=10), source="embed")
    invoice(session, ads[0], jan + dt.timedelta(days=1), 3000)
    session.commit()
    return {"ads": ads, "embed": embed}


def spend(client, headers, **body):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/spend", json=body, headers=headers)


ENTRY = {"campaign": "spring", "month": "2026-01", "amount_cents": 3000, "currency": "usd"}


def test_spend_is_entered_once_per_campaign_month_and_currency(client, session):
    headers = bearer(session)
    first = spend(client, headers, **ENTRY)
    assert first.status_code == 200, first.get_json()
    again = spend(client, headers, **{**ENTRY, "amount_cents": 6000, "currency": "USD"})
    assert again.status_code == 200 and again.get_json()["amount_cents"] == 6000
    assert session.scalar(select(func.count()).select_from(AdSpend)) == 1
    listed = client.get("/api/v1/spend", headers=headers).get_json()["spend"]
    assert [(s["campaign"], s["month"], s["currency"], s["amount_cents"]) for s in listed] == [
        ("spring", "2026-01", "usd", 6000)
    ]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({k: v for k, v in ENTRY.items() if k != "month"}, 400),
        ({**ENTRY, "month": "2026-13"}, 422),
        ({**ENTRY, "month": "January"}, 400),
        ({**ENTRY, "amount_cents": -1}, 400),
        ({**ENTRY, "amount_cents": "3000"}, 400),
        ({**ENTRY, "amount_cents": 1.5}, 400),
        ({**ENTRY, "amount_cents": True}, 400),
        ({**ENTRY, "currency": "dollars"}, 400),
        ({**ENTRY, "campaign": ""}, 400),
        ({**ENTRY, "campaign": "two\nlines"}, 422),
        ({**ENTRY, "extra": 1}, 400),
    ],
)
def test_bad_spend_is_refused_with_the_error_shape(client, session, body, status):
    response = spend(client, bearer(session), **body)
    assert response.status_code == status, response.get_json()
    assert set(response.get_json()["error"]) == {"code", "message"}
    assert session.scalar(select(func.count()).select_from(AdSpend)) == 0


def test_spend_and_the_report_are_admins_only(client, session):
    creator = bearer(session, "creator")
    assert spend(client, creator, **ENTRY).status_code == 403
    assert client.get("/api/v1/spend", headers=creator).status_code == 403
    assert client.get("/api/v1/reports/acquisition", headers=creator).status_code == 403
    assert client.get("/api/v1/reports/acquisition").status_code == 401
    assert (
        client.post(
            "/api/v1/spend", data="not json", headers={**bearer(session), "Content-Type": "application/json"}
        ).status_code
        == 400
    )


def test_the_report_as_json(client, session, history):
    headers = bearer(session)
    spend(client, headers, **ENTRY)
    body = client.get("/api/v1/reports/acquisition", headers=headers).get_json()
    assert body["from"] is None and body["to"] is None
    assert {"field": "utm_medium", "value": "cpc", "media_class": "paid"} in body["rules"]
    paid, owned, earned = body["classes"]
    assert (paid["value"], paid["signups"], paid["confirmed"], paid["paying"]) == ("paid", 4, 3, 1)
    assert paid["currency"] == "usd" and paid["revenue_cents"] == 3000 and paid["spend_cents"] == 3000
    assert paid["cac_cents"] == 1000 and paid["roas"] == 1.0
    assert paid["payback_months"] == 1  # 3000 / 3 confirmed in month 0 reaches CAC
    assert (owned["value"], owned["signups"], owned["cac_cents"]) == ("owned", 1, None)
    assert earned["signups"] == 0
    (spring,) = [r for r in body["campaigns"] if r["value"] == "spring"]
    assert spring["cac_cents"] == 1000 and spring["cohorts"][0]["cohort"] == "2026-01"


def test_a_window_counts_the_months_it_touches_in_full(client, session, history):
    headers = bearer(session)
    spend(client, headers, **ENTRY)
    spend(client, headers, **{**ENTRY, "month": "2026-02", "amount_cents": 500})
    body = client.get("/api/v1/reports/acquisition?from=2026-01-25&to=2026-01-31", headers=headers).get_json()
    assert body["from"] == "2026-01-25"
    paid = body["classes"][0]
    assert paid["signups"] == 0 and paid["spend_cents"] == 3000  # January touched: all of it, not February
    assert body["classes"][1]["signups"] == 1  # the embed signup of the 31st
    assert (
        client.get("/api/v1/reports/acquisition?from=2026-02-01&to=2026-01-01", headers=headers).status_code
        == 400
    )
    bad = client.get("/api/v1/reports/acquisition?from=yesterday", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_date"


def test_the_report_as_csv(client, session, history):
    headers = bearer(session)
    spend(client, headers, **ENTRY)
    response = client.get("/api/v1/reports/acquisition?format=csv", headers=headers)
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0])[:4] == ["group", "value", "currency", "signups"]
    paid = next(r for r in rows if r["group"] == "class" and r["value"] == "paid")
    assert (paid["spend_cents"], paid["cac_cents"], paid["roas"]) == ("3000", "1000", "1.0")
    assert any(r["group"] == "campaign" and r["value"] == "spring" for r in rows)


def _csrf(client) -> str:  # type: ignore[no-untyped-def]
    g.pop("csrf_token", None)
    page = client.get("/admin/acquisition").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


@pytest.fixture
def admin_client(client, session):  # type: ignore[no-untyped-def]
    login_as(client, auth.create_operator(session, "boss@example.com", "long enough pw", "admin"))
    return client


def test_a_rule_changed_in_the_admin_applies_to_past_signups(admin_client, session, history):
    headers = bearer(session)
    before = client_classes(admin_client, headers)
    assert before["owned"] == 1 and before["earned"] == 0
    saved = admin_client.post(
        "/admin/acquisition/rules",
        data={
            "field": "source",
            "value": "Embed",
            "media_class": "earned",
            "csrf_token": _csrf(admin_client),
        },
    )
    assert saved.status_code == 303
    assert client_classes(admin_client, headers) == {"paid": 4, "owned": 0, "earned": 1}
    refused = admin_client.post(
        "/admin/acquisition/rules",
        data={"field": "colour", "value": "x", "media_class": "earned", "csrf_token": _csrf(admin_client)},
    )
    assert refused.status_code == 422
    no_token = admin_client.post(
        "/admin/acquisition/rules", data={"field": "source", "value": "x", "media_class": "paid"}
    )
    assert no_token.status_code == 400


def client_classes(client, headers) -> dict[str, int]:  # type: ignore[no-untyped-def]
    body = client.get("/api/v1/reports/acquisition", headers=headers).get_json()
    return {r["value"]: r["signups"] for r in body["classes"]}


def upload(client, text: str):  # type: ignore[no-untyped-def]
    data = {"file": (io.BytesIO(text.encode()), "spend.csv"), "csrf_token": _csrf(client)}
    return client.post("/admin/acquisition/spend.csv", data=data, content_type="multipart/form-data")


def test_a_spend_csv_is_imported_whole_or_not_at_all(admin_client, session):
    bad = upload(
        admin_client,
        "campaign,month,amount_cents,currency\nspring,2026-01,100,usd\nspring,2026-1,100,usd\nfall,2026-02,-5,usd\nspring,2026-01,7,usd\n",
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "line 3: month must be YYYY-MM" in page and "line 4: amount_cents" in page
    assert "line 5: the same campaign, month and currency as line 2" in page
    assert session.scalar(select(func.count()).select_from(AdSpend)) == 0
    assert upload(admin_client, "campaign,month\nspring,2026-01\n").status_code == 422
    good = upload(
        admin_client, "Campaign,Month,Amount_cents,Currency\nspring,2026-01,100,USD\nfall,2026-02,250,usd\n"
    )
    assert good.status_code == 200 and "2 new, 0 replaced" in good.get_data(as_text=True)
    again = upload(admin_client, "campaign,month,amount_cents,currency\nspring,2026-01,900,usd\n")
    assert "0 new, 1 replaced" in again.get_data(as_text=True)
    amounts = dict(session.execute(select(AdSpend.campaign, AdSpend.amount_cents)).all())
    assert amounts == {"spring": 900, "fall": 250}


def test_the_spend_form_and_the_page(admin_client, session, history):
    saved = admin_client.post(
        "/admin/acquisition/spend",
        data={
            "campaign": "spring",
            "month": "2026-01",
            "amount_cents": "3000",
            "currency": "usd",
            "csrf_token": _csrf(admin_client),
        },
    )
    assert saved.status_code == 303
    page = admin_client.get("/admin/acquisition").get_data(as_text=True)
    assert "Acquisition economics" in page and "spring" in page and "30.00" in page
    bad = admin_client.post(
        "/admin/acquisition/spend",
        data={
            "campaign": "spring",
            "month": "2026-01",
            "amount_cents": "lots",
            "currency": "usd",
            "csrf_token": _csrf(admin_client),
        },
    )
    assert bad.status_code == 422 and "amount_cents must be whole cents" in bad.get_data(as_text=True)


def test_the_desk_shows_the_acquisition_panel_to_admins_only(client, session, history):
    headers = bearer(session)
    spend(client, headers, **ENTRY)
    admin = auth.create_operator(session, "desk-admin@example.com", "long enough pw", "admin")
    creator = auth.create_operator(session, "desk-writer@example.com", "long enough pw", "creator")
    session.commit()
    login_as(client, admin)
    html = client.get("/admin/").get_data(as_text=True)
    assert '<canvas id="acquisition-usd" data-chart="acquisition-usd-data"' in html
    answer = client.get("/admin/panels/acquisition-usd.csv")
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0][:4] == ["Class", "CAC", "Value of a confirmed signup", "Most worth paying"]
    assert rows[1][:2] == ["paid", "10.0"]  # 3000 cents over 3 confirmed
    login_as(client, creator)
    assert "acquisition-usd" not in client.get("/admin/").get_data(as_text=True)
