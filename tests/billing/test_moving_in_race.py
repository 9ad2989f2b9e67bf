"""Two imports of one paid member's file at once: one reader, one customer, one mirror (PostgreSQL)."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import delete, func, select

from billing.models import StripeCustomer, Subscription, SubscriptionSnapshot
from growth import auth
from growth.app import create_app
from growth.db import db, utcnow
from growth.models import ApiToken, Consent, Operator, Subscriber
from tests.conftest import USING_POSTGRES, make_config
from tests.fakes.stripe import subscription


@pytest.mark.skipif(not USING_POSTGRES, reason="two concurrent transactions need PostgreSQL")
def test_the_same_export_imported_twice_at_once_links_and_mirrors_once(database_url, tmp_path, fake_stripe):
    saved = (db.engine, db.session_factory)
    app = create_app(
        make_config(database_url, tmp_path, stripe_secret_key="sk_test_race", stripe_api_base=fake_stripe.url)
    )
    tag = uuid.uuid4().hex[:8]
    paying, free = f"paying-{tag}@example.com", f"free-{tag}@example.com"
    customer = fake_stripe.add_customer(paying, customer_id=f"cus_race{tag}")["id"]
    sub = fake_stripe.add_subscription(
        subscription(customer=customer, sub_id=f"sub_race{tag}", unit_amount=900)
    )
    with app.app_context():
        operator = auth.create_operator(db.session, f"ops-{tag}@example.com", "a long password here", "admin")
        # One token per run: a token's last use is written, and one row would queue them.
        tokens = [auth.create_token(db.session, operator) for _ in range(3)]
        # The paying reader is known already (signed up here first): both runs link them.
        db.session.add(
            Subscriber(
                email=paying,
                email_normalized=paying,
                referral_code=f"race{tag}",
                status="active",
                stage="confirmed",
                confirmed_at=utcnow(),
            )
        )
        db.session.commit()
        operator_id = operator.id
    body = (
        "email,name,subscribed_to_emails,complimentary_plan,stripe_customer_id\n"
        f"{paying},Paying,true,false,{customer}\n{free},Free,true,false,\n"
    ).encode()
    fake_stripe.delay = 0.5  # every run plans before any has linked: they meet at the writes
    barrier = threading.Barrier(3)
    answers: list[tuple[int, dict]] = []

    def run(token: str) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/api/v1/subscribers/import-members?platform=ghost",
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
        )
        answers.append((response.status_code, response.get_json()))

    try:
        threads = [threading.Thread(target=run, args=(token,)) for token in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert [status for status, _ in answers] == [200, 200, 200], answers
        assert sum(a["new"] for _, a in answers) == 1  # the free reader, once
        assert sum(a["paid_linked"] for _, a in answers) >= 1
        with app.app_context():
            s = db.session
            emails = [paying, free]
            assert (
                s.scalar(
                    select(func.count())
                    .select_from(Subscriber)
                    .where(Subscriber.email_normalized.in_(emails))
                )
                == 2
            )
            owner = s.scalars(select(Subscriber).where(Subscriber.email_normalized == paying)).one()
            assert owner.stage == "paying"
            assert (
                s.scalars(select(StripeCustomer).where(StripeCustomer.stripe_customer_id == customer))
                .one()
                .subscriber_id
                == owner.id
            )
            assert (
                s.scalars(select(Subscription).where(Subscription.stripe_subscription_id == sub["id"]))
                .one()
                .subscriber_id
                == owner.id
            )
            assert (
                s.scalar(
                    select(func.count())
                    .select_from(SubscriptionSnapshot)
                    .where(SubscriptionSnapshot.stripe_subscription_id == sub["id"])
                )
                == 1
            )
            newcomer = s.scalars(select(Subscriber).where(Subscriber.email_normalized == free)).one()
            assert (
                s.scalar(
                    select(func.count()).select_from(Consent).where(Consent.subscriber_id == newcomer.id)
                )
                == 1
            )
            # Once they settle, the file changes nothing.
        again = (
            app.test_client()
            .post(
                "/api/v1/subscribers/import-members?platform=ghost",
                data=body,
                headers={"Authorization": f"Bearer {tokens[0]}", "Content-Type": "text/csv"},
            )
            .get_json()
        )
        assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, 2)
    finally:
        with app.app_context():
            s = db.session
            ids = list(
                s.scalars(select(Subscriber.id).where(Subscriber.email_normalized.in_([paying, free])))
            )
            s.execute(
                delete(SubscriptionSnapshot).where(SubscriptionSnapshot.stripe_subscription_id == sub["id"])
            )
            s.execute(delete(Subscription).where(Subscription.stripe_subscription_id == sub["id"]))
            s.execute(delete(StripeCustomer).where(StripeCustomer.stripe_customer_id == customer))
            s.execute(delete(Subscriber).where(Subscriber.id.in_(ids)))
            s.execute(delete(ApiToken).where(ApiToken.operator_id == operator_id))
            s.execute(delete(Operator).where(Operator.id == operator_id))
            s.commit()
        db.engine.dispose()
        db.engine, db.session_factory = saved
