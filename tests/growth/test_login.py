"""Operator login: where it sends you afterwards."""

from __future__ import annotations

import re

import pytest
from flask import g

from growth import auth
from tests.conftest import REDIS_URL

PASSWORD = "correct horse battery"


def csrf_of(page) -> str:  # type: ignore[no-untyped-def]
    found = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data)
    assert found, page.data[:500]
    return found.group(1).decode()


def post_login(client, email: str = "op@example.com", password: str = PASSWORD, query: str = ""):  # type: ignore[no-untyped-def]
    g.pop("csrf_token", None)  # flask-wtf caches it in g, which the test's app context keeps
    token = csrf_of(client.get("/admin/login"))
    return client.post(
        f"/admin/login{query}", data={"email": email, "password": password, "csrf_token": token}
    )


@pytest.fixture
def operator(session):  # type: ignore[no-untyped-def]
    op = auth.create_operator(session, "op@example.com", PASSWORD)
    session.commit()
    return op


@pytest.mark.parametrize(
    "query",
    [
        "?next=/%09/evil.example",
        "?next=/\t/evil.example",
        "?next=/%0D%0A/x",
        "?next=/%5Cevil.example",
        "?next=/\\evil.example",
        "?next=%2F%2Fevil.example",
        "?next=https://evil.example/admin/",
        "?next=/%2F%2Fevil.example",
        "?next=/admin/%0D%0ASet-Cookie:x=1",
    ],
)
def test_next_off_site_or_malformed_goes_to_the_dashboard(client, operator, query):
    response = post_login(client, query=query)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


def test_next_same_site_path_is_followed(client, operator):
    response = post_login(client, query="?next=/admin/posts%3Fpage%3D2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/posts?page=2"


def _from(client, ip: str):  # type: ignore[no-untyped-def]
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def test_ten_wrong_passwords_for_one_account_from_one_ip_answer_429(app, client, operator):
    _from(client, "203.0.113.7")
    for _ in range(10):
        assert post_login(client, password="wrong password").status_code == 401
    blocked = post_login(client)  # even the right password, for now
    page = blocked.get_data(as_text=True)
    assert blocked.status_code == 429
    assert "Too many attempts, try again later" in page
    assert 'name="password"' in page and 'name="csrf_token"' in page  # the form stays
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    assert client.get("/admin/").status_code == 302  # not logged in
    # a stranger elsewhere has not locked the account for everyone
    elsewhere = _from(app.test_client(), "198.51.100.9")
    assert post_login(elsewhere).status_code == 302


def test_thirty_failures_from_one_ip_block_it_for_every_account(app, client, session, operator):
    auth.create_operator(session, "other@example.com", PASSWORD)
    session.commit()
    _from(client, "203.0.113.8")
    for i in range(30):
        assert post_login(client, email=f"guess{i}@example.com", password="x" * 10).status_code == 401
    assert post_login(client, email="other@example.com").status_code == 429
    assert post_login(_from(app.test_client(), "203.0.113.9"), email="other@example.com").status_code == 302


def test_a_right_password_forgets_the_accounts_failures(client, operator):
    for _ in range(2):
        for _ in range(9):
            assert post_login(client, password="wrong password").status_code == 401
        assert post_login(client).status_code == 302


def test_the_window_is_fifteen_minutes(monkeypatch):
    import time

    from growth.throttle import LoginThrottle

    throttle = LoginThrottle("memory://", "test-window")
    now = [1_800_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    for _ in range(10):
        throttle.failed("op@example.com", "192.0.2.1")
    assert throttle.retry_after("op@example.com", "192.0.2.1") == 15 * 60
    assert throttle.retry_after("OP@example.com ", "192.0.2.1") is not None
    assert throttle.retry_after("op@example.com", "192.0.2.2") is None
    now[0] += 15 * 60 + 1
    assert throttle.retry_after("op@example.com", "192.0.2.1") is None


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")
def test_with_redis_the_count_is_shared_by_every_process():
    import uuid

    from growth.throttle import LoginThrottle

    prefix = f"test-{uuid.uuid4().hex[:8]}"
    one, two = LoginThrottle(REDIS_URL, prefix), LoginThrottle(REDIS_URL, prefix)  # two workers
    assert type(one.storage).__name__ == "RedisStorage"
    try:
        for throttle in (one, two) * 5:
            throttle.failed("op@example.com", "192.0.2.1")
        assert one.retry_after("op@example.com", "192.0.2.1") is not None
        assert two.retry_after("op@example.com", "192.0.2.1") is not None
    finally:
        one.reset()


def test_an_unreachable_redis_lets_logins_through_and_says_so(caplog):
    from growth.throttle import LoginThrottle

    throttle = LoginThrottle("redis://127.0.0.1:1/0", "test-down")  # nothing listens there
    throttle.failed("op@example.com", "192.0.2.1")
    throttle.succeeded("op@example.com", "192.0.2.1")
    assert throttle.retry_after("op@example.com", "192.0.2.1") is None
    assert "login throttle unavailable" in caplog.text
