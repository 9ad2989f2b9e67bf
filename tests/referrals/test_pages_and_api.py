"""The reader's hub, the admin page, the JSON API, the report and the CLI."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from growth import access, auth, links
from growth import schemas as growth_schemas
from growth.db import utcnow
from referrals import schemas as report_schemas
from referrals import service
from referrals.models import RewardGrant
from tests.referrals.helpers import BROWSER, by_email, join, operator_token, refer

REPORT_KEYS = {
    "structural_virality",
    "k_factor",
    "share_rate",
    "visits_per_sharer",
    "invite_rate",
    "conversion_rate",
    "cohort_k",
    "quality_k",
    "concentration",
    "viral_cycle_time_days",
    "referred_share",
    "max_generation",
    "generation_counts",
    "amplification",
    "cascades",
    "cohort_amplification",
    "top_referrers",
    "forecast",
}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert found
    return found.group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_hub_shows_link_share_buttons_progress_and_the_opt_in_leaderboard(client, session, outbox):
    join(client, outbox, "ana@example.com", name="Ana Lima")
    join(client, outbox, "zed@example.com")
    ana, zed = by_email(session, "ana@example.com"), by_email(session, "zed@example.com")
    service.save_milestone(session, {"referrals_required": 3, "reward_name": "sticker pack"})
    refer(client, session, outbox, "ana@example.com", "bo@example.com", ip="192.0.2.1")
    refer(client, session, outbox, "zed@example.com", "cy@example.com", ip="192.0.2.2")
    page = client.get(f"/me/{links.manage_token(ana)}/referrals")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"http://masthead.test/r/{ana.referral_code}" in html
    assert "2 more friends to the sticker pack." in html
    for network in ("mailto:", "x.com/intent", "facebook.com/sharer", "linkedin.com", "wa.me"):
        assert network in html
    assert "Nobody is on the leaderboard yet." in html
    # Ana opts in: her first name shows; Zed opts in without a name: "anonymous"
    done = client.post(
        f"/me/{links.manage_token(ana)}/referrals",
        data={"leaderboard": "on", "csrf_token": csrf_of(html)},
    )
    assert done.status_code == 200 and "You are on the leaderboard." in done.get_data(as_text=True)
    service.set_leaderboard_opt_in(session, zed, True)
    assert service.leaderboard(session) == [("Ana", 1), ("anonymous", 1)]
    assert "Lima" not in client.get(f"/me/{links.manage_token(zed)}/referrals").get_data(as_text=True)


def test_hub_with_a_bad_token_is_a_friendly_400(client):
    assert client.get("/me/forged/referrals").status_code == 400


def test_admin_page_approves_configures_and_fulfils(app_factory, session, outbox):
    app = app_factory(referral_hold_days=2)
    client = app.test_client()
    auth.create_operator(session, "ops@example.com", "correct horse battery staple")
    join(client, outbox, "ana@example.com")
    held = refer(client, session, outbox, "ana@example.com", "bo@example.com")
    assert client.get("/admin/referrals").status_code == 302  # login first
    login = client.get("/admin/login").get_data(as_text=True)
    client.post(
        "/admin/login",
        data={
            "email": "ops@example.com",
            "password": "correct horse battery staple",
            "csrf_token": csrf_of(login),
        },
    )
    page = client.get("/admin/referrals").get_data(as_text=True)
    assert "bo@example.com" in page and "Held for review (1)" in page
    token = csrf_of(page)
    added = client.post(
        "/admin/referrals",
        data={
            "action": "add_milestone",
            "referrals_required": "1",
            "reward_name": "sticker pack",
            "fulfilment_note": "A5 envelope",
            "csrf_token": token,
        },
    )
    assert "Milestone at 1 referrals added." in added.get_data(as_text=True)
    milestone = service.milestones(session)[0]
    edited = client.post(
        "/admin/referrals",
        data={
            "action": "edit_milestone",
            "milestone_id": str(milestone.id),
            "referrals_required": "1",
            "reward_name": "sticker pack",
            "description": "Five stickers",
            "fulfilment_note": "A5 envelope",
            "active": "on",
            "csrf_token": token,
        },
    )
    assert "Milestone saved." in edited.get_data(as_text=True)
    session.expire_all()
    assert (milestone.description, milestone.active) == ("Five stickers", True)
    duplicate = client.post(
        "/admin/referrals",
        data={
            "action": "add_milestone",
            "referrals_required": "1",
            "reward_name": "again",
            "csrf_token": token,
        },
    )
    assert duplicate.status_code == 422
    approved = client.post(
        "/admin/referrals",
        data={"action": "approve", "referral_id": str(held.id), "csrf_token": token},
    )
    html = approved.get_data(as_text=True)
    assert "Held for review (0)" in html and "sticker pack" in html and "A5 envelope" in html
    grant = session.scalars(select(RewardGrant)).one()
    client.post(
        "/admin/referrals",
        data={"action": "fulfil", "grant_id": str(grant.id), "csrf_token": token},
    )
    session.expire_all()
    assert session.get(RewardGrant, grant.id).status == "fulfilled"


def test_api_needs_a_token_and_manages_holds_milestones_and_grants(app_factory, session, outbox):
    app = app_factory(referral_hold_days=1)
    client = app.test_client()
    assert client.get("/api/v1/referrals/held").status_code == 401
    headers = bearer(operator_token(session))
    created = client.post(
        "/api/v1/referrals/milestones",
        json={"referrals_required": 1, "reward_name": "mug"},
        headers=headers,
    )
    assert created.status_code == 201
    milestone = created.get_json()
    assert (
        client.post("/api/v1/referrals/milestones", json={"reward_name": "x"}, headers=headers).status_code
        == 400
    )
    assert (
        client.post(
            "/api/v1/referrals/milestones",
            json={"referrals_required": 1, "reward_name": "again"},
            headers=headers,
        ).get_json()["error"]["code"]
        == "duplicate_milestone"
    )
    patched = client.patch(
        f"/api/v1/referrals/milestones/{milestone['id']}",
        json={"description": "A big one"},
        headers=headers,
    )
    assert patched.get_json()["description"] == "A big one"
    assert client.patch("/api/v1/referrals/milestones/999999", json={}, headers=headers).status_code == 404
    join(client, outbox, "ana@example.com")
    first = refer(client, session, outbox, "ana@example.com", "bo@example.com", ip="192.0.2.1")
    second = refer(client, session, outbox, "ana@example.com", "cy@example.com", ip="192.0.2.2")
    held = client.get("/api/v1/referrals/held", headers=headers).get_json()["referrals"]
    assert [r["id"] for r in held] == [first.id, second.id]
    approved = client.post(f"/api/v1/referrals/{first.id}/approve", headers=headers).get_json()
    assert (approved["status"], approved["decided_by"]) == ("counted", "ops@example.com")
    again = client.post(f"/api/v1/referrals/{first.id}/approve", headers=headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "not_held"
    assert (
        client.post(f"/api/v1/referrals/{second.id}/reject", headers=headers).get_json()["reason"]
        == "operator"
    )
    assert client.post("/api/v1/referrals/999999/approve", headers=headers).status_code == 404
    [grant] = client.get("/api/v1/referrals/grants?status=granted", headers=headers).get_json()["grants"]
    assert (grant["email"], grant["reward_name"]) == ("ana@example.com", "mug")
    fulfilled = client.post(f"/api/v1/referrals/grants/{grant['id']}/fulfil", headers=headers).get_json()
    assert fulfilled["status"] == "fulfilled" and fulfilled["fulfilled_at"]
    assert client.get("/api/v1/referrals/grants?status=lost", headers=headers).status_code == 422


def test_every_referral_route_is_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path in (
        "/api/v1/referrals/held",
        "/api/v1/referrals/{referral_id}/approve",
        "/api/v1/referrals/{referral_id}/reject",
        "/api/v1/referrals/milestones",
        "/api/v1/referrals/milestones/{milestone_id}",
        "/api/v1/referrals/milestones/{milestone_id}/grant-existing",
        "/api/v1/referrals/grants",
        "/api/v1/referrals/grants/{grant_id}/fulfil",
        "/api/v1/reports/referrals",
        "/api/v1/referrals/rings",
        "/api/v1/referrals/graph",
    ):
        assert path in doc["paths"], path
    report_schema = doc["components"]["schemas"]["ReferralReport"]
    assert set(report_schema["required"]) >= REPORT_KEYS
    assert set(report_schema["properties"]) >= REPORT_KEYS


def test_report_endpoint_validates_and_answers_with_every_figure(app_factory, client, session, outbox):
    # another app: a request to `app` inside the session fixture's app context shares its `g`
    assert app_factory().test_client().get("/api/v1/reports/referrals").status_code == 401
    headers = bearer(operator_token(session))
    join(client, outbox, "ana@example.com")
    refer(client, session, outbox, "ana@example.com", "bo@example.com", ip="192.0.2.1")
    refer(client, session, outbox, "bo@example.com", "cy@example.com", ip="192.0.2.2")
    # one counted visit on each of Ana's and Bo's links, and a link-preview bot that does not count
    for code in (
        by_email(session, "ana@example.com").referral_code,
        by_email(session, "bo@example.com").referral_code,
    ):
        client.get(f"/r/{code}", headers={"User-Agent": BROWSER})
    client.get(
        f"/r/{by_email(session, 'ana@example.com').referral_code}",
        headers={"User-Agent": "Slackbot 1.0"},
    )
    for bad in (
        "from=yesterday",
        "cohort=year",
        "from=2026-02-01&to=2026-01-01",
        "market=-5",
        "virality_min_size=1",
        "virality_min_size=ten",
        "virality_min_size=" + "9" * 40,
    ):
        response = client.get(f"/api/v1/reports/referrals?{bad}", headers=headers)
        assert response.status_code == 400 and "error" in response.get_json(), bad
    today = utcnow().date().isoformat()
    data = client.get(
        f"/api/v1/reports/referrals?from={today}&to={today}&cohort=week&market=1000",
        headers=headers,
    ).get_json()
    assert set(data) >= REPORT_KEYS
    # three readers confirmed today: Ana (root), Bo (1), Cy (2): 2 referrals over 3 readers
    assert data["k_factor"] == pytest.approx(2 / 3)
    assert data["generation_counts"] == {"0": 1, "1": 1, "2": 1} and data["max_generation"] == 2
    assert data["referred_share"] == pytest.approx(2 / 3) and data["amplification"] == 3.0
    # 2 counted visits from 2 sharers among 3 readers; 2 referrals per 2 visits
    assert (data["share_rate"], data["visits_per_sharer"]) == (pytest.approx(2 / 3), 1.0)
    assert (data["invite_rate"], data["conversion_rate"]) == (pytest.approx(2 / 3), 1.0)
    assert data["cohort_k"][0]["mature"] is False and data["cohort_k"][0]["k"] is None
    top = data["top_referrers"]["by_downstream"]
    ana, bo = by_email(session, "ana@example.com"), by_email(session, "bo@example.com")
    assert [(r["subscriber_id"], r["direct"], r["downstream"]) for r in top] == [
        (ana.id, 1, 2),
        (bo.id, 1, 1),
    ]
    # nobody has paid: no revenue columns (nor labels) to show
    assert top[0]["downstream_revenue"] is None and top[0]["revenue_credited"] is None
    assert data["revenue_labels"] is None
    assert len(data["forecast"]["periods"]) == 12
    # a chain of three is below the default minimum of ten; from two it is (3 + 1) / 3
    assert data["structural_virality"]["cascades"] == 0 and data["structural_virality"]["mean"] is None
    virality = client.get("/api/v1/reports/referrals?virality_min_size=2", headers=headers).get_json()[
        "structural_virality"
    ]
    assert virality["mean"] == pytest.approx(4 / 3) and virality["viral_share"] == 0.5
    assert virality["most_viral"] == [
        {"root_id": ana.id, "size": 3, "virality": pytest.approx(4 / 3), "generations": 2}
    ]
    empty = client.get("/api/v1/reports/referrals?from=2001-01-01&to=2001-01-31", headers=headers).get_json()
    assert empty["k_factor"] is None and empty["referred_share"] is None
    assert empty["conversion_rate"] is None and empty["amplification"] is None


def test_top_referrers_join_downstream_revenue_when_billing_answers(client, session, outbox):
    headers = bearer(operator_token(session))
    join(client, outbox, "ana@example.com")
    refer(client, session, outbox, "ana@example.com", "bo@example.com", ip="192.0.2.1")
    refer(client, session, outbox, "bo@example.com", "cy@example.com", ip="192.0.2.2")
    ana, bo = by_email(session, "ana@example.com"), by_email(session, "bo@example.com")

    def attribution(_session, by, now):  # type: ignore[no-untyped-def]
        # the referrer view as billing gives it: Cy (through Bo) and Bo (through Ana) paid
        assert by == "referrer"
        return {
            "rows": [
                {"key": str(bo.id), "revenue_cents": {"usd": 500}, "conversions": 1},
                {"key": str(ana.id), "revenue_cents": {"usd": 200, "eur": 100}, "conversions": 1},
            ],
            "conversions": 2,
            "rules": "Each paid conversion is credited to the subscriber's direct referrer",
            "influence": {
                "label": "influence, not additive",
                "rows": [
                    {"key": str(ana.id), "revenue_cents": {"usd": 700, "eur": 100}, "conversions": 2},
                    {"key": str(bo.id), "revenue_cents": {"usd": 500}, "conversions": 1},
                ],
            },
        }

    previous = access._attribution
    access.register_attribution(attribution)
    try:
        data = client.get("/api/v1/reports/referrals", headers=headers).get_json()
    finally:
        access._attribution = previous
    rows = data["top_referrers"]["by_downstream"]
    assert {r["subscriber_id"]: r["downstream_revenue"] for r in rows} == {
        ana.id: {"usd": 700, "eur": 100},
        bo.id: {"usd": 500},
    }
    assert {r["subscriber_id"]: r["revenue_credited"] for r in rows} == {
        ana.id: {"usd": 200, "eur": 100},
        bo.id: {"usd": 500},
    }
    assert data["revenue_labels"]["downstream_revenue"] == "influence, not additive"
    assert data["revenue_labels"]["revenue_credited"].startswith("Each paid conversion")


def test_cli_prints_the_report_as_a_table(app, session, outbox):
    client = app.test_client()
    join(client, outbox, "ana@example.com")
    refer(client, session, outbox, "ana@example.com", "bo@example.com", ip="192.0.2.1")
    result = app.test_cli_runner().invoke(args=["referral-report", "--cohort", "week"])
    assert result.exit_code == 0, result.output
    assert "k_factor" in result.output and "0.5000" in result.output and "forecast per week" in result.output
    assert "structural_virality" in result.output and "cascades of 10+" in result.output
    assert app.test_cli_runner().invoke(args=["referral-report", "--cohort", "year"]).exit_code != 0


def test_window_amplification_divides_by_the_windows_own_non_referred_readers(client, session, outbox):
    """Ana joined ten days ago; Bo and Cy came through her today, Dee on her own today.

    Today's window: 3 readers, 1 non-referred (Dee): flow 3.0 = 1 / (1 - 2/3). Ana, a root
    from before the window, divides nothing (the old figure was 3 / {Ana, Dee} = 1.5). Cohort:
    Dee alone, 1.0, provisional for 30 days. Over the last ten days: 4 readers, 2 roots, flow 2;
    the cohort Ana + Dee brought Bo and Cy within the horizon: (2 + 2) / 2 = 2.
    """
    headers = bearer(operator_token(session))
    join(client, outbox, "ana@example.com")
    refer(client, session, outbox, "ana@example.com", "bo@example.com", ip="192.0.2.1")
    refer(client, session, outbox, "ana@example.com", "cy@example.com", ip="192.0.2.2")
    join(client, outbox, "dee@example.com")
    ana = by_email(session, "ana@example.com")
    ana.confirmed_at = ana.confirmed_at - dt.timedelta(days=10)
    session.flush()
    today = utcnow().date()
    since = (today - dt.timedelta(days=10)).isoformat()
    data = client.get(f"/api/v1/reports/referrals?from={today}&to={today}", headers=headers).get_json()
    assert data["referred_share"] == pytest.approx(2 / 3)
    assert data["amplification"] == pytest.approx(3.0)
    assert (data["cascades"]["amplification"], data["cascades"]["roots"]) == (pytest.approx(3.0), 1)
    growth_schemas.validate(report_schemas.REPORT, data)  # the OpenAPI schema describes it
    cohort = data["cohort_amplification"]
    assert (cohort["amplification"], cohort["roots"], cohort["readers"]) == (1.0, 1, 1)
    assert cohort["provisional"] is True and cohort["horizon_days"] == 30
    assert cohort["final_at"] == (today + dt.timedelta(days=31)).isoformat()
    wide = client.get(f"/api/v1/reports/referrals?from={since}&to={today}", headers=headers).get_json()
    assert wide["amplification"] == 2.0 and wide["cohort_amplification"]["amplification"] == 2.0
    # all time is unchanged: 4 readers in trees rooted at Ana and Dee
    assert client.get("/api/v1/reports/referrals", headers=headers).get_json()["amplification"] == 2.0
    text = client.application.test_cli_runner().invoke(args=["referral-report", "--from", str(today)]).output
    assert "cohort_amplification    1.0000  (1 root, 30-day horizon; provisional until" in text
