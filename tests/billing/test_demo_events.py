"""seed-demo's Stripe events have the shapes of the pinned API version and verify as Stripe's."""

from __future__ import annotations

import datetime as dt

import pytest
import stripe

from billing import webhooks
from billing.demo_events import StripeShapes, encode, sign
from growth.errors import InvalidRequest


def test_events_carry_ids_not_expanded_objects() -> None:
    shapes = StripeShapes(seed=1)
    sub = shapes.subscription(
        sub_id="sub_1",
        customer="cus_1",
        price_id="price_1",
        unit_amount=800,
        currency="usd",
        interval="month",
        period_start=100,
        period_end=200,
        metadata={"subscriber_id": "3"},
        discounts=["di_1"],
    )
    assert sub["discounts"] == ["di_1"] and sub["customer"] == "cus_1"
    assert "current_period_end" not in sub and sub["items"]["data"][0]["current_period_end"] == 200
    discount = shapes.discount(coupon_id="FOUNDING20", customer="cus_1", subscription="sub_1", start=100)
    assert discount["source"] == {"type": "coupon", "coupon": "FOUNDING20"} and "coupon" not in discount
    invoice = shapes.invoice(
        customer="cus_1",
        email="a@gmail.com",
        subscription="sub_1",
        amount=640,
        currency="usd",
        period_start=100,
        period_end=200,
        metadata={},
        paid=True,
        at=100,
    )
    assert invoice["parent"]["subscription_details"]["subscription"] == "sub_1"
    assert "subscription" not in invoice
    event = shapes.event("customer.subscription.created", sub, 100)
    assert event["api_version"] == stripe.api_version and event["data"]["object"] is sub
    assert shapes.event("x", {}, 1)["id"] != event["id"]


def test_the_signature_is_one_the_webhook_accepts_and_tampering_is_refused() -> None:
    shapes = StripeShapes(seed=2)
    body = encode(
        shapes.event("coupon.created", shapes.coupon(coupon_id="C", percent_off=20.0, created=5), 5)
    )
    now = dt.datetime.now(dt.UTC)
    signature = sign(body, "whsec_x", int(now.timestamp()))
    assert webhooks.verify(body, signature, "whsec_x", now)["type"] == "coupon.created"
    with pytest.raises(InvalidRequest):
        webhooks.verify(body.replace(b"20.0", b"90.0"), signature, "whsec_x", now)
