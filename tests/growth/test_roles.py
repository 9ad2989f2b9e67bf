"""The role table: every endpoint is in it, and each answers anonymous, creator and admin by it."""

from __future__ import annotations

import re
import uuid

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter, PathConverter

from growth import auth, roles
from tests.growth.helpers import login_as


def _refused(response) -> str | None:  # type: ignore[no-untyped-def]
    """Why the role check turned this request away, or None when it let it through."""
    if response.status_code == 401:
        return "401"
    if response.status_code in (301, 302, 303) and "/admin/login" in response.headers.get("Location", ""):
        return "login"
    if response.status_code == 403 and re.search(
        rb"This needs the \w+ role|This endpoint is closed", response.get_data()
    ):
        return "403"
    return None


def _requests(app: Flask):  # type: ignore[no-untyped-def]
    """(endpoint, method, url) for every rule of the app, arguments filled with harmless values."""
    adapter = app.url_map.bind("masthead.test")
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        values: dict[str, object] = {}
        for name in rule.arguments:
            converter = rule._converters[name]
            if isinstance(converter, IntegerConverter):
                values[name] = 987654
            elif isinstance(converter, PathConverter):
                values[name] = "nothing-here.css"
            else:
                values[name] = "nothing-here"
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}) or ["OPTIONS"]
        for method in methods:
            yield rule.endpoint, method, adapter.build(rule.endpoint, values, method=method)


def test_every_endpoint_has_a_role_and_every_role_an_endpoint(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    table = app.extensions[roles.KEY]
    assert sorted(endpoints - set(table)) == []
    assert sorted(set(table) - endpoints) == []
    assert set(table.values()) <= {"public", "creator", "admin"}


@pytest.fixture
def operators(session):  # type: ignore[no-untyped-def]
    made = {}
    for role in ("creator", "admin"):
        operator = auth.create_operator(
            session, f"{role}-{uuid.uuid4().hex[:6]}@example.com", "long enough pw", role
        )
        made[role] = (operator, auth.create_token(session, operator))
    session.commit()
    return made


def _call(app, who, operators, method, url):  # type: ignore[no-untyped-def]
    client = app.test_client()
    headers = {}
    if who != "anonymous":
        operator, token = operators[who]
        if url.startswith("/api/"):
            headers["Authorization"] = f"Bearer {token}"
        else:
            login_as(client, operator)
    return client.open(url, method=method, headers=headers)


def test_each_route_answers_each_role_by_the_table(app, client, operators):
    table = app.extensions[roles.KEY]
    wrong = []
    for endpoint, method, url in _requests(app):
        role = table[endpoint]
        allowed = {
            "anonymous": role == "public",
            "creator": role in ("public", "creator"),
            "admin": True,
        }
        for who, may in allowed.items():
            response = _call(app, who, operators, method, url)
            response.get_data()  # a streamed answer is read inside its request (the graph export)
            refused = _refused(response)
            if may and (refused or response.status_code >= 500):
                wrong.append(f"{who} {method} {url} ({role}): {response.status_code} {refused or ''}")
            if not may:
                expected = "403" if who == "creator" else ("401" if url.startswith("/api/") else "login")
                if refused != expected:
                    wrong.append(f"{who} {method} {url} ({role}): {response.status_code}, wanted {expected}")
    assert wrong == []


def test_an_endpoint_missing_from_the_table_is_closed(app_factory, connection):
    other = app_factory()
    other.add_url_rule("/forgotten", "forgotten", lambda: "open")
    response = other.test_client().get("/forgotten")
    assert response.status_code == 403 and b"This endpoint is closed" in response.data


def test_a_domain_cannot_give_an_endpoint_a_second_role(app):
    with pytest.raises(ValueError):
        roles.register(app, {"admin.outbox": "creator"})
    with pytest.raises(ValueError):
        roles.register(app, {"somewhere.new": "owner"})


def test_creators_see_the_referral_report_without_revenue_and_no_admin_links(client, operators):
    creator, token = operators["creator"]
    report = client.get("/api/v1/reports/referrals", headers={"Authorization": f"Bearer {token}"})
    assert report.status_code == 200
    for rows in report.get_json()["top_referrers"].values():
        assert all(row["downstream_revenue"] is None for row in rows)
    login_as(client, creator)
    page = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/posts"' in page
    for hidden in (
        "/admin/outbox",
        "/admin/tiers",
        "/admin/revenue",
        "/admin/referrals",
        "Newest subscribers",
    ):
        assert hidden not in page


def _csrf(client) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/admin/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_a_session_changes_state_through_the_api_only_with_a_csrf_token(client, operators):
    admin, token = operators["admin"]
    login_as(client, admin)
    evil = {"Origin": "https://evil.example"}
    post = {"title": "Hello", "body_markdown": "Hi", "kind": "value"}
    milestone = {"referrals_required": 3, "reward_name": "Stickers"}
    csv = "email\nnew.reader@example.com\n"
    for response in (
        client.post("/api/v1/posts", json=post, headers=evil),
        client.post("/api/v1/referrals/milestones", json=milestone, headers=evil),
        client.post("/api/v1/subscribers/import", data=csv, headers={**evil, "Content-Type": "text/csv"}),
        client.delete("/api/v1/subscribers/987654", headers=evil),
    ):
        assert response.status_code == 400, response.get_data(as_text=True)
        assert "CSRF" in response.get_json()["error"]["message"]
    assert client.get("/api/v1/posts").status_code == 200  # reading needs no token
    with_token = {"X-CSRFToken": _csrf(client)}
    assert client.post("/api/v1/posts", json=post, headers=with_token).status_code == 201
    assert client.post("/api/v1/referrals/milestones", json=milestone, headers=with_token).status_code == 201
    bearer = {"Authorization": f"Bearer {token}", **evil}
    other = {**post, "title": "Hello again"}
    assert client.post("/api/v1/posts", json=other, headers=bearer).status_code == 201


def test_signup_webhooks_and_one_click_unsubscribe_stay_token_free(client, operators):
    login_as(client, operators["admin"][0])  # a session cookie along does not make them ask for CSRF
    assert client.post("/api/v1/subscribers", json={"email": "reader@example.com"}).status_code == 202
    assert client.post("/webhooks/sendgrid", data="[]").status_code == 403  # unsigned, not CSRF
    assert client.post("/webhooks/stripe", data="{}").status_code == 400
    bad_link = client.post("/unsubscribe/not-a-token", data={"List-Unsubscribe": "One-Click"})
    assert bad_link.status_code == 400 and b"CSRF" not in bad_link.data
