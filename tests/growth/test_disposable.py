"""Throwaway addresses: refused on every signup path by default, accepted with DISPOSABLE_EMAILS=allow."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from growth import auth
from growth.config import Config, ConfigError
from growth.models import Subscriber
from tests.growth.helpers import messages

THROWAWAY = "someone@mailinator.com"


def count(session) -> int:  # type: ignore[no-untyped-def]
    return int(session.scalar(select(func.count()).select_from(Subscriber)) or 0)


def test_the_api_refuses_a_throwaway_address_with_a_clear_422(client, session, outbox):
    response = client.post("/api/v1/subscribers", json={"email": THROWAWAY})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "disposable_email" and "permanent address" in error["message"]
    assert count(session) == 0 and messages(outbox) == []


@pytest.mark.parametrize("form", ["subscribe_page", "embed"])
def test_the_form_and_the_embed_refuse_a_throwaway_address(client, session, outbox, form):
    response = client.post("/subscribe", data={"email": "x@sub.mailinator.com", "form": form})
    assert response.status_code == 422
    assert b"permanent address" in response.data and b'value="x@sub.mailinator.com"' in response.data
    assert count(session) == 0 and messages(outbox) == []


def test_an_ordinary_address_is_not_mistaken_for_a_throwaway(client, session, outbox):
    assert client.post("/api/v1/subscribers", json={"email": "ana@example.com"}).status_code == 202
    assert len(messages(outbox, "confirmation")) == 1


def test_allow_accepts_the_signup_and_sends_the_confirmation(app_factory, session, outbox):
    client = app_factory(disposable_emails="allow", outbox_dir=outbox).test_client()
    assert client.post("/api/v1/subscribers", json={"email": THROWAWAY}).status_code == 202
    assert count(session) == 1 and len(messages(outbox, "confirmation")) == 1


def test_import_reports_throwaway_rows_unless_allowed(app_factory, client, session, outbox):
    operator = auth.create_operator(session, "admin@example.com", "long enough pw", "admin")
    headers = {"Authorization": f"Bearer {auth.create_token(session, operator)}", "Content-Type": "text/csv"}
    body = f"email\nana@example.com\n{THROWAWAY}\n".encode()
    report = client.post("/api/v1/subscribers/import", data=body, headers=headers).get_json()
    assert report["created"] == 1
    assert [(r["line"], r["email"]) for r in report["invalid"]] == [(3, THROWAWAY)]
    assert "permanent address" in report["invalid"][0]["reason"]
    allowing = app_factory(disposable_emails="allow", outbox_dir=outbox).test_client()
    report = allowing.post("/api/v1/subscribers/import", data=body, headers=headers).get_json()
    assert (report["created"], report["existing"], report["invalid"]) == (1, 1, [])


def test_the_setting_is_refuse_or_allow():
    assert Config.from_env({}, secret_key="k").disposable_emails == "refuse"
    assert Config.from_env({"DISPOSABLE_EMAILS": "Allow"}, secret_key="k").disposable_emails == "allow"
    with pytest.raises(ConfigError, match="DISPOSABLE_EMAILS"):
        Config.from_env({"DISPOSABLE_EMAILS": "maybe"}, secret_key="k").validate()
