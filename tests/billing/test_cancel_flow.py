"""The cancel flow: Stripe's portal configured through the API, a retention coupon per tier,
reasons from cancellation_details, saves, pause and switch to yearly, win-back signals."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import select

from billing import retention
from billing.models import RetentionEvent, Tier
from growth import auth, signals
from growth.db import utcnow
from tests.billing.conftest import confirmed_subscriber, csrf_from, post_event
from tests.billing.test_checkout import make_tier, sync

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def bearer(session) -> dict[str, str]:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "op@example.com", "correct horse battery")
    token = auth.create_token(session, operator)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def paying(billing_app, bclient, boutbox, bsession, fake_stripe):  # type: ignore[no-untyped-def]
    """Ana pays Gold monthly; Gold's retention offer is 50% off for 3 months, synced."""
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    tier = make_tier(billing_app, bsession, retention=(50, 3))
    sync(billing_app)
    with billing_app.test_request_context():
        from growth.links import manage_token

        token = manage_token(ana)
    page = bclient.get(f"/me/{token}/upgrade").get_data(as_text=True)
    csrf = csrf_from(page)
    bclient.post(
        "/billing/checkout", data={"csrf_token": csrf, "t": token, "tier_id": tier.id, "interval": "month"}
    )
    checkout = next(iter(fake_stripe.checkout_sessions.values()))
    for e in fake_stripe.complete_checkout(checkout["id"], int(time.time())):
        assert post_event(bclient, e).status_code == 200
    bsession.expire_all()
    return {
        "ana": ana,
        "token": token,
        "csrf": csrf,
        "tier": bsession.get(Tier, tier.id),
        "sub_id": checkout["subscription"],
    }


def test_sync_configures_the_portal_and_the_tiers_retention_coupon(
    billing_app, bsession, fake_stripe, paying
):
    [config] = fake_stripe.portal_configurations.values()
    cancel = config["features"]["subscription_cancel"]
    assert cancel["enabled"] == "true" and cancel["mode"] == "at_period_end"
    assert cancel["cancellation_reason"]["enabled"] == "true"
    assert cancel["cancellation_reason"]["options"] == list(retention.FEEDBACK_OPTIONS)
    coupon = fake_stripe.coupons[paying["tier"].stripe_retention_coupon_id]
    assert (
        coupon["percent_off"] == 50
        and coupon["duration"] == "repeating"
        and coupon["duration_in_months"] == 3
    )
    assert fake_stripe.coupon_products[coupon["id"]] == [paying["tier"].stripe_product_id]
    # a second sync updates the configuration and keeps the coupon
    sync(billing_app)
    assert len(fake_stripe.portal_configurations) == 1 and len(fake_stripe.coupons) == 1


def test_cancel_opens_the_portal_flow_with_the_retention_coupon_and_saves_are_counted(
    billing_app, bclient, bsession, fake_stripe, paying
):
    kept: list[int] = []

    def on_kept(subscriber, **_):  # type: ignore[no-untyped-def]
        kept.append(subscriber.id)

    signals.subscriber_kept.connect(on_kept)
    page = bclient.get(f"/me/{paying['token']}/billing").get_data(as_text=True)
    assert (
        "Cancel my plan" in page and "Switch to yearly: 50.00 USD a year" in page and "Pause payments" in page
    )
    response = bclient.post("/billing/cancel", data={"csrf_token": paying["csrf"], "t": paying["token"]})
    assert response.status_code == 303 and response.headers["Location"].startswith(
        "https://billing.stripe.test/"
    )
    [portal] = fake_stripe.portal_sessions.values()
    assert portal["configuration"] == next(iter(fake_stripe.portal_configurations))
    assert portal["flow"]["type"] == "subscription_cancel"
    assert portal["flow"]["subscription_cancel"] == {
        "subscription": paying["sub_id"],
        "retention": {
            "type": "coupon_offer",
            "coupon_offer": {"coupon": paying["tier"].stripe_retention_coupon_id},
        },
    }
    # in the portal the customer takes the retention offer: a discount from that coupon
    now = int(time.time())
    _, events = fake_stripe.apply_coupon(paying["sub_id"], paying["tier"].stripe_retention_coupon_id, now)
    for e in [*events, events[0]]:
        assert post_event(bclient, e).status_code == 200
    assert kept == [paying["ana"].id]
    # later they cancel anyway, giving a reason; then change their mind; then cancel for good
    for e in fake_stripe.cancel_in_portal(
        paying["sub_id"], now + 10, feedback="too_expensive", comment="pricey"
    ):
        assert post_event(bclient, e).status_code == 200
    bsession.expire_all()
    scheduled = bsession.scalars(
        select(RetentionEvent).where(RetentionEvent.kind == "cancel_scheduled")
    ).one()
    assert (scheduled.feedback, scheduled.reason, scheduled.comment) == (
        "too_expensive",
        "cancellation_requested",
        "pricey",
    )
    for e in fake_stripe.undo_cancel(paying["sub_id"], now + 20):
        assert post_event(bclient, e).status_code == 200
    assert kept == [paying["ana"].id, paying["ana"].id]
    for e in fake_stripe.cancel_in_portal(paying["sub_id"], now + 30, feedback="unused"):
        assert post_event(bclient, e).status_code == 200
    for e in fake_stripe.end_subscription(paying["sub_id"], now + 40):
        assert post_event(bclient, e).status_code == 200

    headers = bearer(bsession)
    to = (utcnow() + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")  # the events are seconds ahead
    report = bclient.get(f"/api/v1/reports/cancellations?to={to}", headers=headers)
    assert report.status_code == 200
    body = report.get_json()
    assert body["cancel_requests"] == 2
    assert body["reasons"] == {"too_expensive": 1, "unused": 1}
    assert body["retention"] == {"offered": 1, "accepted": 1, "acceptance_rate": 1.0}
    assert body["saves"] == {"total": 2, "retention_accepted": 1, "reactivated": 1, "payment_recovered": 0}
    assert body["churned"] == 1 and body["save_rate"] == pytest.approx(2 / 3)
    assert bclient.get("/api/v1/reports/cancellations").status_code == 401
    assert bclient.get("/api/v1/reports/cancellations?from=x", headers=headers).status_code == 400
    signals.subscriber_kept.disconnect(on_kept)


def test_a_failed_payment_that_recovers_is_a_save_not_churn(
    billing_app, bclient, bsession, fake_stripe, paying
):
    now = int(time.time())
    for status, at in (("past_due", now), ("active", now + 60)):
        for e in fake_stripe.set_status(paying["sub_id"], status, at):
            assert post_event(bclient, e).status_code == 200
    bsession.expire_all()
    assert bsession.get(type(paying["ana"]), paying["ana"].id).stage == "paying"
    report = retention.cancellation_report(
        retention.load_facts(bsession, T0, utcnow() + dt.timedelta(hours=1)),
        T0,
        utcnow() + dt.timedelta(hours=1),
    )
    assert report["saves"]["payment_recovered"] == 1 and report["churned"] == 0


def test_pause_and_resume_and_switch_to_yearly(billing_app, bclient, bsession, fake_stripe, paying):
    form = {"csrf_token": paying["csrf"], "t": paying["token"]}
    assert bclient.post("/billing/pause", data={**form, "months": "4"}).status_code == 422
    paused = bclient.post("/billing/pause", data={**form, "months": "2"})
    assert paused.status_code == 303 and paused.headers["Location"].endswith("/billing?changed=pause")
    sub = fake_stripe.subscriptions[paying["sub_id"]]
    assert sub["pause_collection"]["behavior"] == "void"
    assert sub["pause_collection"]["resumes_at"] > time.time() + 59 * 86400
    for e in fake_stripe.take_sent():
        assert post_event(bclient, e).status_code == 200
    page = bclient.get(f"/me/{paying['token']}/billing").get_data(as_text=True)
    assert "Resume payments" in page
    resumed = bclient.post("/billing/pause", data={**form, "months": ""})
    assert (
        resumed.status_code == 303 and fake_stripe.subscriptions[paying["sub_id"]]["pause_collection"] is None
    )
    for e in fake_stripe.take_sent():
        assert post_event(bclient, e).status_code == 200

    yearly = bclient.post("/billing/yearly", data=form)
    assert yearly.status_code == 303
    item = fake_stripe.subscriptions[paying["sub_id"]]["items"]["data"][0]
    assert item["price"]["id"] == paying["tier"].current_price("year").stripe_price_id
    assert fake_stripe.requests[-1][2]["proration_behavior"] == "always_invoice"
    for e in fake_stripe.take_sent():
        assert post_event(bclient, e).status_code == 200
    page = bclient.get(f"/me/{paying['token']}/billing").get_data(as_text=True)
    assert "50.00 USD / year" in page and "Switch to yearly" not in page
    again = bclient.post(
        "/billing/yearly", json={"t": paying["token"]}, headers={"X-CSRFToken": paying["csrf"]}
    )
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "no_yearly_price"


def test_the_cancellation_report_on_hand_computed_facts():
    F = retention.Fact
    t = lambda days: T0 + dt.timedelta(days=days)  # noqa: E731
    facts = [
        F("retention_offered", t(1), "s1"),
        F("retention_offered", t(2), "s2"),
        F("retention_accepted", t(2), "s2"),
        F("cancel_scheduled", t(3), "s1", "too_expensive"),
        F("canceled", t(20), "s1", "too_expensive"),  # the scheduled one ending: one request
        F("canceled", t(5), "s3"),  # canceled at once, no reason given
        F("payment_recovered", t(6), "s4"),
        F("reactivated", t(40), "s5"),  # outside the window
    ]
    report = retention.cancellation_report(facts, T0, t(31))
    assert report["cancel_requests"] == 2
    assert report["reasons"] == {"none": 1, "too_expensive": 1}
    assert report["retention"] == {"offered": 2, "accepted": 1, "acceptance_rate": 0.5}
    assert report["saves"] == {"total": 2, "retention_accepted": 1, "reactivated": 0, "payment_recovered": 1}
    assert report["churned"] == 2 and report["save_rate"] == 0.5
    empty = retention.cancellation_report([], T0, t(31))
    assert empty["retention"]["acceptance_rate"] is None and empty["save_rate"] is None


def test_the_retention_offer_is_set_on_the_tier(billing_app, bclient, bsession):
    from tests.growth.helpers import login_as

    headers = bearer(bsession)
    made = bclient.post(
        "/api/v1/tiers",
        json={
            "name": "Gold",
            "monthly_price_cents": 500,
            "yearly_price_cents": 5000,
            "currency": "usd",
            "retention_percent_off": 30,
            "retention_months": 2,
        },
        headers=headers,
    )
    assert made.status_code == 201 and made.get_json()["retention_percent_off"] == 30
    tier_id = made.get_json()["id"]
    half = bclient.patch(f"/api/v1/tiers/{tier_id}", json={"retention_percent_off": 40}, headers=headers)
    assert half.status_code == 422 and half.get_json()["error"]["code"] == "invalid_retention"
    removed = bclient.patch(
        f"/api/v1/tiers/{tier_id}",
        json={"retention_percent_off": None, "retention_months": None},
        headers=headers,
    )
    assert removed.status_code == 200 and removed.get_json()["retention_months"] is None
    operator = auth.create_operator(bsession, "admin2@example.com", "correct horse battery")
    bsession.commit()
    login_as(bclient, operator)
    page = bclient.get(f"/admin/tiers/{tier_id}").get_data(as_text=True)
    saved = bclient.post(
        f"/admin/tiers/{tier_id}",
        data={
            "csrf_token": csrf_from(page),
            "name": "Gold",
            "monthly_price_cents": "500",
            "yearly_price_cents": "5000",
            "currency": "usd",
            "active": "on",
            "retention_percent_off": "20",
            "retention_months": "3",
        },
    )
    assert saved.status_code == 303
    bsession.expire_all()
    tier = bsession.get(Tier, tier_id)
    assert (tier.retention_percent_off, tier.retention_months) == (20, 3)
