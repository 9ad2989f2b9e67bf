"""API tokens are listed and revoked: on the admin page and with `flask revoke-token`."""

from __future__ import annotations

import re

import pytest
from flask import g
from sqlalchemy import select

from growth import auth
from growth.db import utcnow
from growth.errors import Conflict
from growth.models import ApiToken, Operator
from tests.growth.helpers import login_as


@pytest.fixture
def people(session):  # type: ignore[no-untyped-def]
    admin = auth.create_operator(session, "boss@example.com", "long enough pw", "admin")
    creator = auth.create_operator(session, "writer@example.com", "long enough pw", "creator")
    session.commit()
    return admin, creator


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _csrf(client) -> str:  # type: ignore[no-untyped-def]
    g.pop("csrf_token", None)  # flask-wtf caches it in g, which the test's app context keeps
    page = client.get("/admin/tokens").get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_the_token_page_lists_creates_and_revokes(client, session, people):
    admin, creator = people
    old = auth.create_token(session, creator)
    session.commit()
    assert client.get("/api/v1/posts", headers=_bearer(old)).status_code == 200
    login_as(client, admin)
    page = client.get("/admin/tokens").get_data(as_text=True)
    assert old[:10] in page and old not in page and "writer@example.com" in page and "Revoke" in page
    created = client.post("/admin/tokens", data={"operator": admin.id, "csrf_token": _csrf(client)})
    assert created.status_code == 201
    new = re.search(r'value="(mh_[^"]+)"', created.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert client.get("/api/v1/subscribers", headers=_bearer(new)).status_code == 200
    assert new not in client.get("/admin/tokens").get_data(as_text=True)  # shown once

    row = session.scalars(select(ApiToken).where(ApiToken.prefix == old[:10])).one()
    revoked = client.post(f"/admin/tokens/{row.id}/revoke", data={"csrf_token": _csrf(client)})
    assert revoked.status_code == 303
    assert client.get("/api/v1/posts", headers=_bearer(old)).status_code == 401
    page = client.get("/admin/tokens").get_data(as_text=True)
    assert "revoked" in page and f"Token {old[:10]}… revoked." in page
    session.expire_all()
    assert session.get(ApiToken, row.id).revoked_at is not None
    assert client.post("/admin/tokens/987654/revoke", data={"csrf_token": _csrf(client)}).status_code == 404
    assert (
        client.post("/admin/tokens", data={"operator": "x", "csrf_token": _csrf(client)}).status_code == 422
    )


def test_creators_do_not_see_tokens(client, session, people):
    _admin, creator = people
    login_as(client, creator)
    assert client.get("/admin/tokens").status_code == 403
    assert "/admin/tokens" not in client.get("/admin/").get_data(as_text=True)


def test_cli_lists_and_revokes_by_number_prefix_or_token(app, session, people):
    admin, creator = people
    first, second, third = (auth.create_token(session, op) for op in (admin, creator, creator))
    session.commit()
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["list-tokens"])
    assert listed.exit_code == 0 and first[:10] in listed.output and "writer@example.com" in listed.output
    ids = {row.prefix: row.id for row in session.scalars(select(ApiToken))}
    for ref in (str(ids[first[:10]]), second[:10], third):
        result = runner.invoke(args=["revoke-token", ref])
        assert result.exit_code == 0, result.output
        assert "revoked" in result.output
    session.expire_all()
    assert all(row.revoked_at is not None for row in session.scalars(select(ApiToken)))
    assert "revoked" in runner.invoke(args=["list-tokens"]).output
    again = runner.invoke(args=["revoke-token", second[:10]])  # harmless
    assert again.exit_code == 0
    missing = runner.invoke(args=["revoke-token", "mh_nothing"])
    assert missing.exit_code != 0 and "no token" in missing.output


def test_an_ambiguous_prefix_is_refused(session, people):
    admin, _creator = people
    session.add_all([ApiToken(operator_id=admin.id, token_hash=c * 64, prefix="mh_same123") for c in "ab"])
    session.flush()
    with pytest.raises(Conflict, match="more than one token"):
        auth.revoke_token(session, "mh_same123", utcnow())


def test_cli_operator_defaults_and_token_is_the_last_word(app, session):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["create-operator", "Owner@Example.com", "--password", "a long password"])
    assert made.exit_code == 0, made.output
    assert session.scalars(select(Operator)).one().role == "admin"
    printed = runner.invoke(args=["create-token", "owner@example.com"])
    token = printed.output.strip().splitlines()[-1].split()[-1]
    assert client_can_use(app, token)


def client_can_use(app, token: str) -> bool:  # type: ignore[no-untyped-def]
    return app.test_client().get("/api/v1/subscribers", headers=_bearer(token)).status_code == 200


def test_cli_set_password_ends_sessions(app, client, session, people):
    admin, _creator = people
    login_as(client, admin)
    assert client.get("/admin/").status_code == 200
    result = app.test_cli_runner().invoke(
        args=["set-password", "boss@example.com", "--password", "another long password"]
    )
    assert result.exit_code == 0 and "1 session(s) ended" in result.output
    assert client.get("/admin/").status_code == 302
    short = app.test_cli_runner().invoke(args=["set-password", "boss@example.com", "--password", "short"])
    assert short.exit_code != 0
