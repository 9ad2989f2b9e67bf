"""Operators: CLI, session login with CSRF, bearer tokens, the subscriber list API."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from growth import auth
from growth.errors import Conflict, ValidationFailed
from growth.models import ApiToken, Operator
from tests.growth.helpers import link_in, messages, signup, signup_and_confirm


@pytest.fixture
def token(session) -> str:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "op@example.com", "correct horse battery", "admin")
    value = auth.create_token(session, operator)
    session.commit()
    return value


def test_cli_creates_operator_and_token(app, session, connection):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-operator", "Boss@Example.com", "--password", "a long password", "--role", "creator"]
    )
    assert result.exit_code == 0, result.output
    operator = session.scalars(select(Operator)).one()
    assert (operator.email, operator.role) == ("boss@example.com", "creator")
    assert operator.password_hash.startswith("$argon2id$")
    result = runner.invoke(args=["create-token", "boss@example.com"])
    assert result.exit_code == 0
    printed = result.output.strip().splitlines()[-1]
    assert printed.startswith("mh_")
    stored = session.scalars(select(ApiToken)).one()
    assert printed not in stored.token_hash and len(stored.token_hash) == 64
    assert runner.invoke(args=["create-token", "nobody@example.com"]).exit_code != 0


def test_operator_rules(session):
    with pytest.raises(ValidationFailed):
        auth.create_operator(session, "a@example.com", "short", "admin")
    with pytest.raises(ValidationFailed):
        auth.create_operator(session, "a@example.com", "long enough pw", "owner")
    auth.create_operator(session, "a@example.com", "long enough pw")
    with pytest.raises(Conflict):
        auth.create_operator(session, "A@example.com", "long enough pw")


def test_login_needs_csrf_and_right_password(client, session):
    auth.create_operator(session, "op@example.com", "correct horse battery")
    session.commit()
    assert client.get("/admin/").status_code == 302
    page = client.get("/admin/login")
    csrf = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1).decode()
    no_csrf = client.post(
        "/admin/login", data={"email": "op@example.com", "password": "correct horse battery"}
    )
    assert no_csrf.status_code in (400, 401) and client.get("/admin/").status_code == 302
    wrong = client.post(
        "/admin/login", data={"email": "op@example.com", "password": "nope", "csrf_token": csrf}
    )
    assert wrong.status_code == 401
    ok = client.post(
        "/admin/login",
        data={"email": "op@example.com", "password": "correct horse battery", "csrf_token": csrf},
    )
    assert ok.status_code == 302
    dashboard = client.get("/admin/")
    assert dashboard.status_code == 200 and b"Dashboard" in dashboard.data
    assert client.get("/admin/outbox").status_code == 200


def test_open_redirect_after_login_is_refused(client, session):
    auth.create_operator(session, "op@example.com", "correct horse battery")
    session.commit()
    page = client.get("/admin/login")
    csrf = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1).decode()
    response = client.post(
        "/admin/login?next=//evil.example/x",
        data={"email": "op@example.com", "password": "correct horse battery", "csrf_token": csrf},
    )
    assert response.headers["Location"] == "/admin/"


def test_subscriber_list_requires_bearer(client):
    response = client.get("/api/v1/subscribers")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    bad = client.get("/api/v1/subscribers", headers={"Authorization": "Bearer mh_wrong"})
    assert bad.status_code == 401


def test_subscriber_list_filters_and_pages(client, session, outbox, token):
    signup_and_confirm(client, outbox, "one@example.com")
    signup(client, "two@example.com")
    headers = {"Authorization": f"Bearer {token}"}
    everyone = client.get("/api/v1/subscribers", headers=headers).get_json()
    assert everyone["total"] == 2 and everyone["page"] == 1
    first = everyone["subscribers"][0]
    assert set(first) >= {"id", "email", "status", "stage", "referral_code", "created_at", "confirmed_at"}
    active = client.get("/api/v1/subscribers?status=active", headers=headers).get_json()
    assert [s["email"] for s in active["subscribers"]] == ["one@example.com"]
    assert active["subscribers"][0]["confirmed_at"] is not None
    by_email = client.get("/api/v1/subscribers?email=TWO@Example.com", headers=headers).get_json()
    assert [s["status"] for s in by_email["subscribers"]] == ["pending"]
    assert client.get("/api/v1/subscribers?page=2", headers=headers).get_json()["subscribers"] == []
    assert client.get("/api/v1/subscribers?page=0", headers=headers).status_code == 400
    assert client.get("/api/v1/subscribers?status=nope", headers=headers).status_code == 400


def test_revoked_token_is_refused(client, session, token):
    row = session.scalars(select(ApiToken)).one()
    from growth.db import utcnow

    row.revoked_at = utcnow()
    session.commit()
    assert client.get("/api/v1/subscribers", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_get_and_erase_subscriber(client, session, outbox, token):
    signup_and_confirm(client, outbox, "forget.me@example.com", name="Forget")
    headers = {"Authorization": f"Bearer {token}"}
    listed = client.get("/api/v1/subscribers", headers=headers).get_json()["subscribers"][0]
    one = client.get(f"/api/v1/subscribers/{listed['id']}", headers=headers)
    assert one.status_code == 200 and one.get_json()["email"] == "forget.me@example.com"
    assert client.get("/api/v1/subscribers/999999", headers=headers).status_code == 404
    [welcome] = messages(outbox, "welcome")  # erasure deletes the outbox's copies too
    erased = client.delete(f"/api/v1/subscribers/{listed['id']}", headers=headers).get_json()
    assert erased["status"] == "erased" and "forget" not in erased["email"] and erased["name"] is None
    from growth.models import Consent, Subscriber

    session.expire_all()
    row = session.get(Subscriber, listed["id"])
    assert row.email_normalized is None and row.signup_ip is None
    assert all(c.ip is None and c.user_agent is None for c in session.scalars(select(Consent)))
    # old links lead nowhere; the same address may sign up afresh as a new subscriber
    assert client.get(link_in(welcome, "/me/")).status_code == 400
    assert signup(client, "forget.me@example.com").status_code == 202
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 2


def test_creator_cannot_erase_or_read_subscribers(client, session, outbox, token):
    operator = auth.create_operator(session, "creator@example.com", "long enough pw", "creator")
    creator_token = auth.create_token(session, operator)
    session.commit()
    signup(client, "keep@example.com")
    creator = {"Authorization": f"Bearer {creator_token}"}
    assert client.get("/api/v1/subscribers", headers=creator).status_code == 403
    sub_id = client.get("/api/v1/subscribers", headers={"Authorization": f"Bearer {token}"}).get_json()[
        "subscribers"
    ][0]["id"]
    assert client.get(f"/api/v1/subscribers/{sub_id}", headers=creator).status_code == 403
    response = client.delete(
        f"/api/v1/subscribers/{sub_id}", headers={"Authorization": f"Bearer {creator_token}"}
    )
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
