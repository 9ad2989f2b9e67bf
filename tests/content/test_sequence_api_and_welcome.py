"""The welcome series (no double welcome), the sequences API and OpenAPI, the admin pages."""

from __future__ import annotations

import datetime as dt

from flask import g
from sqlalchemy import select

from content import sequence_engine, sequences
from content.sequence_models import ClaimState, Enrolment, StepClaim
from growth import auth
from growth.db import commit, utcnow
from growth.models import Subscriber
from tests.content.conftest import csrf_from
from tests.growth.helpers import link_in, login_as, messages, signup_and_confirm


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_welcome_is_the_welcome_series_first_step_and_comes_once(client, session, outbox, creator_token):  # type: ignore[no-untyped-def]
    h = bearer(creator_token)
    listed = client.get("/api/v1/sequences", headers=h).get_json()["sequences"]
    welcome = next(s for s in listed if s["welcome"])
    assert welcome["holdout_percent"] == 0 and welcome["trigger"] == "confirmed"
    first = welcome["steps"][0]
    second = {"subject": "A week in", "body": "What we wrote so far.", "delay_minutes": 0, "kind": "value"}
    edited = client.patch(
        f"/api/v1/sequences/{welcome['id']}",
        json={
            "steps": [
                {**first, "subject": "Hello from us", "body": "You're *in*."} | {"id": first["id"]},
                second,
            ]
        },
        headers=h,
    )
    assert edited.status_code == 200, edited.get_json()
    assert signup_and_confirm(client, outbox).status_code == 200
    [mail] = messages(outbox, "welcome")
    assert mail["Subject"] == "Hello from us"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/r/" in link_in(mail, "/r/")  # the referral link is still there
    sub = session.scalars(select(Subscriber).where(Subscriber.email_normalized == "ana@example.com")).one()
    claim = session.scalars(select(StepClaim).where(StepClaim.subscriber_id == sub.id)).one()
    assert claim.state == ClaimState.WELCOME and claim.step_id == first["id"]
    # Ticks later: the second step once (the welcome does not count towards the daily cap), no second welcome.
    for minutes in (1, 2, 3):
        sequence_engine.run_sequences(session, utcnow() + dt.timedelta(minutes=minutes))
    assert len(messages(outbox, "welcome")) == 1
    assert [m["Subject"] for m in messages(outbox, "sequence")] == ["A week in"]
    # Confirming again sends nothing and enrols nobody twice.
    confirmation = messages(outbox, "confirmation")[-1]
    client.get(link_in(confirmation, "/confirm/"))
    assert len(messages(outbox, "welcome")) == 1
    assert len(list(session.scalars(select(Enrolment).where(Enrolment.subscriber_id == sub.id)))) == 1


def test_a_paused_welcome_series_falls_back_to_the_built_in_welcome(client, session, outbox):  # type: ignore[no-untyped-def]
    welcome = sequences.ensure_welcome_sequence(session)
    sequences.set_active(session, welcome, False, utcnow())
    commit()
    signup_and_confirm(client, outbox)
    [mail] = messages(outbox, "welcome")
    assert mail["Subject"] == "Welcome to Masthead"
    assert session.scalars(select(Enrolment)).all() == []


def test_create_read_and_change_a_sequence_through_the_api(client, session, creator_token):  # type: ignore[no-untyped-def]
    h = bearer(creator_token)
    body = {
        "name": "Nurture",
        "trigger": "stage:engaged",
        "steps": [
            {
                "subject": "One",
                "preview": "p",
                "body": "Hi <script>x()</script>",
                "delay_minutes": 0,
                "kind": "value",
            },
            {"subject": "Buy", "preview": "", "body": "Paid tier", "delay_minutes": 1440, "kind": "pitch"},
        ],
    }
    created = client.post("/api/v1/sequences", json=body, headers=h)
    assert created.status_code == 201, created.get_json()
    seq = created.get_json()
    assert seq["id"] and seq["active"] is True and seq["newsletter"] == "main" and seq["holdout_percent"] == 5
    assert "<script" not in seq["steps"][0]["body_html"]
    one, buy = seq["steps"]
    # Reorder and pause in one PATCH; the step ids stay.
    changed = client.patch(
        f"/api/v1/sequences/{seq['id']}",
        json={
            "active": False,
            "steps": [{"id": buy["id"], "subject": "Buy"}, {"id": one["id"], "subject": "One"}],
        },
        headers=h,
    ).get_json()
    assert changed["active"] is False and [s["id"] for s in changed["steps"]] == [buy["id"], one["id"]]
    assert changed["steps"][0]["delay_minutes"] == 1440 and changed["steps"][0]["kind"] == "pitch"  # kept
    got = client.get(f"/api/v1/sequences/{seq['id']}", headers=h).get_json()
    assert got["steps"][0]["stats"]["claimed"] == {} and got["enrolments"]["active"] == 0
    archived = client.patch(f"/api/v1/sequences/{seq['id']}", json={"archived": True}, headers=h).get_json()
    assert archived["archived"] is True
    again = client.patch(f"/api/v1/sequences/{seq['id']}", json={"name": "x"}, headers=h)
    assert again.status_code == 409
    assert (
        client.post("/api/v1/sequences", json={**body, "active": False}, headers=h).get_json()["active"]
        is False
    )


def test_bad_sequence_input_answers_4xx_with_an_error_body(client, session, creator_token):  # type: ignore[no-untyped-def]
    h = bearer(creator_token)
    ok = {"name": "N", "trigger": "confirmed", "steps": [{"subject": "S"}]}
    cases = [
        ({**ok, "newsletter": "nope"}, 422),
        ({**ok, "trigger": "sometimes"}, 400),
        ({**ok, "holdout_percent": 60}, 400),
        ({**ok, "steps": [{"subject": ""}]}, 400),
        ({**ok, "steps": [{"subject": "S", "kind": "spam"}]}, 400),
        ({**ok, "steps": [{"subject": "S", "condition": "stage:nowhere"}]}, 422),
        ({**ok, "steps": [{"subject": "S", "window_start_hour": 9}]}, 422),
        ({**ok, "steps": [{"subject": "S", "window_days": [0]}]}, 400),
        ({"trigger": "confirmed"}, 400),
    ]
    for payload, status in cases:
        response = client.post("/api/v1/sequences", json=payload, headers=h)
        assert response.status_code == status, (payload, response.get_json())
        assert set(response.get_json()["error"]) == {"code", "message"}
    assert client.post("/api/v1/sequences", data="not json", headers=h).status_code == 400
    assert client.get("/api/v1/sequences/999999", headers=h).status_code == 404
    created = client.post("/api/v1/sequences", json=ok, headers=h).get_json()
    unknown_step = client.patch(
        f"/api/v1/sequences/{created['id']}", json={"steps": [{"id": 999999, "subject": "x"}]}, headers=h
    )
    assert unknown_step.status_code == 422
    assert client.get("/api/v1/sequences").status_code == 401


def test_the_sequences_api_is_in_the_openapi_document(client):  # type: ignore[no-untyped-def]
    doc = client.get("/api/v1/openapi.json").get_json()
    assert {"get", "post"} <= set(doc["paths"]["/api/v1/sequences"])
    assert {"get", "patch"} <= set(doc["paths"]["/api/v1/sequences/{sequence_id}"])
    assert "SequenceCreate" in doc["components"]["schemas"]


def test_the_admin_pages_create_edit_reorder_and_pause(client, session):  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "creator@example.com", "a-long-password", "creator")
    session.commit()
    assert client.get("/admin/sequences").status_code == 302  # to the login page
    g.pop("operator", None)  # the test's app context outlives requests; forget the anonymous one
    login_as(client, operator)
    listing = client.get("/admin/sequences")
    assert listing.status_code == 200 and "Welcome" in listing.text
    token = csrf_from(listing.text)
    made = client.post(
        "/admin/sequences",
        data={
            "name": "Onboarding",
            "trigger": "confirmed",
            "newsletter": "main",
            "holdout_percent": "5",
            "active": "on",
            "csrf_token": token,
        },
    )
    assert made.status_code == 302
    path = made.headers["Location"]
    for subject in ("First", "Second"):
        added = client.post(
            f"{path}/steps/new",
            data={
                "subject": subject,
                "body": "Hello",
                "delay_minutes": "60",
                "kind": "value",
                "window_days": ["1", "2"],
                "csrf_token": token,
            },
        )
        assert added.status_code == 302
    bad = client.post(
        f"{path}/steps/new", data={"subject": "x", "delay_minutes": "soon", "csrf_token": token}
    )
    assert bad.status_code == 422 and "whole number" in bad.text
    shown = client.get(path)
    assert shown.status_code == 200 and "First" in shown.text and "Second" in shown.text
    sequence_id = int(path.rstrip("/").split("/")[-1])
    seq = sequences.get_sequence(session, sequence_id)
    session.refresh(seq)
    first, second = seq.live_steps
    assert first.window_days == [1, 2]
    client.post(f"{path}/steps/{second.id}/move", data={"action": "up", "csrf_token": token})
    client.post(f"{path}/state", data={"action": "pause", "csrf_token": token})
    session.expire_all()
    seq = sequences.get_sequence(session, sequence_id)
    assert [s.subject for s in seq.live_steps] == ["Second", "First"] and seq.active is False
    assert client.get(f"{path}/steps/{first.id}").status_code == 200


def test_sequence_text_follows_the_field_rules(client, session, creator_token):  # type: ignore[no-untyped-def]
    """A NUL or a line break in a name, subject or preview is refused, as on posts."""
    h = bearer(creator_token)
    step = {"subject": "Hi", "body": "Hello", "delay_minutes": 0, "kind": "value"}
    for bad in (
        {"name": "a\u0000b", "steps": [step]},
        {"name": "crlf\r\nname", "steps": [step]},
        {"name": "ok", "steps": [{**step, "subject": "Hi\r\nBcc: x@evil.example"}]},
        {"name": "ok", "steps": [{**step, "preview": "pre\nview"}]},
        {"name": "ok", "steps": [{**step, "body": "nul \u0000 body"}]},
    ):
        answer = client.post("/api/v1/sequences", json={"trigger": "confirmed", **bad}, headers=h)
        assert answer.status_code == 400, bad
        assert answer.get_json()["error"]["code"] == "invalid_field"
    created = client.post(
        "/api/v1/sequences", json={"name": "ok", "trigger": "confirmed", "steps": [step]}, headers=h
    )
    assert created.status_code == 201
    patched = client.patch(f"/api/v1/sequences/{created.get_json()['id']}", json={"name": "x\ty"}, headers=h)
    assert patched.status_code == 400
