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
