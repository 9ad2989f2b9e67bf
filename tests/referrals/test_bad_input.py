"""Milestones from the API and the admin page: bad text or numbers get a 4xx, never a 500."""

from __future__ import annotations

import pytest
from flask import g
from sqlalchemy import func, select

from growth import auth
from referrals.models import Milestone
from tests.growth.helpers import login_as
from tests.referrals.helpers import operator_token


def count(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(Milestone))


@pytest.mark.parametrize(
    "body",
    [
        {"referrals_required": 1, "reward_name": "sticker\x00pack"},
        {"referrals_required": 1, "reward_name": "two\nlines"},
        {"referrals_required": 1, "reward_name": "r" * 201},
        {"referrals_required": 1, "reward_name": "ok", "description": "nul \x00"},
        {"referrals_required": 1, "reward_name": "ok", "fulfilment_note": "n" * 5001},
    ],
)
def test_api_milestone_with_bad_text_gets_a_400(client, session, body):
    headers = {"Authorization": f"Bearer {operator_token(session)}"}
    session.commit()
    response = client.post("/api/v1/referrals/milestones", json=body, headers=headers)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert count(session) == 0


def test_service_refuses_a_nul_in_the_reward_name(session):
    from growth.errors import ValidationFailed
    from referrals import service

    with pytest.raises(ValidationFailed):
        service.save_milestone(session, {"referrals_required": 1, "reward_name": "a\x00b"})


@pytest.fixture
def ops(client, session):  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "ops@example.com", "correct horse battery staple")
    session.commit()
    g.pop("operator", None)
    login_as(client, operator)  # a server-side session (growth.auth)
    return client


def csrf(client) -> str:  # type: ignore[no-untyped-def]
    import re

    page = client.get("/admin/referrals").get_data(as_text=True)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert found
    return found.group(1)


@pytest.mark.parametrize(
    "fields",
    [
        {"referrals_required": "1", "reward_name": "sticker\x00pack"},
        {"referrals_required": "1", "reward_name": "line\r\nbreak"},
        {"referrals_required": "1", "reward_name": "ok", "description": "\x00"},
        {"referrals_required": "\u00b2", "reward_name": "ok"},
        {"referrals_required": "99999999999", "reward_name": "ok"},
        {"referrals_required": "1e3", "reward_name": "ok"},
    ],
)
def test_admin_milestone_form_gets_a_422(ops, session, fields):
    response = ops.post(
        "/admin/referrals", data={"action": "add_milestone", "csrf_token": csrf(ops), **fields}
    )
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert count(session) == 0


@pytest.mark.parametrize("value", ["\u00b2", "99999999999", "abc"])
def test_admin_ids_that_are_not_ids_get_a_4xx(ops, session, value):
    token = csrf(ops)
    for action, field in (
        ("approve", "referral_id"),
        ("edit_milestone", "milestone_id"),
        ("fulfil", "grant_id"),
    ):
        response = ops.post("/admin/referrals", data={"action": action, field: value, "csrf_token": token})
        assert 400 <= response.status_code < 500, (action, response.status_code)
