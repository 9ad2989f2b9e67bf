"""Custom fields: one set of rules on every path (signup form and API, CSV import, reader's page, API)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from growth import custom_fields, links
from growth.custom_fields import FieldInput, clean_value, define_field
from growth.db import utcnow
from growth.errors import Conflict, ValidationFailed
from growth.models import CustomField, FieldValue, Subscriber
from tests.growth.helpers import signup, signup_and_confirm

ROLE = FieldInput("role", "Your role", "choice", ("Editor", "Reporter", "Reader"), on_signup=True)
SIZE = FieldInput("team_size", "Team size", "number", reader_editable=True)
BORN = FieldInput("birthday", "Birthday", "date", on_signup=True, reader_editable=True)
NOTE = FieldInput("note", "Operator's note", "text")  # asked nowhere public


@pytest.fixture
def fields(session):  # type: ignore[no-untyped-def]
    made = {f.name: define_field(session, f, utcnow()) for f in (ROLE, SIZE, BORN, NOTE)}
    session.commit()
    return made


def values(session, email: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    sub = session.scalars(select(Subscriber).where(Subscriber.email_normalized == email)).one()
    return custom_fields.values_of(session, [sub.id])[sub.id]


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("text", "  Lisbon  ", "Lisbon"),
        ("text", "", None),
        ("text", None, None),
        ("number", "007", "7"),
        ("number", "-0.50", "-0.5"),
        ("number", "-0", "0"),
        ("number", 12, "12"),
        ("number", 2.5, "2.5"),
        ("date", "2026-02-28", "2026-02-28"),
        ("choice", "editor", "Editor"),  # the defined spelling
    ],
)
def test_values_are_stored_in_one_canonical_form(kind, raw, expected):  # type: ignore[no-untyped-def]
    field = CustomField(name="f", label="F", kind=kind, choices=["Editor", "Reader"])
    assert clean_value(field, raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("text", "two\nlines"),
        ("text", "x" * 501),
        ("text", "a\u2028b"),
        ("text", ["a list"]),
        ("text", True),
        ("number", "1e5"),
        ("number", "12.1234567"),
        ("number", "1" * 16),
        ("number", "١٢"),  # Arabic-Indic digits
        ("number", float("nan")),
        ("date", "2026-02-30"),
        ("date", "02/03/2026"),
        ("date", "2026-2-3"),
        ("choice", "Publisher"),
    ],
)
def test_bad_values_are_refused_naming_the_field(kind, raw):  # type: ignore[no-untyped-def]
    field = CustomField(name="f", label="F", kind=kind, choices=["Editor", "Reader"])
    with pytest.raises(ValidationFailed, match="field f"):
        clean_value(field, raw)


@pytest.mark.parametrize(
    "data",
    [
        FieldInput("Role", "R", "text"),  # upper case
        FieldInput("1st", "R", "text"),
        FieldInput("email", "R", "text"),  # reserved: a CSV column already
        FieldInput("x" * 41, "R", "text"),
        FieldInput("ok", "", "text"),
        FieldInput("ok", "R", "colour"),
        FieldInput("ok", "R", "choice"),  # no choices
        FieldInput("ok", "R", "choice", ("A", "a")),  # twice
        FieldInput("ok", "R", "text", ("A",)),  # choices on a text field
    ],
)
def test_bad_definitions_are_refused(session, data):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed):
        define_field(session, data, utcnow())


def test_a_name_is_defined_once(session, fields):  # type: ignore[no-untyped-def]
    with pytest.raises(Conflict):
        define_field(session, FieldInput("role", "Again", "text"), utcnow())


def test_the_api_defines_changes_and_lists_fields(client, session, admin_token):  # type: ignore[no-untyped-def]
    auth = {"Authorization": f"Bearer {admin_token}"}
    body = {"name": "plan", "label": "Plan", "kind": "choice", "choices": ["Pro", "Free"], "on_signup": True}
    assert client.post("/api/v1/fields", json=body).status_code == 401
    created = client.post("/api/v1/fields", json=body, headers=auth)
    assert created.status_code == 201 and created.get_json()["choices"] == ["Pro", "Free"]
    assert client.post("/api/v1/fields", json=body, headers=auth).status_code == 409
    bad = client.post("/api/v1/fields", json={**body, "name": "Plan!"}, headers=auth)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_field"
    fid = created.get_json()["id"]
    changed = client.patch(f"/api/v1/fields/{fid}", json={"choices": ["Pro", "Free", "Team"]}, headers=auth)
    assert changed.status_code == 200 and changed.get_json()["choices"] == ["Pro", "Free", "Team"]
    assert client.patch(f"/api/v1/fields/{fid}", json={"kind": "text"}, headers=auth).status_code == 400
    assert client.patch("/api/v1/fields/999999", json={"label": "x"}, headers=auth).status_code == 404
    names = [f["name"] for f in client.get("/api/v1/fields", headers=auth).get_json()["fields"]]
    assert names == ["plan"]


def test_signup_api_fills_the_fields_offered_at_signup(client, session, outbox, fields):  # type: ignore[no-untyped-def]
    ok = signup(client, "ana@example.com", fields={"role": "reporter", "birthday": "1990-05-17"})
    assert ok.status_code == 202
    assert values(session, "ana@example.com") == {"role": "Reporter", "birthday": "1990-05-17"}
    for answers, code in (
        ({"role": "Publisher"}, "invalid_field"),
        ({"note": "vip"}, "unknown_field"),  # exists, but not asked at signup
        ({"nope": "x"}, "unknown_field"),
        ({"birthday": "yesterday"}, "invalid_field"),
    ):
        refused = signup(client, "ben@example.com", fields=answers)
        assert refused.status_code == 422, answers
        assert refused.get_json()["error"]["code"] == code
    assert (
        client.post("/api/v1/subscribers", json={"email": "c@example.com", "fields": ["x"]}).status_code
        == 400
    )
    assert (
        session.scalars(select(Subscriber).where(Subscriber.email_normalized == "ben@example.com")).first()
        is None
    )


def test_a_signup_never_rewrites_a_confirmed_readers_answers(client, session, outbox, fields):  # type: ignore[no-untyped-def]
    signup_and_confirm(client, outbox, "ana@example.com", fields={"role": "Editor"})
    assert signup(client, "ana@example.com", fields={"role": "Reader"}).status_code == 202
    assert values(session, "ana@example.com") == {"role": "Editor"}


def test_the_signup_form_asks_its_fields_and_shows_errors(client, session, outbox, fields):  # type: ignore[no-untyped-def]
    page = client.get("/subscribe").get_data(as_text=True)
    assert 'name="field_role"' in page and 'name="field_birthday"' in page
    assert 'name="field_team_size"' not in page and 'name="field_note"' not in page
    bad = client.post("/subscribe", data={"email": "ana@example.com", "field_birthday": "31/12/1990"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "field birthday must be a date" in text and 'value="31/12/1990"' in text
    ok = client.post(
        "/subscribe", data={"email": "ana@example.com", "field_role": "Editor", "field_birthday": ""}
    )
    assert ok.status_code == 200
    assert values(session, "ana@example.com") == {"role": "Editor"}


def test_the_embed_asks_the_signup_fields_too(client, session, outbox, fields):  # type: ignore[no-untyped-def]
    page = client.get("/embed.html").get_data(as_text=True)
    assert 'name="field_role"' in page and 'name="field_team_size"' not in page
    ok = client.post("/subscribe", data={"email": "eve@example.com", "form": "embed", "field_role": "Editor"})
    assert ok.status_code == 200
    assert values(session, "eve@example.com") == {"role": "Editor"}


def test_csv_import_fills_columns_named_after_fields(client, session, admin_token, fields):  # type: ignore[no-untyped-def]
    body = (
        "email,role,team_size,unknown_column\n"
        "a@example.com,editor,12,x\n"
        "b@example.com,boss,3,\n"
        "c@example.com,,,\n"
    )
    answer = client.post(
        "/api/v1/subscribers/import?confirmed=true",
        data=body.encode(),
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "text/csv"},
    ).get_json()
    assert answer["created"] == 2
    assert [(r["line"], r["email"]) for r in answer["invalid"]] == [(3, "b@example.com")]
    assert "field role must be one of" in answer["invalid"][0]["reason"]
    assert values(session, "a@example.com") == {"role": "Editor", "team_size": "12"}
    assert values(session, "c@example.com") == {}


def test_the_readers_page_edits_only_their_fields(client, session, outbox, fields):  # type: ignore[no-untyped-def]
    signup_and_confirm(client, outbox, "ana@example.com")
    sub = session.scalars(select(Subscriber).where(Subscriber.email_normalized == "ana@example.com")).one()
    path = f"/me/{links.manage_token(sub)}"
    page = client.get(path).get_data(as_text=True)
    assert (
        'name="field_team_size"' in page
        and 'name="field_birthday"' in page
        and 'name="field_role"' not in page
    )
    saved = client.post(
        path, data={"action": "fields", "field_team_size": "4", "field_birthday": "1990-01-02"}
    )
    assert saved.status_code == 200 and "Your answers are saved." in saved.get_data(as_text=True)
    assert values(session, "ana@example.com") == {"team_size": "4", "birthday": "1990-01-02"}
    assert client.post(path, data={"action": "fields", "field_team_size": "four"}).status_code == 422
    assert client.post(path, data={"action": "fields", "field_role": "Editor"}).status_code == 422
    cleared = client.post(path, data={"action": "fields", "field_team_size": ""})
    assert cleared.status_code == 200
    assert values(session, "ana@example.com") == {"birthday": "1990-01-02"}


def test_the_api_sets_and_shows_a_readers_fields(client, session, outbox, admin_token, fields):  # type: ignore[no-untyped-def]
    auth = {"Authorization": f"Bearer {admin_token}"}
    signup(client, "ana@example.com")
    sub = session.scalars(select(Subscriber).where(Subscriber.email_normalized == "ana@example.com")).one()
    url = f"/api/v1/subscribers/{sub.id}/fields"
    assert client.put(url, json={"note": "met at the fair"}).status_code == 401
    done = client.put(url, json={"note": "met at the fair", "team_size": 7}, headers=auth)
    assert done.status_code == 200 and done.get_json()["fields"] == {
        "note": "met at the fair",
        "team_size": "7",
    }
    assert client.put(url, json={"team_size": "many"}, headers=auth).status_code == 422
    assert client.put(url, json={"team_size": None}, headers=auth).status_code == 200
    shown = client.get(f"/api/v1/subscribers/{sub.id}", headers=auth).get_json()
    assert shown["fields"] == {"note": "met at the fair"}
    listed = client.get("/api/v1/subscribers", headers=auth).get_json()["subscribers"]
    assert listed[0]["fields"] == {"note": "met at the fair"}
    assert client.put("/api/v1/subscribers/999999/fields", json={}, headers=auth).status_code == 404
    assert len(list(session.scalars(select(FieldValue)))) == 1


def test_answers_are_in_the_readers_data_and_erased_with_them(client, session, outbox, admin_token, fields):  # type: ignore[no-untyped-def]
    from growth import privacy

    signup(client, "ana@example.com", fields={"role": "Editor"})
    sub = session.scalars(select(Subscriber).where(Subscriber.email_normalized == "ana@example.com")).one()
    document = privacy.export_subscriber(session, sub, utcnow())
    assert [(p["field"], p["value"], p["given_through"]) for p in document["fields"]] == [
        ("role", "Editor", "signup")
    ]
    privacy.erase_subscriber(session, sub, utcnow())
    session.commit()
    assert list(session.scalars(select(FieldValue))) == []


def test_the_admin_defines_and_edits_fields_and_sees_answers(client, session, outbox):  # type: ignore[no-untyped-def]
    import re

    from flask import g

    from growth import auth
    from tests.growth.helpers import login_as

    admin = auth.create_operator(session, "boss@example.com", "long enough pw", "admin")
    session.commit()
    login_as(client, admin)
    g.pop("csrf_token", None)
    page = client.get("/admin/fields").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {
        "csrf_token": token,
        "name": "role",
        "label": "Role",
        "kind": "choice",
        "choices": "Editor\n\nReader\n",
    }
    assert client.post("/admin/fields", data={**form, "on_signup": "on"}).status_code == 302
    again = client.post("/admin/fields", data=form)
    assert again.status_code == 409 and "exists" in again.get_data(as_text=True)
    bad = client.post("/admin/fields", data={**form, "name": "Bad Name"})
    assert bad.status_code == 422 and 'value="Role"' in bad.get_data(as_text=True)
    field = session.scalars(select(CustomField)).one()
    assert field.choices == ["Editor", "Reader"] and field.on_signup
    saved = client.post(
        f"/admin/fields/{field.id}", data={"csrf_token": token, "label": "Your role", "choices": "Editor"}
    )
    assert saved.status_code == 302
    session.expire_all()
    assert (field.label, field.choices, field.on_signup) == ("Your role", ["Editor"], False)
    assert client.post("/admin/fields/999999", data={"csrf_token": token, "label": "x"}).status_code == 404

    signup(client, "ana@example.com")
    sub = session.scalars(select(Subscriber).where(Subscriber.email_normalized == "ana@example.com")).one()
    custom_fields.set_values(session, sub.id, {field.id: "Editor"}, "admin", utcnow())
    session.commit()
    shown = client.get(f"/admin/subscribers/{sub.id}").get_data(as_text=True)
    assert "<dt>role</dt><dd>Editor</dd>" in shown
