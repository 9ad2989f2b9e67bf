"""The OpenAPI document covers every JSON route; errors use the envelope; rate limits; proxies."""

from __future__ import annotations

import re

from flask import Flask


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_every_api_route_is_in_the_openapi_document(app: Flask, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert "Error" in document["components"]["schemas"]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in document["paths"].get(_openapi_path(rule.rule), {}):
                missing.append(f"{method} {rule.rule}")
    assert missing == []


def test_signup_schema_in_document_is_the_one_that_validates(client):
    from growth.schemas import SIGNUP

    document = client.get("/api/v1/openapi.json").get_json()
    assert document["components"]["schemas"]["SignupRequest"] == SIGNUP
    post = document["paths"]["/api/v1/subscribers"]["post"]
    assert post["security"] == [] and "202" in post["responses"] and "422" in post["responses"]


def test_unknown_api_path_and_method_use_the_envelope(client):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = client.delete("/api/v1/subscribers")
    assert wrong.status_code == 405 and wrong.get_json()["error"]["code"] == "method_not_allowed"


def test_signup_rate_limit_is_shared_by_form_and_api(app_factory):
    app = app_factory(signup_rate_limit="3/minute")
    client = app.test_client()
    env = {"REMOTE_ADDR": "198.51.100.7"}
    assert (
        client.post("/api/v1/subscribers", json={"email": "r1@example.com"}, environ_base=env).status_code
        == 202
    )
    assert client.post("/subscribe", data={"email": "r2@example.com"}, environ_base=env).status_code == 200
    assert (
        client.post("/api/v1/subscribers", json={"email": "r3@example.com"}, environ_base=env).status_code
        == 202
    )
    limited = client.post("/api/v1/subscribers", json={"email": "r4@example.com"}, environ_base=env)
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert client.post("/subscribe", data={"email": "r5@example.com"}, environ_base=env).status_code == 429
    other_ip = client.post(
        "/api/v1/subscribers", json={"email": "r6@example.com"}, environ_base={"REMOTE_ADDR": "198.51.100.8"}
    )
    assert other_ip.status_code == 202


def test_forwarded_for_is_trusted_only_behind_configured_proxies(app_factory, session):
    from sqlalchemy import select

    from growth.models import Consent

    spoofed = app_factory(trusted_proxy_count=0).test_client()
    spoofed.post(
        "/api/v1/subscribers",
        json={"email": "p1@example.com"},
        headers={"X-Forwarded-For": "203.0.113.50"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    proxied = app_factory(trusted_proxy_count=1).test_client()
    proxied.post(
        "/api/v1/subscribers",
        json={"email": "p2@example.com"},
        headers={"X-Forwarded-For": "203.0.113.51"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    ips = [c.ip for c in session.scalars(select(Consent).order_by(Consent.id))]
    assert ips == ["10.0.0.2", "203.0.113.51"]


def test_rate_limits_are_stored_in_redis_when_configured(app):
    from growth.extensions import limiter
    from tests.conftest import REDIS_URL

    storage = type(limiter.storage).__name__
    assert storage == ("RedisStorage" if REDIS_URL else "MemoryStorage")


def test_embed_snippet_fills_in_where_the_reader_came_from(client):
    page = client.get("/embed.html")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'action="http://masthead.test/subscribe"' in html
    for field in ("utm_source", "utm_medium", "utm_campaign", "referrer_url", "landing_url", "website"):
        assert f'name="{field}"' in html
    assert "document.referrer" in html and "location.href" in html


def test_embedded_form_posts_are_recorded_with_their_origin(client, session):
    from sqlalchemy import select

    from growth.models import Subscriber

    response = client.post(
        "/subscribe",
        data={
            "email": "embed@example.com",
            "form": "embed",
            "utm_source": "partner",
            "referrer_url": "https://partner.example/post",
            "landing_url": "https://blog.example/?utm_source=partner",
        },
    )
    assert response.status_code == 200
    sub = session.scalars(select(Subscriber)).one()
    assert (sub.source, sub.utm_source, sub.referrer_url) == (
        "embed",
        "partner",
        "https://partner.example/post",
    )
