"""Login sessions end for good: logout, a password change, sign out everywhere."""

from __future__ import annotations

import datetime as dt
import re

from flask import g
from sqlalchemy import select

from growth import auth
from growth.models import OperatorSession
from tests.growth.test_login import PASSWORD, operator, post_login  # noqa: F401  (operator: a fixture)


def _cookie(client) -> str:  # type: ignore[no-untyped-def]
    return client.get_cookie("session").value  # type: ignore[no-any-return]


def _with_cookie(app, value: str):  # type: ignore[no-untyped-def]
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def _csrf(client, path: str = "/admin/account") -> str:  # type: ignore[no-untyped-def]
    # The test's app context outlives requests, and flask-wtf caches the token in g; a login
    # clears the session, so ask for a token afresh.
    g.pop("csrf_token", None)
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def _logged_in(client) -> bool:  # type: ignore[no-untyped-def]
    return client.get("/admin/").status_code == 200


def test_logout_ends_the_session_even_for_a_copied_cookie(app, client, operator):  # noqa: F811
    assert post_login(client).status_code == 302
    copied = _cookie(client)
    assert _logged_in(_with_cookie(app, copied))
    assert client.post("/admin/logout", data={"csrf_token": _csrf(client)}).status_code == 302
    assert not _logged_in(client)
    assert not _logged_in(_with_cookie(app, copied))
    later = _with_cookie(app, copied).get("/api/v1/posts")
    assert later.status_code == 401


def test_a_password_change_ends_every_session_but_not_the_tokens(app, client, session, operator):  # noqa: F811
    token = auth.create_token(session, operator)
    session.commit()
    other = app.test_client()
    assert post_login(other).status_code == 302 and post_login(client).status_code == 302
    before = _cookie(client)
    form = {"current": PASSWORD, "new": "a brand new passphrase", "repeated": "a brand new passphrase"}
    changed = client.post("/admin/account/password", data={**form, "csrf_token": _csrf(client)})
    assert changed.status_code == 303
    assert not _logged_in(other)  # another browser
    assert not _logged_in(_with_cookie(app, before))  # this browser's old cookie
    assert _logged_in(client)  # this browser goes on with a fresh session
    assert "Password changed" in client.get("/admin/account").get_data(as_text=True)
    assert post_login(app.test_client(), password=PASSWORD).status_code == 401
    assert post_login(app.test_client(), password="a brand new passphrase").status_code == 302
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/subscribers", headers=bearer).status_code == 200


def test_a_wrong_current_password_or_mismatch_changes_nothing(app, client, operator):  # noqa: F811
    other = app.test_client()
    post_login(other), post_login(client)
    for form, message in (
        (
            {
                "current": "not my password",
                "new": "a brand new passphrase",
                "repeated": "a brand new passphrase",
            },
            "current password is not right",
        ),
        ({"current": PASSWORD, "new": "a brand new passphrase", "repeated": "another passphrase"}, "differ"),
        ({"current": PASSWORD, "new": "short", "repeated": "short"}, "at least 10"),
        ({"current": PASSWORD}, "Fill in"),
    ):
        response = client.post("/admin/account/password", data={**form, "csrf_token": _csrf(client)})
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert _logged_in(other) and _logged_in(client)
    assert post_login(app.test_client()).status_code == 302


def test_sign_out_everywhere(app, client, operator):  # noqa: F811
    other = app.test_client()
    post_login(other), post_login(client)
    page = client.get("/admin/account").get_data(as_text=True)
    assert page.count("<tr><td>") == 2 and "this one" in page
    response = client.post("/admin/account/sign-out-everywhere", data={"csrf_token": _csrf(client)})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/login"
    assert not _logged_in(client) and not _logged_in(other)


def test_a_session_ends_after_its_maximum_age(app, client, session, operator):  # noqa: F811
    post_login(client)
    row = session.scalars(select(OperatorSession)).one()
    row.created_at = row.created_at - auth.SESSION_MAX_AGE - dt.timedelta(minutes=1)
    session.commit()
    assert not _logged_in(client)


def test_a_session_cookie_from_before_server_side_sessions_logs_nobody_in(app, operator):  # noqa: F811
    old = app.test_client()
    with old.session_transaction() as s:
        s["operator_id"] = operator.id  # what a login wrote before
    assert not _logged_in(old)
