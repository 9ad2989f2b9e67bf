"""CSV import: validation by line, idempotent, never resurrects an unsubscribed reader."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from growth import auth
from growth.models import Consent, Subscriber, SubscriberEvent
from tests.growth.helpers import messages, signup_and_confirm

CSV = (
    "Email,Name,utm_source\n"
    "ana@example.com,Ana,podcast\n"
    "not-an-email,Bad,\n"
    "BEN@example.com,Ben,\n"
    "ana@example.com,Ana again,\n"
)


@pytest.fixture
def admin(session) -> dict[str, str]:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "admin@example.com", "long enough pw", "admin")
    token = auth.create_token(session, operator)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def post_csv(client, headers, body: str, query: str = ""):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/subscribers/import{query}",
        data=body.encode(),
        headers={**headers, "Content-Type": "text/csv"},
    )


def test_import_confirmed_creates_active_and_reports_invalid_lines(client, session, outbox, admin):
    response = post_csv(client, admin, CSV, "?confirmed=true")
    assert response.status_code == 200
    report = response.get_json()
    assert (report["created"], report["existing"], report["confirmations_queued"]) == (2, 1, 0)
    assert [(r["line"], r["email"]) for r in report["invalid"]] == [(3, "not-an-email")]
    rows = {s.email_normalized: s for s in session.scalars(select(Subscriber))}
    assert set(rows) == {"ana@example.com", "ben@example.com"}
    assert (
        rows["ana@example.com"].status,
        rows["ana@example.com"].stage,
        rows["ana@example.com"].source,
    ) == ("active", "confirmed", "import")
    assert rows["ana@example.com"].utm_source == "podcast" and rows["ana@example.com"].name == "Ana"
    assert {c.action for c in session.scalars(select(Consent))} == {"import_confirmed"}
    assert session.scalar(select(func.count()).select_from(SubscriberEvent)) == 4
    assert messages(outbox) == []


def test_import_is_idempotent(client, session, admin):
    post_csv(client, admin, CSV, "?confirmed=true")
    again = post_csv(client, admin, CSV, "?confirmed=true").get_json()
    assert (again["created"], again["existing"]) == (0, 3)
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 2


def test_unconfirmed_import_sends_double_opt_in(client, session, outbox, admin):
    report = post_csv(client, admin, "email\nnew@example.com\n").get_json()
    assert (report["created"], report["confirmations_queued"]) == (1, 1)
    assert session.scalars(select(Subscriber)).one().status == "pending"
    assert len(messages(outbox, "confirmation")) == 1


def test_import_never_resurrects_an_unsubscribed_reader(client, session, outbox, admin):
    signup_and_confirm(client, outbox, "left@example.com")
    url = messages(outbox, "welcome")[0]["List-Unsubscribe"].strip("<>").removeprefix("http://masthead.test")
    client.post(url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    report = post_csv(client, admin, "email\nleft@example.com\n", "?confirmed=true").get_json()
    assert (report["created"], report["existing"]) == (0, 1)
    session.expire_all()
    assert session.scalars(select(Subscriber)).one().status == "unsubscribed"


def test_import_errors(client, session, admin):
    assert post_csv(client, admin, "name\nAna\n").get_json()["error"]["code"] == "missing_email_column"
    bad = client.post(
        "/api/v1/subscribers/import", data=b"email\n\xff\xfe\n", headers={**admin, "Content-Type": "text/csv"}
    )
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "bad_encoding"
    unknown = post_csv(client, admin, "email\na@example.com\n", "?newsletters=nope")
    assert unknown.status_code == 422
    assert client.post("/api/v1/subscribers/import", data=b"email\n").status_code == 401
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_import_cli(app, session, tmp_path, connection):
    path = tmp_path / "list.csv"
    path.write_text("\ufeffemail,name\ncli@example.com,Cli\nnope,\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-subscribers", str(path), "--confirmed"])
    assert result.exit_code == 0, result.output
    assert "created 1" in result.output and "line 3" in result.output
    assert session.scalars(select(Subscriber)).one().status == "active"
