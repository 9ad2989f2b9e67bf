"""Helpers for growth tests: links out of emails."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import read_outbox, text_of


def messages(outbox: Path, kind: str | None = None):  # type: ignore[no-untyped-def]
    return [m for m in read_outbox(outbox) if kind is None or m["X-Masthead-Kind"] == kind]


def link_in(message, prefix: str) -> str:  # type: ignore[no-untyped-def]
    """The first link starting with BASE_URL + prefix in the text part, as a path."""
    found = re.search(r"http://masthead\.test(" + re.escape(prefix) + r"\S+)", text_of(message))
    assert found, f"no {prefix} link in:\n{text_of(message)}"
    return found.group(1)


def signup(client, email: str = "ana@example.com", **extra):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/subscribers", json={"email": email, **extra})


def signup_and_confirm(client, outbox: Path, email: str = "ana@example.com", **extra):  # type: ignore[no-untyped-def]
    assert signup(client, email, **extra).status_code == 202
    confirmation = [m for m in messages(outbox, "confirmation") if email in m["To"]][-1]
    return client.get(link_in(confirmation, "/confirm/"))


def login_as(client, operator) -> str:  # type: ignore[no-untyped-def]
    """Give the test client a logged-in session for this operator (no form, no throttle)."""
    from growth import auth
    from growth.db import db

    secret = auth.start_session(db.session, operator, "127.0.0.1", "tests")
    db.session.commit()
    with client.session_transaction() as s:
        s[auth.SESSION_KEY] = secret
    return secret
