"""Newsletters: create, rename, describe, sender name, reply-to, archive, from the admin, API and CLI."""

from __future__ import annotations

import re

import pytest
from flask import g
from sqlalchemy import select

from growth import auth, newsletters
from growth.db import utcnow
from growth.models import Newsletter
from growth.subscribers import default_newsletter
from tests.growth.helpers import link_in, login_as, messages, signup, signup_and_confirm


@pytest.fixture
def token(session):  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "boss@example.com", "long enough pw", "admin")
    made = auth.create_token(session, operator)
    session.commit()
    return {"Authorization": f"Bearer {made}"}


def _csrf(client, path: str) -> str:  # type: ignore[no-untyped-def]
    g.pop("csrf_token", None)
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_api_creates_renames_archives_and_restores(client, session, token):
    created = client.post(
        "/api/v1/newsletters",
        json={"name": "Friday Notes!", "description": "Weekend reading", "reply_to": "Ed@Example.com"},
        headers=token,
    )
    assert created.status_code == 201, created.json
    body = created.json
    assert (body["slug"], body["reply_to"], body["archived_at"]) == ("friday-notes", "Ed@example.com", None)
    nid = body["id"]
    patched = client.patch(
        f"/api/v1/newsletters/{nid}", json={"name": "Friday", "sender_name": "Ed at Friday"}, headers=token
    )
    assert patched.status_code == 200
    assert (patched.json["name"], patched.json["sender_name"], patched.json["slug"]) == (
        "Friday",
        "Ed at Friday",
        "friday-notes",
    )
    archived = client.post(f"/api/v1/newsletters/{nid}/archive", headers=token)
    assert archived.status_code == 200 and archived.json["archived_at"]
    again = client.post(f"/api/v1/newsletters/{nid}/archive", headers=token)
    assert again.json["archived_at"] == archived.json["archived_at"]  # idempotent
    listed = {n["slug"]: n for n in client.get("/api/v1/newsletters", headers=token).json["newsletters"]}
    assert listed["friday-notes"]["archived_at"] and listed["main"]["is_default"]
    restored = client.post(f"/api/v1/newsletters/{nid}/restore", headers=token)
    assert restored.json["archived_at"] is None


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "code"),
    [
        ("post", "/api/v1/newsletters", {}, 400, "missing_field"),
        ("post", "/api/v1/newsletters", {"name": ""}, 400, "invalid_field"),
        ("post", "/api/v1/newsletters", {"name": "x", "slug": "Bad Slug"}, 400, "invalid_field"),
        ("post", "/api/v1/newsletters", {"name": "x", "reply_to": "nope"}, 422, "invalid_reply_to"),
        ("post", "/api/v1/newsletters", {"name": "x", "colour": 1}, 400, "invalid_field"),
        ("post", "/api/v1/newsletters", {"name": "Main", "slug": "main"}, 409, "slug_taken"),
        ("patch", "/api/v1/newsletters/987654", {"name": "x"}, 404, "not_found"),
        ("patch", "/api/v1/newsletters/99999999999", {"name": "x"}, 404, "not_found"),
    ],
)
def test_api_refuses_bad_input_with_the_envelope(client, session, token, method, path, payload, status, code):
    default_newsletter(session)
    session.commit()
    response = getattr(client, method)(path, json=payload, headers=token)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code


def test_the_default_newsletter_cannot_be_archived(client, session, token):
    main = default_newsletter(session)
    session.commit()
    response = client.post(f"/api/v1/newsletters/{main.id}/archive", headers=token)
    assert response.status_code == 409 and response.json["error"]["code"] == "default_newsletter"


def test_readers_are_offered_each_active_newsletter_and_never_an_archived_one(client, session, outbox):
    main = default_newsletter(session)
    weekly = newsletters.create_newsletter(session, {"name": "Weekly Digest"}, utcnow())
    old = newsletters.create_newsletter(session, {"name": "Old Letters"}, utcnow())
    newsletters.archive_newsletter(session, old, utcnow())
    session.commit()
    form = client.get("/subscribe").get_data(as_text=True)
    embed = client.get("/embed.html").get_data(as_text=True)
    for page in (form, embed):
        assert 'value="weekly-digest"' in page and 'value="main"' in page
        assert "Old Letters" not in page
    refused = signup(client, "ana@example.com", newsletters=["old-letters"])
    assert refused.status_code == 422 and refused.json["error"]["code"] == "unknown_newsletter"
    assert (
        signup_and_confirm(client, outbox, "bo@example.com", newsletters=["weekly-digest"]).status_code == 200
    )
    [welcome] = messages(outbox, "welcome")
    manage = client.get(link_in(welcome, "/me/")).get_data(as_text=True)
    assert f'value="{weekly.id}"' in manage and f'value="{main.id}"' in manage
    assert "Old Letters" not in manage


def test_admin_pages_create_edit_and_archive(client, session):
    admin = auth.create_operator(session, "boss@example.com", "long enough pw", "admin")
    session.commit()
    login_as(client, admin)
    made = client.post(
        "/admin/newsletters",
        data={"name": "Deep Dives", "csrf_token": _csrf(client, "/admin/newsletters")},
    )
    assert made.status_code == 302
    newsletter = session.scalars(select(Newsletter).where(Newsletter.slug == "deep-dives")).one()
    page = f"/admin/newsletters/{newsletter.id}"
    saved = client.post(
        page,
        data={
            "name": "Deeper Dives",
            "description": "Long reads",
            "sender_name": "Deep Desk",
            "reply_to": "bad",
            "csrf_token": _csrf(client, page),
        },
    )
    assert saved.status_code == 422 and "reply-to" in saved.get_data(as_text=True)
    saved = client.post(
        page,
        data={
            "name": "Deeper Dives",
            "description": "Long reads",
            "sender_name": "Deep Desk",
            "reply_to": "",
            "csrf_token": _csrf(client, page),
        },
    )
    assert saved.status_code == 302
    session.refresh(newsletter)
    assert (newsletter.name, newsletter.description, newsletter.sender_name) == (
        "Deeper Dives",
        "Long reads",
        "Deep Desk",
    )
    client.post(f"{page}/archive", data={"csrf_token": _csrf(client, page)})
    session.refresh(newsletter)
    assert newsletter.archived_at is not None
    listing = client.get("/admin/newsletters").get_data(as_text=True)
    assert "Deeper Dives" in listing and "archived" in listing
    no_csrf = client.post(f"{page}/archive", data={"restore": "1"})
    assert no_csrf.status_code in (400, 403)


def test_cli_creates_updates_archives_lists(app, session):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["newsletters", "create", "Morning Brief", "--reply-to", "am@example.com"])
    assert made.exit_code == 0, made.output
    assert runner.invoke(args=["newsletters", "update", "morning-brief", "--name", "Morning"]).exit_code == 0
    assert runner.invoke(args=["newsletters", "archive", "morning-brief"]).exit_code == 0
    listed = runner.invoke(args=["newsletters", "list"]).output
    assert re.search(r"morning-brief\tMorning\t0 active, 0 pending\tarchived", listed), listed
    missing = runner.invoke(args=["newsletters", "archive", "nothing"])
    assert missing.exit_code != 0 and "no newsletter" in missing.output
    taken = runner.invoke(args=["newsletters", "create", "Morning", "--slug", "morning-brief"])
    assert taken.exit_code != 0 and "exists" in taken.output
