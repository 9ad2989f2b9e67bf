"""The report endpoints: JSON and CSV, their parameters, roles and OpenAPI declarations."""

from __future__ import annotations

import csv
import io

import pytest

from growth import auth, rollups
from tests.growth.report_history import NOW
from tests.growth.report_rows import add_readers, arriving_events

REPORTS = [
    "/api/v1/reports/funnel",
    "/api/v1/reports/cohorts",
    "/api/v1/reports/growth",
    "/api/v1/reports/revenue",
    "/api/v1/reports/revenue/ledger",
    "/api/v1/reports/referrals",
]


def bearer(session, role: str = "admin") -> dict[str, str]:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, f"{role}@example.com", "correct horse battery", role=role)
    token = auth.create_token(session, operator)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def history(session):  # type: ignore[no-untyped-def]
    people = add_readers(session)
    for _, insert in arriving_events(people):
        insert(session)
    people["E"].source = '=HYPERLINK("http://evil.example")'  # typed into a public form
    rollups.rebuild(session, NOW)
    session.commit()
    return people


def rows_of(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_funnel_as_json_and_as_csv(client, session, history):
    headers = bearer(session)
    body = client.get("/api/v1/reports/funnel", headers=headers).get_json()
    assert body["signups"] == 5 and body["from"] is None
    assert [s["count"] for s in body["steps"]] == [5, 4, 3, 2, 2]
    rows = rows_of(client.get("/api/v1/reports/funnel?format=csv", headers=headers))
    assert list(rows[0]) == [
        "group",
        "value",
        "step",
        "count",
        "conversion",
        "median_days",
        "waiting",
        "share_waiting",
    ]
    overall = [r for r in rows if r["group"] == "all"]
    assert [(r["step"], r["count"]) for r in overall] == [
        ("signed_up", "5"),
        ("confirmed", "4"),
        ("engaged", "3"),
        ("nurtured", "2"),
        ("paid", "2"),
        ("paying_90", "1"),
        ("presumed_nurtured", "0"),
    ]
    assert overall[1]["conversion"] == "0.8" and overall[1]["median_days"] == "0.5"
    sources = {r["value"] for r in rows if r["group"] == "source"}
    assert '\'=HYPERLINK("http://evil.example")' in sources  # the formula guard


def test_a_window_and_a_source(client, session, history):
    headers = bearer(session)
    body = client.get(
        "/api/v1/reports/funnel?from=2026-02-01&to=2026-02-28&source=direct", headers=headers
    ).get_json()
    assert (body["signups"], body["from"], body["to"], body["source"]) == (
        1,
        "2026-02-01",
        "2026-02-28",
        "direct",
    )
    weekly = client.get("/api/v1/reports/funnel?newsletter=weekly", headers=headers).get_json()
    assert weekly["signups"] == 1


def test_cohorts_and_growth_as_csv(client, session, history):
    headers = bearer(session)
    cohorts = rows_of(client.get("/api/v1/reports/cohorts?format=csv&to=2026-06-30", headers=headers))
    jan0 = [r for r in cohorts if r["cohort"] == "2026-01" and r["month"] == "0"]
    assert len(jan0) == 1 and (jan0[0]["currency"], jan0[0]["revenue_cents"], jan0[0]["active_engaged"]) == (
        "usd",
        "500",
        "2",
    )
    jan2 = [r for r in cohorts if r["cohort"] == "2026-01" and r["month"] == "2"]
    assert jan2[0]["currency"] == "" and jan2[0]["paying"] == "1"
    growth = rows_of(
        client.get("/api/v1/reports/growth?format=csv&from=2026-03-01&to=2026-03-05", headers=headers)
    )
    assert [r["date"] for r in growth] == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
        "2026-03-04",
        "2026-03-05",
    ]
    assert (growth[0]["signups"], growth[-1]["unsubscribes"], growth[-1]["net_growth"]) == ("1", "1", "-1")
    body = client.get("/api/v1/reports/growth?from=2026-03-01&to=2026-03-05", headers=headers).get_json()
    assert body["days"][0] == {
        "date": "2026-03-01",
        "signups": 1,
        "confirmations": 1,
        "unsubscribes": 0,
        "net_growth": 1,
    }
    assert body["mrr_movements"][0]["currency"] == "usd"


def test_every_report_answers_csv(client, session, history):
    headers = bearer(session)
    for path in REPORTS:
        rows_of(client.get(path + "?format=csv&from=2026-01-01&to=2026-06-30", headers=headers))
    ledger = rows_of(
        client.get("/api/v1/reports/revenue/ledger?format=csv&from=2026-01-01&to=2026-06-30", headers=headers)
    )
    assert sorted(int(r["amount_paid_cents"]) for r in ledger) == [500, 500, 1000]
    revenue = rows_of(
        client.get("/api/v1/reports/revenue?format=csv&from=2026-01-01&to=2026-06-30", headers=headers)
    )
    assert [(r["month"], r["new_cents"]) for r in revenue][:3] == [
        ("2026-01", "500"),
        ("2026-02", "0"),
        ("2026-03", "1000"),
    ]
    referrals = {
        r["figure"]: r["value"]
        for r in rows_of(client.get("/api/v1/reports/referrals?format=csv", headers=headers))
    }
    assert "k_factor" in referrals


def test_the_revenue_report_shows_revenue_per_reachable_reader(client, session, history):
    headers = bearer(session)
    body = client.get("/api/v1/reports/revenue", headers=headers).get_json()
    block = body["revenue_per_reachable_reader"]
    assert block["currencies"][0]["currency"] == "usd" and block["currencies"][0]["mrr_cents"] == 500
    growth = client.get("/api/v1/reports/growth?from=2026-06-01", headers=headers).get_json()
    assert growth["revenue_per_reachable_reader"]["currencies"] == block["currencies"]


@pytest.mark.parametrize(
    "query",
    [
        "from=yesterday",
        "from=2026-02-30",
        "to=0001-01-01",
        "from=2026-03-01&to=2026-02-01",
        "newsletter=nope",
        "source=a%0Ab",
        "source=" + "x" * 101,
        "format=xml",
    ],
)
def test_bad_parameters_are_400(client, session, query):
    headers = bearer(session)
    for path in ("/api/v1/reports/funnel", "/api/v1/reports/cohorts", "/api/v1/reports/growth"):
        response = client.get(f"{path}?{query}", headers=headers)
        assert response.status_code == 400, (path, query)
        assert set(response.get_json()["error"]) == {"code", "message"}


def test_growth_refuses_a_range_of_centuries(client, session):
    response = client.get("/api/v1/reports/growth?from=1970-01-01&to=2999-01-01", headers=bearer(session))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_range"


def test_creators_see_the_funnel_not_the_money(client, session):
    headers = bearer(session, "creator")
    assert client.get("/api/v1/reports/funnel", headers=headers).status_code == 200
    assert client.get("/api/v1/reports/cohorts", headers=headers).status_code == 403
    assert client.get("/api/v1/reports/growth", headers=headers).status_code == 403
    assert client.get("/api/v1/reports/funnel").status_code == 401


def test_every_report_declares_csv_in_openapi(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in REPORTS:
        op = paths[path]["get"]
        assert set(op["responses"]["200"]["content"]) == {"application/json", "text/csv"}, path
        assert any(p["name"] == "format" for p in op["parameters"]), path
