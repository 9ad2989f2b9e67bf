"""The public pricing page: strangers, known readers, before and after Stripe; a stranger pays."""

from __future__ import annotations

import time

from sqlalchemy import select

from billing.models import Tier
from content.paywall import reader_token
from growth import access
from growth.auth import create_operator
from growth.models import Consent, Subscriber
from tests.billing.conftest import confirmed_subscriber, csrf_from, post_event
from tests.billing.test_checkout import make_tier, sync
from tests.growth.helpers import login_as, messages


def _tier(session, name: str = "Gold", **overrides):  # type: ignore[no-untyped-def]
    from billing import service
    from growth.db import utcnow

    data = dict(
        name=name,
        description="Every issue, plus the archive",
        monthly_price_cents=500,
        yearly_price_cents=5000,
        currency="usd",
    )
    data.update(overrides)
    tier = service.create_tier(session, service.TierInput(**data), utcnow())
    session.commit()
    return tier


def test_without_stripe_strangers_see_every_tier_and_its_prices_but_no_checkout(app_factory, session):
    app = app_factory()  # no STRIPE_SECRET_KEY
    _tier(session)
    _tier(session, "Patron", monthly_price_cents=2000, yearly_price_cents=20000)
    retired = _tier(session, "Old")
    retired.active = False
    session.commit()
    page = app.test_client().get("/pricing")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Gold" in html and "5.00 USD a month" in html and "50.00 USD a year" in html
    assert "Patron" in html and "20.00 USD a month" in html
    assert "Every issue, plus the archive" in html
    assert "Old" not in html
    assert "Paid plans are not open yet" in html
    assert "/billing/checkout" not in html
    assert "STRIPE_SECRET_KEY" not in html  # the set-up steps are for operators only


def test_operators_see_what_to_set_up(app_factory, session):
    app = app_factory()
    _tier(session)
    client = app.test_client()
    operator = create_operator(session, "op@example.com", "a long password")
    session.commit()
    login_as(client, operator)
    html = client.get("/pricing").get_data(as_text=True)
    assert "Paid plans are not open yet" in html
    assert "STRIPE_SECRET_KEY" in html and "sync-tiers" in html


def test_with_stripe_an_unsynced_tier_is_listed_not_sold(billing_app, bclient, bsession):
    _tier(bsession)
    html = bclient.get("/pricing").get_data(as_text=True)
    assert "Gold" in html and "Paid plans are not open yet" in html and "/billing/checkout" not in html


def test_a_stranger_pays_at_checkout_and_becomes_an_active_subscriber(
    billing_app, bclient, boutbox, bsession, fake_stripe
):
    tier = make_tier(billing_app, bsession)
    sync(billing_app)
    page = bclient.get("/pricing")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Pay monthly" in html and 'name="t"' not in html
    response = bclient.post(
        "/billing/checkout",
        data={"csrf_token": csrf_from(html), "tier_id": tier.id, "interval": "month"},
    )
    assert response.status_code == 303
    checkout = next(iter(fake_stripe.checkout_sessions.values()))
    # Checkout asks the email: none is sent, and nobody is named
    assert checkout["customer_email"] is None and checkout["customer"] is None
    assert checkout["client_reference_id"] is None
    assert checkout["metadata"] == {"tier_id": str(tier.id), "masthead_signup": "1"}
    assert checkout["subscription_data"]["metadata"] == checkout["metadata"]
    assert checkout["success_url"] == "http://masthead.test/pricing?checkout=success"
    assert bsession.scalars(select(Subscriber)).all() == []

    events = fake_stripe.complete_checkout(checkout["id"], int(time.time()), email="Zoe@Example.com")
    # the subscription may arrive first: order does not matter
    for e in [events[1], events[0], events[2], events[0]]:
        assert post_event(bclient, e).status_code == 200
    bsession.expire_all()
    zoe = bsession.scalars(select(Subscriber)).one()
    assert zoe.email_normalized == "zoe@example.com"
    assert zoe.status == "active" and zoe.confirmed_at is not None and zoe.stage == "paying"
    assert access.paying_tiers(bsession, [zoe.id]) == {zoe.id: tier.id}
    consents = bsession.scalars(select(Consent).where(Consent.subscriber_id == zoe.id)).all()
    assert [(c.action, c.form) for c in consents] == [
        ("signup", "stripe_checkout"),
        ("confirm", "stripe_checkout"),
    ]
    assert len(messages(boutbox, "welcome")) == 1  # once, though the session event came twice
    assert messages(boutbox, "confirmation") == []


def test_a_pending_reader_who_pays_as_a_stranger_is_confirmed_by_the_payment(
    billing_app, bclient, boutbox, bsession, fake_stripe
):
    assert bclient.post("/api/v1/subscribers", json={"email": "bo@example.com"}).status_code == 202
    tier = make_tier(billing_app, bsession)
    sync(billing_app)
    html = bclient.get("/pricing").get_data(as_text=True)
    bclient.post("/billing/checkout", data={"csrf_token": csrf_from(html), "tier_id": tier.id})
    checkout = next(iter(fake_stripe.checkout_sessions.values()))
    for e in fake_stripe.complete_checkout(checkout["id"], int(time.time()), email="bo@example.com"):
        assert post_event(bclient, e).status_code == 200
    bsession.expire_all()
    bo = bsession.scalars(select(Subscriber)).one()
    assert bo.status == "active" and bo.stage == "paying"
    assert len(messages(boutbox, "welcome")) == 1


def test_an_unpaid_session_signs_nobody_up(billing_app, bclient, bsession, fake_stripe):
    from tests.fakes.stripe import event

    tier = make_tier(billing_app, bsession)
    sync(billing_app)
    payload = {
        "id": "cs_unpaid",
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "payment_status": "unpaid",  # a delayed payment method: not proven yet
        "customer": "cus_unpaid",
        "customer_details": {"email": "late@example.com"},
        "metadata": {"tier_id": str(tier.id), "masthead_signup": "1"},
    }
    completed = event("checkout.session.completed", payload, int(time.time()))
    assert post_event(bclient, completed).status_code == 200
    assert bsession.scalars(select(Subscriber)).all() == []


def test_known_readers_see_the_page_as_themselves(billing_app, bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    make_tier(billing_app, bsession)
    sync(billing_app)
    with billing_app.test_request_context():
        link = reader_token(ana.id)
    for url in (f"/pricing?r={link}", f"/upgrade?r={link}"):
        html = bclient.get(url).get_data(as_text=True)
        assert "ana@example.com" in html and 'name="t"' in html and "Pay yearly" in html
    # a forged link is a stranger's view, not an error
    bclient.delete_cookie("mh_reader")
    html = bclient.get("/pricing?r=forged&t=forged").get_data(as_text=True)
    assert "ana@example.com" not in html and "Pay monthly" in html


def test_the_paywall_upgrade_button_leads_to_pricing(billing_app, bclient, bsession):
    from tests.content.conftest import make_post

    post = make_post(bsession, title="Members only", audience="paid")
    bsession.commit()
    html = bclient.get(f"/p/{post.slug}").get_data(as_text=True)
    # a stranger: subscribe, or straight to a price (the link names the post, for attribution)
    assert f'href="/pricing?post={post.id}">see the prices' in html
    assert bsession.scalars(select(Tier)).all() == []
    assert bclient.get("/pricing").status_code == 200
