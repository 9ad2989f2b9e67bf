"""/api/v1/webhooks and /admin/webhooks: register, list, change, rotate, delete, log, resend, test."""

from __future__ import annotations

from sqlalchemy import select

from growth.outgoing.models import WebhookDelivery, WebhookEndpoint
from tests.growth.helpers import login_as


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create(client, token, **body):  # type: ignore[no-untyped-def]
    body = {"url": "https://hooks.example.com/masthead", "events": ["subscriber.created"], **body}
    return client.post("/api/v1/webhooks", json=body, headers=bearer(token))


def test_create_answers_201_with_the_secret_once(client, admin_token):  # type: ignore[no-untyped-def]
    r = create(client, admin_token, description="CRM", events=["subscriber.confirmed", "subscriber.created"])
    assert r.status_code == 201
    body = r.get_json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 30
    assert body["events"] == ["subscriber.confirmed", "subscriber.created"] and body["active"] is True
    listed = client.get("/api/v1/webhooks", headers=bearer(admin_token)).get_json()["endpoints"]
    assert [e["id"] for e in listed] == [body["id"]]
    assert (
        "secret" not in listed[0]
        and "secret"
        not in client.get(f"/api/v1/webhooks/{body['id']}", headers=bearer(admin_token)).get_json()
    )


def test_refuses_bad_input_with_the_envelope(client, admin_token):  # type: ignore[no-untyped-def]
    cases = [
        ({"url": "ftp://x.example/"}, 422, "invalid_url"),
        ({"url": "http://user:pw@x.example/"}, 422, "invalid_url"),
        ({"events": ["nope.nothing"]}, 422, "invalid_events"),
        ({"events": []}, 400, "invalid_field"),
        ({"url": 5}, 400, "invalid_field"),
        ({"url": "https://x.example/" + "a" * 2000}, 400, "invalid_field"),
        ({"description": "two\nlines"}, 400, "invalid_field"),
        ({"extra": 1}, 400, "invalid_field"),
    ]
    for body, status, code in cases:
        r = create(client, admin_token, **body)
        assert (r.status_code, r.get_json()["error"]["code"]) == (status, code), body
    r = client.post(
        "/api/v1/webhooks", data="{", headers={**bearer(admin_token), "Content-Type": "application/json"}
    )
    assert r.status_code == 400


def test_private_urls_refused_unless_allowed(app_factory, session, admin_token):  # type: ignore[no-untyped-def]
    client = app_factory(webhooks_allow_private=False).test_client()
    for url in (
        "http://127.0.0.1/h",
        "http://localhost:8080/h",
        "http://[::1]/h",
        "http://10.0.0.8/h",
        "http://169.254.169.254/latest",
        "http://[::ffff:192.168.0.1]/h",
    ):
        r = create(client, admin_token, url=url)
        assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_url", url
    assert create(client, admin_token, url="https://hooks.example.com/x").status_code == 201


def test_only_https_in_production(app, session):  # type: ignore[no-untyped-def]
    import pytest

    from growth.errors import ValidationFailed
    from growth.outgoing import service
    from growth.outgoing.transport import BlockedAddress, post

    production = app.config["MASTHEAD"].replace(env="production", webhooks_allow_private=False)
    with app.test_request_context():
        app.config["MASTHEAD"], saved = production, app.config["MASTHEAD"]
        try:
            with pytest.raises(ValidationFailed, match="https"):
                service.clean_url("http://hooks.example.com/x")
            assert service.clean_url("https://hooks.example.com/x")
        finally:
            app.config["MASTHEAD"] = saved
    with pytest.raises(BlockedAddress, match="https"):
        post("http://hooks.example.com/x", b"{}", {}, allow_private=False, production=True)


def test_allow_private_is_refused_in_production():  # type: ignore[no-untyped-def]
    import pytest

    from growth.config import Config, ConfigError

    env = {
        "MASTHEAD_ENV": "production",
        "SECRET_KEY": "k" * 40,
        "BASE_URL": "https://news.example.com",
        "WEBHOOKS_ALLOW_PRIVATE": "true",
    }
    with pytest.raises(ConfigError, match="WEBHOOKS_ALLOW_PRIVATE"):
        Config.from_env(env).validate()


def test_update_rotate_delete(client, admin_token, session):  # type: ignore[no-untyped-def]
    endpoint = create(client, admin_token).get_json()
    path = f"/api/v1/webhooks/{endpoint['id']}"
    r = client.patch(path, json={"active": False, "events": ["post.published"]}, headers=bearer(admin_token))
    assert (
        r.status_code == 200
        and r.get_json()["active"] is False
        and r.get_json()["events"] == ["post.published"]
    )
    assert r.get_json()["disabled_reason"] == "disabled by an admin"
    r = client.patch(path, json={"active": True}, headers=bearer(admin_token))
    assert r.get_json()["active"] is True and r.get_json()["disabled_reason"] is None
    assert client.patch(path, json={"active": "yes"}, headers=bearer(admin_token)).status_code == 400
    rotated = client.post(f"{path}/rotate-secret", headers=bearer(admin_token)).get_json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != endpoint["secret"]
    row = session.get(WebhookEndpoint, endpoint["id"])
    session.refresh(row)
    assert row.previous_secret == endpoint["secret"] and row.secret == rotated["secret"]
    assert client.delete(path, headers=bearer(admin_token)).get_json() == {"deleted": endpoint["id"]}
    assert client.get(path, headers=bearer(admin_token)).status_code == 404
    assert client.delete(path, headers=bearer(admin_token)).status_code == 404
    assert client.get("/api/v1/webhooks/99999999999", headers=bearer(admin_token)).status_code == 404


def test_test_event_resend_and_log(client, admin_token, webhooks, receiver):  # type: ignore[no-untyped-def]
    endpoint = create(client, admin_token, url=receiver.url).get_json()
    path = f"/api/v1/webhooks/{endpoint['id']}"
    r = client.post(f"{path}/test", headers=bearer(admin_token))
    assert (
        r.status_code == 202 and r.get_json()["type"] == "webhook.test" and r.get_json()["state"] == "pending"
    )
    webhooks.deliver()
    log = client.get(f"{path}/deliveries", headers=bearer(admin_token)).get_json()
    [d] = log["deliveries"]
    assert d["state"] == "delivered" and d["attempts"][0]["status"] == 200 and log["next_before"] is None
    assert d["payload"]["data"] == {"endpoint_id": endpoint["id"], "message": d["payload"]["data"]["message"]}
    r = client.post(f"{path}/deliveries/{d['id']}/resend", headers=bearer(admin_token))
    assert r.status_code == 202 and r.get_json()["event_id"] == d["event_id"]
    webhooks.deliver()
    [again] = client.get(f"{path}/deliveries", headers=bearer(admin_token)).get_json()["deliveries"]
    assert [a["status"] for a in again["attempts"]] == [200, 200]
    assert client.post(f"{path}/deliveries/999/resend", headers=bearer(admin_token)).status_code == 404
    assert client.get(f"{path}/deliveries?before=abc", headers=bearer(admin_token)).status_code == 400
    types = client.get("/api/v1/webhooks/event-types", headers=bearer(admin_token)).get_json()["event_types"]
    assert "subscriber.confirmed" in {t["name"] for t in types} and "webhook.test" not in {
        t["name"] for t in types
    }


def test_creators_and_strangers_are_refused(client, session):  # type: ignore[no-untyped-def]
    from growth import auth

    creator = auth.create_operator(session, "writer@example.com", "a long password here", role="creator")
    token = auth.create_token(session, creator)
    session.commit()
    assert client.get("/api/v1/webhooks", headers=bearer(token)).status_code == 403
    assert client.get("/api/v1/webhooks").status_code == 401
    assert client.get("/admin/webhooks").status_code == 302


def test_admin_pages(client, session, webhooks, receiver):  # type: ignore[no-untyped-def]
    from growth import auth

    admin = auth.create_operator(session, "boss@example.com", "a long password here")
    session.commit()
    login_as(client, admin)
    page = client.get("/admin/webhooks")
    assert page.status_code == 200 and b"subscriber.stage_changed" in page.data
    csrf = page.data.split(b'name="csrf_token" value="')[1].split(b'"')[0].decode()
    bad = client.post(
        "/admin/webhooks", data={"csrf_token": csrf, "url": "gopher://x", "events": ["subscriber.created"]}
    )
    assert bad.status_code == 422 and b"http://" in bad.data
    made = client.post(
        "/admin/webhooks",
        data={
            "csrf_token": csrf,
            "url": receiver.url,
            "description": "Zapier",
            "events": ["subscriber.created", "post.published"],
        },
    )
    assert made.status_code == 201 and b"whsec_" in made.data
    endpoint = session.scalars(select(WebhookEndpoint)).one()
    assert endpoint.events == ["post.published", "subscriber.created"]
    base = f"/admin/webhooks/{endpoint.id}"
    assert client.post(f"{base}/test", data={"csrf_token": csrf}).status_code == 302
    webhooks.deliver()
    page = client.get(base)
    assert b"webhook.test" in page.data and b"HTTP 200" in page.data and b"Send again" in page.data
    delivery = session.scalars(select(WebhookDelivery)).one()
    assert (
        client.post(f"{base}/deliveries/{delivery.id}/resend", data={"csrf_token": csrf}).status_code == 302
    )
    assert client.post(f"{base}/deliveries/{delivery.id}/resend").status_code == 400  # no CSRF token
    rotated = client.post(f"{base}/rotate", data={"csrf_token": csrf})
    assert b"previous secret keeps signing" in rotated.data
    saved = client.post(base, data={"csrf_token": csrf, "url": receiver.url, "events": ["post.published"]})
    assert saved.status_code == 302
    session.refresh(endpoint)
    assert endpoint.active is False and endpoint.events == ["post.published"]
    assert b"Disabled" in client.get(base).data
    assert client.post(f"{base}/test", data={"csrf_token": csrf}).status_code == 422
    assert client.post(f"{base}/delete", data={"csrf_token": csrf}).status_code == 302
    assert client.get(base).status_code == 404
