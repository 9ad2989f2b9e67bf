"""Offers: a Stripe coupon and promotion code (or a trial) applied at Checkout, with limits and dates."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import select

from billing import offers, reports, service
from billing.models import OfferRedemption, StripeCoupon, Tier
from growth import auth
from growth.db import utcnow
from growth.errors import Conflict
from tests.billing.conftest import csrf_from, post_event
from tests.billing.test_checkout import make_tier, sync


def bearer(session) -> dict[str, str]:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "op@example.com", "correct horse battery")
    token = auth.create_token(session, operator)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def gold(billing_app, bsession):  # type: ignore[no-untyped-def]
    tier = make_tier(billing_app, bsession)  # 5.00 a month, 50.00 a year
    sync(billing_app)
    bsession.expire_all()
    return bsession.get(Tier, tier.id)


def _checkout(client, query: str, **form):  # type: ignore[no-untyped-def]
    page = client.get(f"/pricing?{query}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    return html, client.post("/billing/checkout", data={"csrf_token": csrf_from(html), **form})


def test_a_percent_offer_is_a_stripe_coupon_and_promotion_code_applied_at_checkout(
    billing_app, bclient, bsession, fake_stripe, gold
):
    headers = bearer(bsession)
    created = bclient.post(
        "/api/v1/offers",
        json={
            "code": "spring20",
            "name": "Spring sale",
            "tier_id": gold.id,
            "interval": "month",
            "kind": "percent",
            "percent_off": 20,
            "duration": "forever",
            "max_redemptions": 100,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    offer = created.get_json()
    assert offer["code"] == "SPRING20" and offer["live"] is True and offer["redemptions"] == 0
    coupon = fake_stripe.coupons[offer["stripe_coupon_id"]]
    assert (
        coupon["percent_off"] == 20 and coupon["duration"] == "forever" and coupon["max_redemptions"] == 100
    )
    assert fake_stripe.coupon_products[coupon["id"]] == [gold.stripe_product_id]
    promo = fake_stripe.promotion_codes[offer["stripe_promotion_code_id"]]
    assert promo["code"] == "SPRING20" and promo["promotion"] == {"type": "coupon", "coupon": coupon["id"]}
    # recorded in the coupon catalogue at once: MRR is priced before any event describes it
    catalogued = bsession.scalars(select(StripeCoupon)).one()
    assert catalogued.stripe_coupon_id == coupon["id"] and catalogued.duration == "forever"

    html, response = _checkout(
        bclient, "code=Spring20", tier_id=gold.id, interval="month", offer_id=offer["id"]
    )
    assert "Spring sale" in html and "20% off, for as long as you stay" in html
    assert response.status_code == 303
    checkout = next(iter(fake_stripe.checkout_sessions.values()))
    assert checkout["discounts"] == [{"coupon": None, "promotion_code": promo["id"]}]
    assert checkout["metadata"]["offer_id"] == str(offer["id"])

    events = fake_stripe.complete_checkout(checkout["id"], int(time.time()), email="new@example.com")
    types = [e["type"] for e in events]
    assert types == [
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.discount.created",
        "invoice.paid",
    ]
    # discounts are ids in the subscription event; the discount names its coupon by id
    assert events[1]["data"]["object"]["discounts"] == [events[2]["data"]["object"]["id"]]
    assert events[2]["data"]["object"]["source"] == {"type": "coupon", "coupon": coupon["id"]}
    assert events[3]["data"]["object"]["amount_paid"] == 400
    for e in [*events, events[0]]:  # the session redelivered
        assert post_event(bclient, e).status_code == 200
    assert len(bsession.scalars(select(OfferRedemption)).all()) == 1
    now = utcnow()
    assert reports.revenue_report(bsession, now - dt.timedelta(days=30), now)["mrr_cents"] == 400
    listed = bclient.get("/api/v1/offers", headers=headers).get_json()["offers"]
    assert listed[0]["redemptions"] == 1


def test_an_offer_stops_at_its_limit(billing_app, bclient, bsession, fake_stripe, gold):
    offer = offers.create_offer(
        bsession,
        billing_app.extensions["masthead_stripe"],
        offers.OfferInput(
            code="ONE",
            name="Just one",
            tier_id=gold.id,
            interval="year",
            kind="amount",
            amount_off_cents=1000,
            max_redemptions=1,
        ),
        utcnow(),
    )
    bsession.commit()
    _, response = _checkout(bclient, "code=one", tier_id=gold.id, interval="year", offer_id=offer.id)
    assert response.status_code == 303
    checkout = next(iter(fake_stripe.checkout_sessions.values()))
    for e in fake_stripe.complete_checkout(checkout["id"], int(time.time()), email="first@example.com"):
        assert post_event(bclient, e).status_code == 200
    assert offers.redemptions(bsession, offer) == 1
    html = bclient.get("/pricing?code=ONE").get_data(as_text=True)
    assert "This offer has been fully taken." in html and 'name="offer_id"' not in html
    refused = bclient.post(
        "/billing/checkout",
        json={"tier_id": gold.id, "interval": "year", "offer_id": offer.id},
        headers={"X-CSRFToken": csrf_from(html)},
    )
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "offer_not_live"
    assert len(fake_stripe.checkout_sessions) == 1


def test_an_offer_lives_between_its_start_and_its_end(billing_app, bclient, bsession, fake_stripe, gold):
    now = utcnow()
    stripe_gateway = billing_app.extensions["masthead_stripe"]
    later = offers.create_offer(
        bsession,
        stripe_gateway,
        offers.OfferInput(
            code="SOON",
            name="Soon",
            tier_id=gold.id,
            interval="month",
            kind="percent",
            percent_off=50,
            starts_at=now + dt.timedelta(days=3),
            ends_at=now + dt.timedelta(days=10),
        ),
        now,
    )
    bsession.commit()
    assert fake_stripe.promotion_codes[later.stripe_promotion_code_id]["expires_at"] == int(
        later.ends_at.timestamp()
    )
    html = bclient.get("/pricing?code=SOON").get_data(as_text=True)
    assert "This offer starts on" in html and 'name="offer_id"' not in html
    assert offers.why_not_live(bsession, later, now + dt.timedelta(days=4)) is None
    assert offers.why_not_live(bsession, later, now + dt.timedelta(days=10)) == "This offer has ended."

    def start(at):  # type: ignore[no-untyped-def]
        with billing_app.test_request_context():
            return service.start_checkout(
                bsession,
                stripe_gateway,
                None,
                gold.id,
                "month",
                success_url="http://x/s",
                cancel_url="http://x/c",
                automatic_tax=False,
                offer_id=later.id,
                now=at,
            )

    with pytest.raises(Conflict):
        start(now)
    assert start(now + dt.timedelta(days=4)).startswith("https://checkout.stripe.test/")
    with pytest.raises(Conflict):
        start(now + dt.timedelta(days=11))
    # an offer cannot be made already over, and an operator may end one early
    headers = bearer(bsession)
    past = bclient.post(
        "/api/v1/offers",
        json={
            "code": "OLD",
            "name": "Old",
            "tier_id": gold.id,
            "interval": "month",
            "kind": "trial",
            "trial_days": 7,
            "ends_at": (now - dt.timedelta(days=1)).isoformat(),
        },
        headers=headers,
    )
    assert past.status_code == 422
    ended = bclient.post(f"/api/v1/offers/{later.id}/end", headers=headers)
    assert ended.status_code == 200 and ended.get_json()["live"] is False
    assert fake_stripe.promotion_codes[later.stripe_promotion_code_id]["active"] is False


def test_a_trial_offer_by_signed_link_sets_the_checkout_trial(
    billing_app, bclient, bsession, fake_stripe, gold
):
    offer = offers.create_offer(
        bsession,
        None,  # a trial needs nothing at Stripe
        offers.OfferInput(
            code="TRY30",
            name="A month free",
            tier_id=gold.id,
            interval="month",
            kind="trial",
            trial_days=30,
            featured=True,
        ),
        utcnow(),
    )
    bsession.commit()
    assert offer.stripe_coupon_id is None and fake_stripe.coupons == {}
    with billing_app.test_request_context():
        link = offers.offer_url(offer)
    assert link.startswith("http://masthead.test/pricing?offer=")
    html, response = _checkout(
        bclient, link.split("?", 1)[1], tier_id=gold.id, interval="month", offer_id=offer.id
    )
    assert "30 days free" in html and response.status_code == 303
    checkout = next(iter(fake_stripe.checkout_sessions.values()))
    assert checkout["subscription_data"]["trial_period_days"] == "30" and checkout["discounts"] == []
    # featured: everyone sees it on /pricing; a forged link is named as such
    assert "A month free" in bclient.get("/pricing").get_data(as_text=True)
    assert "We know no such offer." in bclient.get("/pricing?offer=forged").get_data(as_text=True)
    # an offer applies to its tier and interval only
    wrong = bclient.post(
        "/billing/checkout",
        json={"tier_id": gold.id, "interval": "year", "offer_id": offer.id},
        headers={"X-CSRFToken": csrf_from(html)},
    )
    assert wrong.status_code == 409 and wrong.get_json()["error"]["code"] == "offer_not_applicable"


def test_offer_input_is_checked(billing_app, bclient, bsession, gold):
    headers = bearer(bsession)
    base = {"code": "OK1", "name": "Fine", "tier_id": gold.id, "interval": "month"}
    cases = [
        ({**base, "kind": "percent", "percent_off": 0}, 400),
        ({**base, "kind": "percent"}, 422),  # no percent_off
        ({**base, "kind": "amount", "amount_off_cents": 501}, 422),  # more than the price
        ({**base, "kind": "percent", "percent_off": 10, "duration": "repeating"}, 422),
        ({**base, "kind": "trial", "trial_days": 7, "code": "a b"}, 400),
        ({**base, "kind": "trial", "trial_days": 7, "tier_id": 999_999}, 404),
        ({**base, "kind": "trial", "trial_days": 7, "starts_at": "yesterday"}, 400),
        ({**base, "kind": "trial", "trial_days": 7, "starts_at": "2026-01-01T00:00:00"}, 400),
    ]
    for payload, status in cases:
        response = bclient.post("/api/v1/offers", json=payload, headers=headers)
        assert response.status_code == status, (payload, response.get_json())
        assert set(response.get_json()["error"]) == {"code", "message"}
    ok = bclient.post("/api/v1/offers", json={**base, "kind": "trial", "trial_days": 7}, headers=headers)
    assert ok.status_code == 201
    again = bclient.post("/api/v1/offers", json={**base, "kind": "trial", "trial_days": 7}, headers=headers)
    assert again.status_code == 409
    assert bclient.post("/api/v1/offers", json=base).status_code == 401


def test_an_email_announcing_an_offer_is_a_pitch(billing_app, bsession, gold):
    from content import posts, sequences
    from tests.content.conftest import make_post

    offer = offers.create_offer(
        bsession,
        None,
        offers.OfferInput(
            code="TRY7", name="A week", tier_id=gold.id, interval="month", kind="trial", trial_days=7
        ),
        utcnow(),
    )
    with billing_app.test_request_context():
        link = offers.offer_url(offer)
    post = make_post(
        bsession, title="Our offer", body_markdown=f"Try us: [a week free]({link})", kind="value"
    )
    assert post.kind == "pitch"
    plain = make_post(bsession, title="Just news", body_markdown="See [prices](/pricing).")
    assert plain.kind == "value"
    posts.update_post(
        bsession, plain, posts.PostInput(body_markdown="Use /pricing?code=TRY7 today"), utcnow()
    )
    assert plain.kind == "pitch"
    step = sequences.StepInput(subject="Last chance", body=f"Code: {link}", kind="value", delay_minutes=0)
    sequences._check_step(step)
    assert step.kind == "pitch"


def test_an_admin_makes_and_ends_an_offer_on_its_page(billing_app, bclient, bsession, fake_stripe, gold):
    from tests.growth.helpers import login_as

    operator = auth.create_operator(bsession, "op@example.com", "correct horse battery")
    bsession.commit()
    login_as(bclient, operator)
    page = bclient.get("/admin/offers")
    assert page.status_code == 200 and b"No offers yet." in page.data
    csrf = csrf_from(page.get_data(as_text=True))
    form = {
        "csrf_token": csrf,
        "code": "FALL",
        "name": "Fall",
        "tier_id": str(gold.id),
        "interval": "year",
        "kind": "percent",
        "percent_off": "25",
        "duration": "once",
        "ends_on": "2099-01-31",
        "max_redemptions": "50",
        "featured": "on",
    }
    bad = bclient.post("/admin/offers", data={**form, "ends_on": "31/01/2099"})
    assert bad.status_code == 422 and b"must be a date" in bad.data
    made = bclient.post("/admin/offers", data=form)
    assert made.status_code == 303
    html = bclient.get("/admin/offers").get_data(as_text=True)
    assert (
        "FALL" in html and "25% off the first year" in html and "0 / 50" in html and "/pricing?offer=" in html
    )
    [offer] = offers.list_offers(bsession)
    assert offer.ends_at == dt.datetime(2099, 1, 31, tzinfo=dt.UTC) and offer.featured
    assert bclient.post(f"/admin/offers/{offer.id}/end", data={"csrf_token": csrf}).status_code == 303
    assert "This offer has ended." in bclient.get("/admin/offers").get_data(as_text=True)
