"""Tiers from the API and the admin page: bad text or numbers get a 4xx, never a 500."""

from __future__ import annotations

import pytest
from flask import g
from sqlalchemy import func, select

from billing.models import Tier
from growth import auth
from tests.billing.conftest import csrf_from
from tests.growth.helpers import login_as

GOLD = {"name": "Gold", "monthly_price_cents": 500, "yearly_price_cents": 5000, "currency": "usd"}


def count(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(Tier))


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Gold\x00"},
        {"name": "Two\nlines"},
        {"description": "nul \x00"},
        {"currency": "usd\n"},
    ],
)
def test_api_tier_with_bad_text_gets_a_400(client, session, change):
    operator = auth.create_operator(session, "op@example.com", "correct horse battery")
    headers = {"Authorization": f"Bearer {auth.create_token(session, operator)}"}
    session.commit()
    response = client.post("/api/v1/tiers", json={**GOLD, **change}, headers=headers)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert count(session) == 0


@pytest.fixture
def admin(client, session):  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "admin@example.com", "correct horse battery")
    session.commit()
    g.pop("operator", None)
    login_as(client, operator)  # a server-side session (growth.auth)
    return client


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Gold\x00"},
        {"name": "n" * 101},
        {"description": "nul \x00"},
        {"currency": "us\x00"},
        {"monthly_price_cents": "\u00b2"},
        {"trial_days": "9" * 5000},
        {"trial_days": "\u0663"},
    ],
)
def test_admin_tier_form_gets_a_422(admin, session, change):
    form = {
        "csrf_token": csrf_from(admin.get("/admin/tiers").get_data(as_text=True)),
        "name": "Gold",
        "monthly_price_cents": "500",
        "yearly_price_cents": "5000",
        "currency": "usd",
        **change,
    }
    response = admin.post("/admin/tiers", data=form)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert count(session) == 0


def test_checkout_with_an_odd_tier_id_is_a_400(bclient, bsession, boutbox):  # type: ignore[no-untyped-def]
    from growth.links import manage_token
    from tests.billing.conftest import confirmed_subscriber

    subscriber = confirmed_subscriber(bclient, boutbox, bsession)
    token = manage_token(subscriber)
    for tier_id in ("99999999999", "\u0663", "1\x00", 2**31, 2**64, 0, -1, True, None, [1]):
        response = bclient.post(
            "/billing/checkout", json={"t": token, "tier_id": tier_id, "interval": "month"}
        )
        assert response.status_code == 400, (tier_id, response.status_code)
