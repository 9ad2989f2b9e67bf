"""Outside input beyond what the database can hold answers a clear 4xx, never a 500."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter

from growth import auth

DB_INT_MAX = 2**31 - 1
BEYOND = [DB_INT_MAX + 1, 2**63, 2**64, 10**30]


@pytest.fixture
def admin_token(session) -> str:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, f"admin-{uuid.uuid4().hex[:6]}@example.com", "a-long-password")
    token = auth.create_token(session, operator)
    session.commit()
    return token


def _id_routes(app: Flask) -> list[tuple[str, str, list[str]]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1") and rule.arguments:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                routes.append((method, rule.rule, sorted(rule.arguments)))
    return routes


def test_every_route_with_an_integer_id_uses_the_bounded_converter(app: Flask):
    plain = [
        r.rule
        for r in app.url_map.iter_rules()
        if any(type(c) is IntegerConverter for c in r._converters.values())
    ]
    assert plain == []


def test_the_api_has_the_id_routes_we_test(app: Flask):
    assert len({rule for _m, rule, _a in _id_routes(app)}) >= 15


@pytest.mark.parametrize("value", BEYOND)
def test_ids_beyond_the_database_range_answer_404_on_every_api_route(app, client, admin_token, value):
    headers = {"Authorization": f"Bearer {admin_token}"}
    for method, rule, arguments in _id_routes(app):
        path = rule
        for name in arguments:
            path = path.replace(f"<id:{name}>", str(value)).replace(f"<int:{name}>", str(value))
        response = client.open(path, method=method, headers=headers, json={})
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.get_json()["error"]["code"] == "not_found"


def test_the_largest_id_the_database_holds_is_an_ordinary_404(client, admin_token):
    response = client.get(
        f"/api/v1/subscribers/{DB_INT_MAX}", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("page", [str(2**64), str(10**30), "0", "-1", "x", "1.5", ""])
def test_page_out_of_range_or_not_a_number_is_a_400(client, admin_token, page):
    response = client.get(
        f"/api/v1/subscribers?page={page}", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_page"


def test_the_last_page_the_api_allows_answers_empty(client, admin_token):
    from growth.views.api import MAX_PAGE

    response = client.get(
        f"/api/v1/subscribers?page={MAX_PAGE}", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 200 and response.get_json()["subscribers"] == []
    beyond = client.get(
        f"/api/v1/subscribers?page={MAX_PAGE + 1}", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert beyond.status_code == 400


@pytest.mark.parametrize("market", [str(10**400), "0", "-3", "x"])
def test_referral_report_market_out_of_range_is_a_400(client, admin_token, market):
    response = client.get(
        f"/api/v1/reports/referrals?market={market}", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_market"


@pytest.mark.parametrize(
    "body", [b"[" * 100_000 + b"]" * 100_000, b'{"email": "a@example.com", "name": NaN}', b"{"]
)
def test_a_json_body_too_deep_or_not_json_is_a_400(client, admin_token, body):
    for path, headers in (
        ("/api/v1/subscribers", {}),
        ("/api/v1/tiers", {"Authorization": f"Bearer {admin_token}"}),
    ):
        response = client.post(path, data=body, headers=headers, content_type="application/json")
        assert response.status_code == 400, (path, response.status_code)
        assert response.get_json()["error"]["code"] in {"malformed_json", "invalid_field"}
