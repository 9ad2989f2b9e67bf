"""Billing fixtures: the local Stripe fake, an app wired to it, signed webhook posts."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from growth.db import db
from growth.models import Subscriber
from tests.fakes.stripe import FakeStripe, encode, sign
from tests.growth.helpers import signup_and_confirm

WEBHOOK_SECRET = "whsec_test_masthead"


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[FakeStripe]:
    fake = FakeStripe().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_stripe(stripe_server: FakeStripe) -> FakeStripe:
    stripe_server.reset()
    return stripe_server


@pytest.fixture
def billing_app(app_factory, fake_stripe: FakeStripe) -> Flask:  # type: ignore[no-untyped-def]
    """An app with Stripe configured against the local fake."""
    app = app_factory(
        stripe_secret_key="sk_test_masthead",
        stripe_api_base=fake_stripe.url,
        stripe_webhook_secret=WEBHOOK_SECRET,
    )
    app.config["WTF_CSRF_ENABLED"] = True
    Path(app.config["MASTHEAD"].outbox_dir).mkdir(parents=True, exist_ok=True)
    return app


@pytest.fixture
def bclient(billing_app: Flask):  # type: ignore[no-untyped-def]
    return billing_app.test_client()


@pytest.fixture
def boutbox(billing_app: Flask) -> Path:
    return Path(billing_app.config["MASTHEAD"].outbox_dir)


@pytest.fixture
def bsession(billing_app: Flask):  # type: ignore[no-untyped-def]
    with billing_app.app_context():
        yield db.session


def post_event(client, payload: dict[str, Any], secret: str = WEBHOOK_SECRET, timestamp: int | None = None):  # type: ignore[no-untyped-def]
    """POST an event to /webhooks/stripe signed like Stripe signs it."""
    body = encode(payload)
    header = sign(body, secret, int(time.time()) if timestamp is None else timestamp)
    return client.post(
        "/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def confirmed_subscriber(client, outbox: Path, session, email: str = "ana@example.com") -> Subscriber:  # type: ignore[no-untyped-def]
    """A subscriber who signed up and confirmed through the real pages."""
    assert signup_and_confirm(client, outbox, email).status_code == 200
    session.expire_all()
    return session.scalars(select(Subscriber).where(Subscriber.email_normalized == email)).one()


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no csrf token in page"
    return found.group(1)


def monthly_tier(session, name: str, cents: int, price_id: str):  # type: ignore[no-untyped-def]
    """A usd tier with one monthly Stripe price (yearly ten months), committed."""
    from billing.models import Tier, TierPrice

    tier = Tier(name=name, monthly_price_cents=cents, yearly_price_cents=cents * 10, currency="usd")
    session.add(tier)
    session.flush()
    session.add(
        TierPrice(
            tier_id=tier.id,
            stripe_price_id=price_id,
            interval="month",
            unit_amount_cents=cents,
            currency="usd",
        )
    )
    session.commit()
    return tier
