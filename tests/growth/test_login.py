"""Operator login: where it sends you afterwards."""

from __future__ import annotations

import re

import pytest
from flask import g

from growth import auth

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
