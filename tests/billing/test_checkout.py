"""Tiers reach Stripe through the real SDK (against the local fake); checkout and portal."""

from __future__ import annotations

import time

from sqlalchemy import select

from billing.models import StripeCustomer, Tier
from growth.links import manage_token
from tests.billing.conftest import confirmed_subscriber, csrf_from, post_event


def make_tier(bclient_app, session, **overrides):  # type: ignore[no-untyped-def]
    from billing import service
    from growth.db import utcnow

    data = dict(
        name="Gold",
        description="Every issue, plus the archive",
        monthly_price_cents=500,
        yearly_price_cents=5000,
        currency="usd",
        trial_days=0,
    )
    data.update(overrides)
    tier = service.create_tier(session, service.TierInput(**data), utcnow())
    session.commit()
    return tier


def sync(app):  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(args=["sync-tiers"])
    assert result.exit_code == 0, result.output
    return result.output


def test_sync_tiers_creates_product_and_prices_then_only_what_changed(billing_app, bsession, fake_stripe):
    tier = make_tier(billing_app, bsession)
    output = sync(billing_app)
    assert "created product" in output
    bsession.expire_all()
    tier = bsession.get(Tier, tier.id)
    product = fake_stripe.products[tier.stripe_product_id]
    assert product["name"] == "Gold" and product["metadata"] == {"masthead_tier_id": str(tier.id)}
    monthly, yearly = tier.current_price("month"), tier.current_price("year")
    assert fake_stripe.prices[monthly.stripe_price_id]["unit_amount"] == 500
    assert fake_stripe.prices[monthly.stripe_price_id]["recurring"]["interval"] == "month"
    assert fake_stripe.prices[yearly.stripe_price_id]["unit_amount"] == 5000
    # the SDK speaks the API version it pins
    assert {h.get("stripe-version") for _, _, _, h in fake_stripe.requests} == {"2026-10-28.endive"}

    # nothing changed: no new price
    sync(billing_app)
    assert len(fake_stripe.prices) == 2

    # a new monthly amount is a new Price; the old one is archived, the yearly one kept
    tier.monthly_price_cents = 700
    bsession.commit()
    sync(billing_app)
    bsession.expire_all()
    tier = bsession.get(Tier, tier.id)
    assert len(fake_stripe.prices) == 3
    assert fake_stripe.prices[monthly.stripe_price_id]["active"] is False
    assert tier.current_price("month").unit_amount_cents == 700
    assert tier.current_price("year").stripe_price_id == yearly.stripe_price_id


def test_sync_tiers_without_stripe_says_so(app_factory):
    app = app_factory()
    result = app.test_cli_runner().invoke(args=["sync-tiers"])
    assert result.exit_code != 0 and "not configured" in result.output


def test_sync_failure_is_reported_and_keeps_nothing_half_done(billing_app, bsession, fake_stripe):
    tier = make_tier(billing_app, bsession)
    fake_stripe.fail_next = [400]
    result = billing_app.test_cli_runner().invoke(args=["sync-tiers"])
    assert result.exit_code != 0 and "failed to sync" in result.output
    bsession.expire_all()
    assert bsession.get(Tier, tier.id).stripe_product_id is None


def _pricing_page(client, subscriber):  # type: ignore[no-untyped-def]
    with client.application.test_request_context():
        token = manage_token(subscriber)
    page = client.get(f"/upgrade?t={token}")
    assert page.status_code == 200
    return token, page


def test_checkout_creates_a_subscription_session_and_redirects_to_stripe(
    billing_app, bclient, boutbox, bsession, fake_stripe
):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    tier = make_tier(billing_app, bsession, trial_days=14)
    sync(billing_app)
    token, page = _pricing_page(bclient, ana)
    assert b"Gold" in page.data and b"14 days free" in page.data
    csrf = csrf_from(page.get_data(as_text=True))
    response = bclient.post(
        "/billing/checkout",
        data={
            "csrf_token": csrf,
            "t": token,
            "tier_id": tier.id,
            "interval": "year",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith("https://checkout.stripe.test/c/pay/cs_")
    session_obj = next(iter(fake_stripe.checkout_sessions.values()))
    bsession.expire_all()
    assert session_obj["customer_email"] == "ana@example.com" and session_obj["customer"] is None
    assert session_obj["client_reference_id"] == str(ana.id)
    assert session_obj["subscription_data"]["metadata"]["subscriber_id"] == str(ana.id)
    assert session_obj["subscription_data"]["trial_period_days"] == "14"
    assert (
        session_obj["line_items"][0]["price"]
        == bsession.get(Tier, tier.id).current_price("year").stripe_price_id
    )
    assert session_obj["automatic_tax"]["enabled"] is False
    assert session_obj["success_url"].startswith("http://masthead.test/me/")
    assert session_obj["cancel_url"].endswith("/upgrade?checkout=canceled")

    # the customer pays: Stripe's events make Ana a paying subscriber on that tier
    for e in fake_stripe.complete_checkout(session_obj["id"], int(time.time())):
        assert post_event(bclient, e).status_code == 200
    bsession.expire_all()
    ana = bsession.get(type(ana), ana.id)
    assert ana.stage == "paying"
    from growth import access

    assert access.paying_tiers(bsession, [ana.id]) == {ana.id: tier.id}
    # already paying: a second checkout is refused, the pricing page points to billing
    _, page = _pricing_page(bclient, ana)
    assert b"already have a paid plan" in page.data
    # Stripe sends the subscriber back to the success URL: their plan and the portal button
    back = bclient.get(session_obj["success_url"].removeprefix("http://masthead.test"))
    assert back.status_code == 200
    assert b"Thank you" in back.data and b"trialing" in back.data and b"50.00 USD / year" in back.data
    assert b'action="/billing/portal"' in back.data
    again = bclient.post(
        "/billing/checkout",
        json={"t": token, "tier_id": tier.id, "interval": "month"},
        headers={"X-CSRFToken": csrf},
    )
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_paying"


def test_automatic_tax_and_an_existing_customer(app_factory, fake_stripe, bsession_factory=None):  # type: ignore[no-untyped-def]
    from growth.db import db

    app = app_factory(
        stripe_secret_key="sk_test_x",
        stripe_api_base=fake_stripe.url,
        stripe_automatic_tax=True,
        stripe_webhook_secret="whsec_x",
    )
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    from pathlib import Path

    outbox = Path(app.config["MASTHEAD"].outbox_dir)
    outbox.mkdir(parents=True, exist_ok=True)
    with app.app_context():
        session = db.session
        ana = confirmed_subscriber(client, outbox, session)
        tier = make_tier(app, session)
        sync(app)
        fake_stripe.customers["cus_known"] = {
            "id": "cus_known",
            "object": "customer",
            "email": "ana@example.com",
        }
        session.add(StripeCustomer(stripe_customer_id="cus_known", subscriber_id=ana.id))
        session.commit()
        token = manage_token(ana)
    response = client.post("/billing/checkout", data={"t": token, "tier_id": tier.id, "interval": "month"})
    assert response.status_code == 303
    session_obj = next(iter(fake_stripe.checkout_sessions.values()))
    assert session_obj["automatic_tax"]["enabled"] is True
    assert session_obj["customer"] == "cus_known" and session_obj["customer_email"] is None
    sent = next(p for m, path, p, _ in fake_stripe.requests if path == "/v1/checkout/sessions")
    assert sent["customer_update"] == {"address": "auto"}
    assert "trial_period_days" not in sent["subscription_data"]

    # the portal opens for a subscriber with a Stripe customer
    portal = client.post("/billing/portal", data={"t": token})
    assert portal.status_code == 303 and portal.headers["Location"].startswith("https://billing.stripe.test/")
    assert next(iter(fake_stripe.portal_sessions.values()))["customer"] == "cus_known"


def test_portal_without_a_billing_account_is_a_clear_error(billing_app, bclient, boutbox, bsession):
    billing_app.config["WTF_CSRF_ENABLED"] = False
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    with billing_app.test_request_context():
        token = manage_token(ana)
    response = bclient.post("/billing/portal", json={"t": token})
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "no_billing_account"


def test_checkout_refuses_bad_input(billing_app, bclient, boutbox, bsession):
    billing_app.config["WTF_CSRF_ENABLED"] = False
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    tier = make_tier(billing_app, bsession)
    with billing_app.test_request_context():
        token = manage_token(ana)
    assert bclient.post("/billing/checkout", json={"t": "forged", "tier_id": tier.id}).status_code == 400
    assert bclient.post("/billing/checkout", json={"t": token, "tier_id": "x"}).status_code == 400
    r = bclient.post("/billing/checkout", json={"t": token, "tier_id": tier.id, "interval": "decade"})
    assert r.status_code == 422
    r = bclient.post("/billing/checkout", json={"t": token, "tier_id": tier.id, "interval": "month"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "tier_not_synced"
    assert bclient.post("/billing/checkout", json={"t": token, "tier_id": 999_999}).status_code == 404


def test_checkout_form_needs_the_csrf_token(billing_app, bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    tier = make_tier(billing_app, bsession)
    with billing_app.test_request_context():
        token = manage_token(ana)
    assert bclient.post("/billing/checkout", data={"t": token, "tier_id": tier.id}).status_code == 400


def test_without_stripe_the_pricing_page_and_checkout_say_payments_are_not_configured(
    app, client, outbox, session, monkeypatch
):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    ana = confirmed_subscriber(client, outbox, session)
    make_tier(app, session)
    with app.test_request_context():
        token = manage_token(ana)
    page = client.get(f"/me/{token}/upgrade")
    assert page.status_code == 200 and b"Paid plans are not open yet" in page.data
    assert b"Gold" in page.data and b"5.00 USD a month" in page.data
    assert b'action="/billing/checkout"' not in page.data
    response = client.post("/billing/checkout", json={"t": token, "tier_id": 1, "interval": "month"})
    assert response.status_code == 503
    assert response.get_json()["error"] == {
        "code": "payments_not_configured",
        "message": "Payments are not configured: STRIPE_SECRET_KEY is not set.",
    }


def test_the_readers_own_pages_need_a_valid_link(client):
    assert client.get("/me/forged/upgrade").status_code == 400
    assert client.get("/me/forged/billing").status_code == 400


def test_unconfirmed_subscribers_cannot_check_out(billing_app, bclient, bsession):
    billing_app.config["WTF_CSRF_ENABLED"] = False
    from growth.models import Subscriber

    assert bclient.post("/api/v1/subscribers", json={"email": "new@example.com"}).status_code == 202
    pending = bsession.scalars(
        select(Subscriber).where(Subscriber.email_normalized == "new@example.com")
    ).one()
    tier = make_tier(billing_app, bsession)
    sync(billing_app)
    with billing_app.test_request_context():
        token = manage_token(pending)
    r = bclient.post("/billing/checkout", json={"t": token, "tier_id": tier.id, "interval": "month"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_confirmed"


def test_checkout_form_without_stripe_shows_a_plain_error_page(app, client, outbox, session, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    ana = confirmed_subscriber(client, outbox, session)
    with app.test_request_context():
        token = manage_token(ana)
    response = client.post("/billing/checkout", data={"t": token, "tier_id": "1", "interval": "month"})
    assert response.status_code == 503
    assert b"Payments are not configured" in response.data


def test_pricing_page_sells_only_active_synced_tiers(billing_app, bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    _, page = _pricing_page(bclient, ana)
    assert b"no paid plans yet" in page.data
    make_tier(billing_app, bsession, name="Gold")
    _, page = _pricing_page(bclient, ana)
    assert b"Gold" in page.data and b"Paid plans are not open yet" in page.data
    assert b'action="/billing/checkout"' not in page.data
    sync(billing_app)
    make_tier(billing_app, bsession, name="Hidden", active=False)
    sync(billing_app)
    _, page = _pricing_page(bclient, ana)
    assert b"Gold" in page.data and b"Hidden" not in page.data
    assert page.data.count(b'action="/billing/checkout"') == 2  # monthly and yearly
