"""Exactly-once under concurrency: real commits on two connections (PostgreSQL only)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import delete, func, select

from billing.models import StripeCustomer, StripeEvent
from growth.app import create_app
from growth.db import db, utcnow
from growth.models import Delivery, Subscriber
from tests.billing.conftest import WEBHOOK_SECRET
from tests.conftest import USING_POSTGRES, make_config
from tests.fakes.stripe import encode, event, invoice, sign


@pytest.mark.skipif(not USING_POSTGRES, reason="two concurrent transactions need PostgreSQL")
def test_one_event_delivered_twice_at_once_is_stored_and_applied_once(database_url, tmp_path):
    saved = (db.engine, db.session_factory)
    app = create_app(make_config(database_url, tmp_path, stripe_webhook_secret=WEBHOOK_SECRET))
    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        sub = Subscriber(
            email=f"race-{tag}@example.com",
            email_normalized=f"race-{tag}@example.com",
            referral_code=f"race{tag}",
            status="active",
            stage="confirmed",
            confirmed_at=utcnow(),
        )
        db.session.add(sub)
        db.session.commit()
        subscriber_id = sub.id
    failed = invoice(
        customer=f"cus_{tag}",
        status="open",
        amount_due=900,
        metadata={"subscriber_id": str(subscriber_id)},
    )
    body = encode(event("invoice.payment_failed", failed, int(time.time()), event_id=f"evt_race_{tag}"))
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def deliver() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/webhooks/stripe", data=body, headers={"Stripe-Signature": sign(body, WEBHOOK_SECRET)}
        )
        statuses.append(response.status_code)

    try:
        threads = [threading.Thread(target=deliver) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert statuses == [200, 200, 200, 200]
        with app.app_context():
            s = db.session
            assert (
                s.scalar(
                    select(func.count())
                    .select_from(StripeEvent)
                    .where(StripeEvent.event_id == f"evt_race_{tag}")
                )
                == 1
            )
            dunning = s.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.subscriber_id == subscriber_id, Delivery.template == "dunning")
            )
            assert dunning == 1
    finally:
        with app.app_context():
            s = db.session
            s.execute(delete(StripeEvent).where(StripeEvent.event_id == f"evt_race_{tag}"))
            s.execute(delete(StripeCustomer).where(StripeCustomer.stripe_customer_id == f"cus_{tag}"))
            s.execute(delete(Subscriber).where(Subscriber.id == subscriber_id))
            s.commit()
        db.engine.dispose()
        db.engine, db.session_factory = saved


@pytest.mark.skipif(not USING_POSTGRES, reason="two concurrent transactions need PostgreSQL")
def test_events_naming_one_discount_and_coupon_at_once_make_one_row_each(database_url, tmp_path):
    from billing.models import StripeCoupon, StripeDiscount, Subscription, SubscriptionSnapshot
    from tests.fakes.stripe import coupon, discount, subscription

    saved = (db.engine, db.session_factory)
    app = create_app(make_config(database_url, tmp_path, stripe_webhook_secret=WEBHOOK_SECRET))
    tag = uuid.uuid4().hex[:8]
    sub_id, di_id, co_id = f"sub_{tag}", f"di_{tag}", f"co_{tag}"
    now = int(time.time())
    terms = coupon(coupon_id=co_id, percent_off=20.0)
    described = discount(discount_id=di_id, coupon_id=co_id, customer=f"cus_{tag}", subscription_id=sub_id)
    bodies = [
        encode(
            event(
                "customer.subscription.created",
                subscription(sub_id=sub_id, customer=f"cus_{tag}", discounts=[di_id]),
                now,
            )
        ),
        encode(event("customer.discount.created", described, now)),
        encode(event("customer.discount.updated", described, now + 1)),
        encode(event("coupon.created", terms, now)),
        encode(event("coupon.updated", terms, now + 1)),
    ]
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def deliver(body: bytes) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/webhooks/stripe", data=body, headers={"Stripe-Signature": sign(body, WEBHOOK_SECRET)}
        )
        statuses.append(response.status_code)

    try:
        threads = [threading.Thread(target=deliver, args=(b,)) for b in bodies]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert statuses == [200] * len(bodies)
        with app.app_context():
            s = db.session
            # .one(): exactly one row each
            found = s.scalars(select(StripeDiscount).where(StripeDiscount.stripe_discount_id == di_id)).one()
            assert found.stripe_coupon_id == co_id
            assert (
                s.scalars(select(StripeCoupon).where(StripeCoupon.stripe_coupon_id == co_id))
                .one()
                .percent_off
                == "20.0"
            )
            outcomes = s.scalars(
                select(StripeEvent.outcome).where(
                    StripeEvent.payload["data"]["object"]["id"].as_string().in_([sub_id, di_id, co_id])
                )
            ).all()
            assert sorted(outcomes) == ["applied"] * 2 + ["unmatched"] * 3  # coupons applied; nobody to link
    finally:
        with app.app_context():
            s = db.session
            s.execute(
                delete(StripeEvent).where(
                    StripeEvent.payload["data"]["object"]["id"].as_string().in_([sub_id, di_id, co_id])
                )
            )
            s.execute(delete(StripeDiscount).where(StripeDiscount.stripe_discount_id == di_id))
            s.execute(delete(StripeCoupon).where(StripeCoupon.stripe_coupon_id == co_id))
            s.execute(
                delete(SubscriptionSnapshot).where(SubscriptionSnapshot.stripe_subscription_id == sub_id)
            )
            s.execute(delete(Subscription).where(Subscription.stripe_subscription_id == sub_id))
            s.execute(delete(StripeCustomer).where(StripeCustomer.stripe_customer_id == f"cus_{tag}"))
            s.commit()
        db.engine.dispose()
        db.engine, db.session_factory = saved


@pytest.mark.skipif(not USING_POSTGRES, reason="two concurrent transactions need PostgreSQL")
def test_one_comp_posted_four_times_at_once_makes_one_comp(database_url, tmp_path):
    from billing.models import Grant, Tier
    from growth import auth
    from growth.models import ApiToken, Operator

    saved = (db.engine, db.session_factory)
    app = create_app(make_config(database_url, tmp_path))
    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        sub = Subscriber(
            email=f"comp-{tag}@example.com",
            email_normalized=f"comp-{tag}@example.com",
            referral_code=f"comp{tag}",
            status="active",
            stage="confirmed",
            confirmed_at=utcnow(),
        )
        tier = Tier(name=f"Comp {tag}", monthly_price_cents=500, yearly_price_cents=5000, currency="usd")
        operator = auth.create_operator(db.session, f"op-{tag}@example.com", "correct horse battery")
        db.session.add_all([sub, tier])
        token = auth.create_token(db.session, operator)
        db.session.commit()
        subscriber_id, tier_id, operator_id = sub.id, tier.id, operator.id
    barrier = threading.Barrier(4)
    answers: list[tuple[int, bool]] = []

    def give() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/api/v1/comps",
            json={"subscriber_id": subscriber_id, "tier_id": tier_id, "days": 30},
            headers={"Authorization": f"Bearer {token}"},
        )
        answers.append((response.status_code, response.get_json()["created"]))

    try:
        threads = [threading.Thread(target=give) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(answers) == [(201, False), (201, False), (201, False), (201, True)]
        with app.app_context():
            count = db.session.scalar(
                select(func.count()).select_from(Grant).where(Grant.subscriber_id == subscriber_id)
            )
            assert count == 1
    finally:
        with app.app_context():
            s = db.session
            s.execute(delete(Grant).where(Grant.subscriber_id == subscriber_id))
            s.execute(delete(Subscriber).where(Subscriber.id == subscriber_id))
            s.execute(delete(Tier).where(Tier.id == tier_id))
            s.execute(delete(ApiToken).where(ApiToken.operator_id == operator_id))
            s.execute(delete(Operator).where(Operator.id == operator_id))
            s.commit()
        db.engine.dispose()
        db.engine, db.session_factory = saved
