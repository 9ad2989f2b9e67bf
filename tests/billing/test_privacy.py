"""Billing's part of a reader's data: exported, erased from customers and stored Stripe events,
and the revenue report the same after an erasure."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select

from billing import reports
from billing.models import Invoice, StripeCustomer, StripeEvent, Subscription
from growth import privacy
from growth.db import utcnow
from tests.billing.conftest import confirmed_subscriber, post_event
from tests.fakes.stripe import event, invoice, subscription

T = 1_767_225_600  # 2026-01-01T00:00:00Z
ADDRESS = {
    "city": "Lisbon",
    "country": "PT",
    "line1": "Rua Augusta 1",
    "line2": None,
    "postal_code": "1100",
    "state": None,
}


def checkout_session(customer: str, subscriber_id: int, sub_id: str, email: str) -> dict:
    """A completed subscription-mode Checkout Session as events carry it (ids, not objects)."""
    return {
        "id": "cs_test_privacy",
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "customer": customer,
        "customer_email": email,
        "customer_details": {
            "email": email,
            "name": "Ana Lima",
            "phone": "+351 910000000",
            "address": ADDRESS,
            "tax_exempt": "none",
            "tax_ids": [],
        },
        "client_reference_id": str(subscriber_id),
        "metadata": {"subscriber_id": str(subscriber_id)},
        "subscription": sub_id,
    }


def paying_ana(bclient, boutbox, bsession):  # type: ignore[no-untyped-def]
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    meta = {"subscriber_id": str(ana.id)}
    # Stripe told us about the customer before checkout linked it (an event we do not handle)
    customer = {
        "id": "cus_ana",
        "object": "customer",
        "email": "Ana@Example.com",
        "name": "Ana Lima",
        "phone": None,
        "address": ADDRESS,
        "metadata": {},
    }
    post_event(bclient, event("customer.created", customer, T - 60))
    post_event(
        bclient,
        event(
            "checkout.session.completed", checkout_session("cus_ana", ana.id, "sub_ana", "ana@example.com"), T
        ),
    )
    post_event(
        bclient,
        event(
            "customer.subscription.created",
            subscription(sub_id="sub_ana", customer="cus_ana", metadata=meta),
            T,
        ),
    )
    for month in range(2):
        paid = invoice(
            customer="cus_ana",
            subscription_id="sub_ana",
            amount_paid=500,
            paid_at=T + month * 2_600_000,
            period_start=T + month * 2_600_000,
            customer_email="ana@example.com",
            metadata=meta,
        )
        post_event(bclient, event("invoice.paid", paid, T + month * 2_600_000))
    bsession.expire_all()
    return ana


def personal_text_left(bsession) -> list[str]:  # type: ignore[no-untyped-def]
    """The stored events and customers that still carry Ana's address or name."""
    found = []
    for row in bsession.scalars(select(StripeEvent)):
        text = json.dumps(row.payload).lower()
        if "ana@example.com" in text or "ana lima" in text or "rua augusta" in text:
            found.append(row.type)
    found += [f"customer {c.stripe_customer_id}" for c in bsession.scalars(select(StripeCustomer)) if c.email]
    return found


def test_billing_exports_customers_subscriptions_and_payments(bclient, boutbox, bsession):
    ana = paying_ana(bclient, boutbox, bsession)
    part = privacy.export_subscriber(bsession, ana, utcnow())["billing"]
    assert part["customers"] == [
        {
            "stripe_customer_id": "cus_ana",
            "email": "ana@example.com",
            "created_at": part["customers"][0]["created_at"],
        }
    ]
    assert [
        (s["stripe_subscription_id"], s["status"], s["unit_amount_cents"]) for s in part["subscriptions"]
    ] == [("sub_ana", "active", 500)]
    assert [p["amount_paid_cents"] for p in part["payments"]] == [500, 500]


def test_erasure_removes_the_address_from_customers_and_stored_events_and_keeps_revenue(
    bclient, boutbox, bsession
):
    ana = paying_ana(bclient, boutbox, bsession)
    start, end = dt.datetime(2025, 12, 1, tzinfo=dt.UTC), dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    before = reports.revenue_report(bsession, start, end)
    rows_before = [
        bsession.scalar(select(func.count()).select_from(m)) for m in (StripeEvent, Subscription, Invoice)
    ]
    assert set(personal_text_left(bsession)) == {
        "customer.created",
        "checkout.session.completed",
        "invoice.paid",
        "customer cus_ana",
    }
    privacy.erase_subscriber(bsession, ana, utcnow())
    bsession.commit()
    bsession.expire_all()
    assert personal_text_left(bsession) == []
    assert reports.revenue_report(bsession, start, end) == before
    assert before["mrr_cents"] == 500
    assert [
        bsession.scalar(select(func.count()).select_from(m)) for m in (StripeEvent, Subscription, Invoice)
    ] == rows_before
    # what the mirror needs stays: ids, amounts, the event envelope
    checkout = bsession.scalars(
        select(StripeEvent).where(StripeEvent.type == "checkout.session.completed")
    ).one()
    assert checkout.payload["data"]["object"]["customer"] == "cus_ana"
    assert checkout.payload["data"]["object"]["customer_details"] is None


def test_an_event_arriving_after_the_erasure_keeps_no_address(bclient, boutbox, bsession):
    ana = paying_ana(bclient, boutbox, bsession)
    privacy.erase_subscriber(bsession, ana, utcnow())
    bsession.commit()
    late = invoice(
        customer="cus_ana",
        subscription_id="sub_ana",
        amount_paid=500,
        paid_at=T + 5_200_000,
        customer_email="ana@example.com",
    )
    assert post_event(bclient, event("invoice.paid", late, T + 5_200_000)).status_code == 200
    updated = {
        "id": "cus_ana",
        "object": "customer",
        "email": "ana@example.com",
        "name": "Ana Lima",
        "metadata": {},
    }
    assert post_event(bclient, event("customer.updated", updated, T + 5_200_001)).status_code == 200
    bsession.expire_all()
    assert personal_text_left(bsession) == []
    assert bsession.scalar(select(func.count()).select_from(Invoice)) == 3  # the payment still counts
