"""The subscriber list as CSV: the JSON list's filters, the formula guard, admins only, streamed."""

from __future__ import annotations

import csv
import io
import types

import pytest
from sqlalchemy import event

from growth import auth, exports
from growth.db import utcnow
from growth.models import Subscriber
from tests.growth.helpers import login_as, signup, signup_and_confirm


@pytest.fixture
def tokens(session):  # type: ignore[no-untyped-def]
    admin = auth.create_operator(session, "admin@example.com", "correct horse battery", "admin")
    creator = auth.create_operator(session, "creator@example.com", "correct horse battery", "creator")
    values = {
        "admin": {"Authorization": f"Bearer {auth.create_token(session, admin)}"},
        "creator": {"Authorization": f"Bearer {auth.create_token(session, creator)}"},
    }
    session.commit()
    return types.SimpleNamespace(admin_op=admin, creator_op=creator, **values)


def rows_of(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_csv_has_the_json_lists_filters_and_guards_formulas(client, outbox, session, tokens):
    signup_and_confirm(client, outbox, "one@example.com", name='=HYPERLINK("http://evil")')
    signup(client, "two@example.com", name="@SUM(A1)")
    signup(client, "three@example.com", name="Plain")
    everyone = client.get("/api/v1/subscribers?format=csv", headers=tokens.admin)
    assert everyone.status_code == 200
    assert everyone.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert everyone.get_data(as_text=True).splitlines()[0] == ",".join(exports.HEADER)
    rows = rows_of(everyone)
    assert [r["email"] for r in rows] == ["one@example.com", "two@example.com", "three@example.com"]
    assert [r["name"] for r in rows] == ['\'=HYPERLINK("http://evil")', "'@SUM(A1)", "Plain"]
    active = rows_of(client.get("/api/v1/subscribers?format=csv&status=active", headers=tokens.admin))
    assert [r["email"] for r in active] == ["one@example.com"]
    json_active = client.get("/api/v1/subscribers?status=active", headers=tokens.admin).get_json()
    assert [s["email"] for s in json_active["subscribers"]] == [r["email"] for r in active]
    by_email = rows_of(
        client.get("/api/v1/subscribers?format=csv&email=TWO@Example.com", headers=tokens.admin)
    )
    assert [(r["email"], r["status"]) for r in by_email] == [("two@example.com", "pending")]
    for bad, code in (("format=csv&status=nope", 400), ("format=xml", 400), ("format=csv&email=nobody", 422)):
        answer = client.get(f"/api/v1/subscribers?{bad}", headers=tokens.admin)
        assert answer.status_code == code and answer.get_json()["error"]["code"], bad


def test_only_admins_export_the_list(client, outbox, session, tokens):
    signup(client, "one@example.com")
    assert client.get("/api/v1/subscribers?format=csv", headers=tokens.creator).status_code == 403
    assert client.get("/api/v1/subscribers?format=csv").status_code == 401
    assert client.get("/admin/subscribers.csv").status_code == 302  # to the login page
    login_as(client, tokens.creator_op)
    assert client.get("/admin/subscribers.csv").status_code == 403
    login_as(client, tokens.admin_op)
    page = client.get("/admin/")
    assert b"/admin/subscribers.csv" in page.data
    answer = client.get("/admin/subscribers.csv?status=pending")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert [r["email"] for r in rows_of(answer)] == ["one@example.com"]
    assert client.get("/admin/subscribers.csv?status=nope").status_code == 400


def test_the_openapi_document_declares_the_csv_answer(client):
    operation = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/subscribers"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert "format" in {p["name"] for p in operation["parameters"]}


def test_the_export_reads_one_page_at_a_time(app, session):
    now = utcnow()
    for n in range(5):
        session.add(
            Subscriber(
                email=f"s{n}@example.com",
                email_normalized=f"s{n}@example.com",
                referral_code=f"code{n}",
                created_at=now,
            )
        )
    session.flush()
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        rows = exports.iter_subscriber_rows(session, [], page_size=2)
        assert isinstance(rows, types.GeneratorType) and statements == []  # nothing read yet
        first = next(rows)
        assert first[1] == "s0@example.com" and len(statements) == 1
        rest = list(rows)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [r[1] for r in rest] == [f"s{n}@example.com" for n in range(1, 5)]
    # pages of 2, 2 and 1: three bounded queries, each starting after the last id seen
    assert len(statements) == 3 and all("LIMIT" in s.upper() for s in statements)
    # nothing kept in the session: plain tuples, no ORM objects
    assert not any(isinstance(r, Subscriber) for r in [first, *rest])
