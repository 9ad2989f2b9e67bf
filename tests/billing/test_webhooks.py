"""POST /webhooks/stripe: verified first, stored once, applied in event order, linked."""

from __future__ import annotations

import logging
import random
import time

from sqlalchemy import func, select

from billing.models import (
    Invoice,
    StripeCustomer,
    StripeEvent,
    Subscription,
    SubscriptionSnapshot,
    Tier,
)
from growth import access
from growth.models import SubscriberEvent
from tests.billing.conftest import WEBHOOK_SECRET, confirmed_subscriber, monthly_tier, post_event
from tests.conftest import read_outbox, text_of
from tests.fakes.stripe import discount, encode, event, invoice, sign, subscription

T = 1_767_225_600  # 2026-01-01T00:00:00Z


def events_stored(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(StripeEvent))


def mirror(session, sub_id: str) -> Subscription:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.scalars(select(Subscription).where(Subscription.stripe_subscription_id == sub_id)).one()


# -- verification ---------------------------------------------------------------------------------


def test_forged_signature_is_refused_and_nothing_stored(bclient, bsession):
    payload = event("customer.subscription.created", subscription(), T)
    response = post_event(bclient, payload, secret="whsec_not_ours")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert events_stored(bsession) == 0


def test_tampered_body_is_refused(bclient, bsession):
    body = encode(event("invoice.paid", invoice(amount_paid=500), T))
    header = sign(body, WEBHOOK_SECRET)
    tampered = body.replace(b'"amount_paid":500', b'"amount_paid":5')
    response = bclient.post("/webhooks/stripe", data=tampered, headers={"Stripe-Signature": header})
    assert response.status_code == 400
    assert events_stored(bsession) == 0


def test_stale_signature_is_refused(bclient, bsession):
    payload = event("customer.subscription.created", subscription(), T)
    response = post_event(bclient, payload, timestamp=int(time.time()) - 301)
    assert response.status_code == 400
    assert events_stored(bsession) == 0
    # within the 300 s tolerance it is accepted
    assert post_event(bclient, payload, timestamp=int(time.time()) - 290).status_code == 200


def test_missing_signature_header_is_refused(bclient, bsession):
    response = bclient.post("/webhooks/stripe", data=encode(event("invoice.paid", invoice(), T)))
    assert response.status_code == 400
    assert events_stored(bsession) == 0


def test_without_a_secret_every_request_is_refused_with_a_warning(app_factory, fake_stripe, caplog):
    app = app_factory(stripe_secret_key="sk_test_x", stripe_api_base=fake_stripe.url)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="billing.webhooks"):
        response = post_event(client, event("invoice.paid", invoice(), T))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "webhooks_not_configured"
    assert any("STRIPE_WEBHOOK_SECRET" in r.getMessage() for r in caplog.records)
    with app.app_context():
        from growth.db import db

        assert events_stored(db.session) == 0


def test_signed_but_not_an_event_is_refused(bclient, bsession):
    body = b'{"hello": "world"}'
    response = bclient.post(
        "/webhooks/stripe", data=body, headers={"Stripe-Signature": sign(body, WEBHOOK_SECRET)}
    )
    assert response.status_code == 400
    assert events_stored(bsession) == 0


# -- once, in order -------------------------------------------------------------------------------


def test_redelivery_answers_200_and_changes_nothing(bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    paid = event("invoice.paid", invoice(amount_paid=700, metadata={"subscriber_id": str(ana.id)}), T)
    first = post_event(bclient, paid)
    again = post_event(bclient, paid)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_json()["duplicate"] is True
    assert events_stored(bsession) == 1
    assert bsession.scalar(select(func.count()).select_from(Invoice)) == 1


def test_unknown_event_types_are_acknowledged_and_ignored(bclient, bsession):
    response = post_event(bclient, event("charge.refund.updated", {"id": "re_1", "object": "refund"}, T))
    assert response.status_code == 200
    row = bsession.scalars(select(StripeEvent)).one()
    assert row.outcome == "ignored" and row.processed_at is not None


def _lifecycle(sub_id: str, customer: str, meta: dict[str, str]) -> list[dict]:
    common = dict(sub_id=sub_id, customer=customer, metadata=meta, price_id="price_gold_m")
    return [
        event("customer.subscription.created", subscription(status="incomplete", **common), T),
        event("customer.subscription.updated", subscription(status="active", **common), T),
        event(
            "customer.subscription.updated",
            subscription(status="active", quantity=2, **common),
            T + 60,
        ),
        event(
            "customer.subscription.updated",
            subscription(status="past_due", quantity=2, **common),
            T + 120,
        ),
        event(
            "customer.subscription.updated",
            subscription(status="active", quantity=2, cancel_at_period_end=True, **common),
            T + 180,
        ),
        event(
            "customer.subscription.deleted",
            subscription(status="canceled", quantity=2, canceled_at=T + 240, **common),
            T + 240,
        ),
    ]


def test_shuffled_delivery_ends_in_the_same_state_as_ordered(bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    events = _lifecycle("sub_shuffle", "cus_shuffle", {"subscriber_id": str(ana.id)})
    for seed in range(3):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        for e in shuffled:
            e = {**e, "id": f"{e['id']}_{seed}"}
            assert post_event(bclient, e).status_code == 200
        sub = mirror(bsession, "sub_shuffle")
        assert (sub.status, sub.quantity, sub.state_at.timestamp()) == ("canceled", 2, T + 240)


def test_newest_state_wins_and_a_late_older_update_is_kept_as_history(bclient, bsession):
    meta: dict[str, str] = {}
    newer = event(
        "customer.subscription.updated",
        subscription(sub_id="sub_o", customer="cus_o", quantity=3, metadata=meta),
        T + 100,
    )
    older = event(
        "customer.subscription.updated",
        subscription(sub_id="sub_o", customer="cus_o", quantity=1, metadata=meta),
        T + 50,
    )
    post_event(bclient, newer)
    post_event(bclient, older)
    assert mirror(bsession, "sub_o").quantity == 3
    assert bsession.scalar(select(func.count()).select_from(SubscriptionSnapshot)) == 2


def test_a_late_older_update_never_revives_a_canceled_subscription(bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    meta = {"subscriber_id": str(ana.id)}
    post_event(
        bclient,
        event(
            "customer.subscription.created",
            subscription(sub_id="sub_r", customer="cus_r", metadata=meta),
            T,
        ),
    )
    post_event(
        bclient,
        event(
            "customer.subscription.deleted",
            subscription(sub_id="sub_r", customer="cus_r", status="canceled", metadata=meta),
            T + 500,
        ),
    )
    post_event(
        bclient,
        event(
            "customer.subscription.updated",
            subscription(sub_id="sub_r", customer="cus_r", status="active", metadata=meta),
            T + 100,
        ),
    )
    assert mirror(bsession, "sub_r").status == "canceled"
    bsession.refresh(ana)
    assert ana.stage == "churned"


def test_on_a_tie_the_terminal_status_wins(bclient, bsession):
    deleted = event(
        "customer.subscription.deleted",
        subscription(sub_id="sub_t", customer="cus_t", status="canceled"),
        T,
    )
    updated = event(
        "customer.subscription.updated",
        subscription(sub_id="sub_t", customer="cus_t", status="active"),
        T,
    )
    post_event(bclient, deleted)
    post_event(bclient, updated)
    assert mirror(bsession, "sub_t").status == "canceled"


def test_incomplete_expired_is_terminal_too(bclient, bsession):
    post_event(
        bclient,
        event(
            "customer.subscription.updated",
            subscription(sub_id="sub_x", customer="cus_x", status="incomplete_expired"),
            T,
        ),
    )
    post_event(
        bclient,
        event(
            "customer.subscription.updated",
            subscription(sub_id="sub_x", customer="cus_x", status="incomplete"),
            T,
        ),
    )
    assert mirror(bsession, "sub_x").status == "incomplete_expired"


# -- linking and lifecycle ------------------------------------------------------------------------


def test_lifecycle_mirrors_the_subscription_and_moves_the_stage_with_event_rows(
    bclient, boutbox, bsession, fake_stripe
):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    tier = monthly_tier(bsession, "Gold", 500, "price_gold_m")
    events = _lifecycle("sub_life", "cus_life", {"subscriber_id": str(ana.id)})
    for e in events[:3]:
        post_event(bclient, e)
    sub = mirror(bsession, "sub_life")
    assert (sub.status, sub.quantity, sub.subscriber_id, sub.tier_id) == (
        "active",
        2,
        ana.id,
        tier.id,
    )
    assert sub.current_period_end is not None and sub.interval == "month"
    bsession.refresh(ana)
    assert ana.stage == "paying"
    assert access.paying_tiers(bsession, [ana.id]) == {ana.id: tier.id}
    post_event(bclient, events[3])  # past_due still grants the tier
    assert access.paying_tiers(bsession, [ana.id]) == {ana.id: tier.id}
    post_event(bclient, events[4])
    assert mirror(bsession, "sub_life").cancel_at_period_end is True
    post_event(bclient, events[5])
    bsession.refresh(ana)
    assert ana.stage == "churned"
    assert access.paying_tiers(bsession, [ana.id]) == {}
    stages = bsession.execute(
        select(SubscriberEvent.from_value, SubscriberEvent.to_value)
        .where(SubscriberEvent.subscriber_id == ana.id, SubscriberEvent.field == "stage")
        .order_by(SubscriberEvent.id)
    ).all()
    assert stages[-2:] == [("confirmed", "paying"), ("paying", "churned")]
    # the event's object is the state: processing never called Stripe
    assert fake_stripe.requests == []


def test_tier_comes_from_checkout_metadata_when_the_price_is_unknown(bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    tier = Tier(name="Silver", monthly_price_cents=300, yearly_price_cents=3000, currency="usd")
    bsession.add(tier)
    bsession.commit()
    meta = {"subscriber_id": str(ana.id), "tier_id": str(tier.id)}
    sub = subscription(sub_id="sub_meta", customer="cus_meta", price_id="price_unknown", metadata=meta)
    post_event(bclient, event("customer.subscription.created", sub, T))
    assert access.paying_tiers(bsession, None) == {ana.id: tier.id}


def test_checkout_links_by_client_reference_id_and_later_events_follow_the_customer(
    bclient, boutbox, bsession
):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    session_obj = {
        "id": "cs_1",
        "object": "checkout.session",
        "customer": "cus_ref",
        "subscription": "sub_ref",
        "client_reference_id": str(ana.id),
        "metadata": {},
        "customer_details": {"email": "other@example.com"},
    }
    post_event(bclient, event("checkout.session.completed", session_obj, T))
    # the subscription carries no metadata: the customer link finds Ana
    post_event(
        bclient,
        event(
            "customer.subscription.created",
            subscription(sub_id="sub_ref", customer="cus_ref"),
            T + 1,
        ),
    )
    assert mirror(bsession, "sub_ref").subscriber_id == ana.id
    bsession.refresh(ana)
    assert ana.stage == "paying"


def test_checkout_links_by_email_when_nothing_else_names_the_subscriber(bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    # the subscription arrives first, for a customer nobody knows yet
    post_event(
        bclient,
        event("customer.subscription.created", subscription(sub_id="sub_em", customer="cus_em"), T),
    )
    assert mirror(bsession, "sub_em").subscriber_id is None
    session_obj = {
        "id": "cs_2",
        "object": "checkout.session",
        "customer": "cus_em",
        "customer_details": {"email": "ANA@example.com"},
    }
    post_event(bclient, event("checkout.session.completed", session_obj, T + 1))
    assert mirror(bsession, "sub_em").subscriber_id == ana.id
    bsession.refresh(ana)
    assert ana.stage == "paying"


def test_metadata_subscriber_id_wins_over_email(bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    ben = confirmed_subscriber(bclient, boutbox, bsession, "ben@example.com")
    session_obj = {
        "id": "cs_3",
        "object": "checkout.session",
        "customer": "cus_m",
        "metadata": {"subscriber_id": str(ben.id)},
        "client_reference_id": str(ana.id),
        "customer_details": {"email": "ana@example.com"},
    }
    post_event(bclient, event("checkout.session.completed", session_obj, T))
    customer = bsession.scalars(
        select(StripeCustomer).where(StripeCustomer.stripe_customer_id == "cus_m")
    ).one()
    assert customer.subscriber_id == ben.id


def test_an_event_for_nobody_is_kept_for_review(bclient, bsession, caplog):
    with caplog.at_level(logging.WARNING, logger="billing.webhooks"):
        post_event(
            bclient,
            event(
                "invoice.payment_failed",
                invoice(
                    customer="cus_ghost",
                    customer_email="ghost@example.com",
                    status="open",
                    amount_due=500,
                ),
                T,
            ),
        )
    row = bsession.scalars(select(StripeEvent)).one()
    assert row.outcome == "unmatched" and row.payload["data"]["object"]["customer"] == "cus_ghost"
    assert any("kept for review" in r.getMessage() for r in caplog.records)


def test_invoice_paid_builds_the_ledger_and_the_revenue_lookup(bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    meta = {"subscriber_id": str(ana.id)}
    post_event(
        bclient,
        event(
            "invoice.paid",
            invoice(customer="cus_l", subscription_id="sub_l", amount_paid=1100, tax=100, metadata=meta),
            T,
        ),
    )
    post_event(
        bclient,
        event(
            "invoice.paid",
            invoice(customer="cus_l", subscription_id="sub_l", amount_paid=1100, tax=100, metadata=meta),
            T + 2_600_000,
        ),
    )
    post_event(
        bclient,
        event(
            "invoice.paid",
            invoice(
                customer="cus_l",
                subscription_id="sub_l",
                amount_paid=900,
                currency="eur",
                metadata=meta,
            ),
            T,
        ),
    )
    row = bsession.scalars(select(Invoice).order_by(Invoice.id)).first()
    assert (
        row.amount_paid_cents,
        row.tax_cents,
        row.stripe_subscription_id,
        row.subscriber_id,
    ) == (1100, 100, "sub_l", ana.id)
    assert row.period_start is not None and row.period_end is not None
    assert access.revenue_by_subscriber(bsession) == {ana.id: {"usd": 2000, "eur": 900}}
    assert access.has_billing()


def test_payment_failed_sends_a_dunning_email_with_the_portal_link(bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    before = len(read_outbox(boutbox))
    failed = invoice(
        customer="cus_d",
        subscription_id="sub_d",
        status="open",
        amount_paid=0,
        amount_due=1250,
        metadata={"subscriber_id": str(ana.id)},
        next_payment_attempt=T + 3 * 86400,
    )
    payload = event("invoice.payment_failed", failed, T)
    post_event(bclient, payload)
    post_event(bclient, payload)  # a redelivery sends nothing more
    messages = read_outbox(boutbox)[before:]
    assert len(messages) == 1
    body = text_of(messages[0])
    assert "12.50 USD" in body and "04 January 2026" in body
    link = next(w for w in body.split() if "/billing" in w)
    page = bclient.get(link.replace("http://masthead.test", ""))
    assert page.status_code == 200
    assert b'action="/billing/portal"' in page.data


def test_trial_will_end_reminds_the_subscriber(bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    before = len(read_outbox(boutbox))
    sub = subscription(
        sub_id="sub_tr",
        customer="cus_tr",
        status="trialing",
        trial_end=T + 3 * 86400,
        metadata={"subscriber_id": str(ana.id)},
    )
    post_event(bclient, event("customer.subscription.trial_will_end", sub, T))
    messages = read_outbox(boutbox)[before:]
    assert len(messages) == 1 and "04 January 2026" in text_of(messages[0])
    bsession.refresh(ana)
    assert ana.stage == "paying"  # a trial grants the tier


def test_paused_and_resumed(bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    meta = {"subscriber_id": str(ana.id)}
    post_event(
        bclient,
        event(
            "customer.subscription.created",
            subscription(sub_id="sub_p", customer="cus_p", metadata=meta),
            T,
        ),
    )
    post_event(
        bclient,
        event(
            "customer.subscription.paused",
            subscription(sub_id="sub_p", customer="cus_p", status="paused", metadata=meta),
            T + 10,
        ),
    )
    assert mirror(bsession, "sub_p").status == "paused"
    bsession.refresh(ana)
    assert ana.stage == "churned"
    post_event(
        bclient,
        event(
            "customer.subscription.resumed",
            subscription(sub_id="sub_p", customer="cus_p", metadata=meta),
            T + 20,
        ),
    )
    assert mirror(bsession, "sub_p").status == "active"
    bsession.refresh(ana)
    assert ana.stage == "paying"


def test_a_signed_event_with_an_unreadable_object_is_kept_as_invalid(bclient, bsession):
    bad = subscription(sub_id="sub_bad", customer="cus_bad")
    bad["status"] = "exploded"
    assert post_event(bclient, event("customer.subscription.updated", bad, T)).status_code == 200
    row = bsession.scalars(select(StripeEvent)).one()
    assert row.outcome == "invalid" and "exploded" in row.note
    assert bsession.scalar(select(func.count()).select_from(Subscription)) == 0


def test_every_item_of_a_subscription_counts(bclient, bsession):
    from billing import reports

    sub = subscription(sub_id="sub_items", customer="cus_items", unit_amount=1000, quantity=2)
    addon = {**sub["items"]["data"][0], "id": "si_addon", "quantity": 3}
    addon["price"] = {**addon["price"], "id": "price_addon", "unit_amount": 150}
    sub["items"]["data"].append(addon)
    post_event(bclient, event("customer.subscription.created", sub, T))
    assert mirror(bsession, "sub_items").extra_items_cents == 450
    import datetime as dt

    end = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    # 1000 x 2 + 150 x 3 = 2450 a month
    assert reports.revenue_report(bsession, end - dt.timedelta(days=31), end)["mrr_cents"] == 2450


def test_every_email_can_link_to_the_pricing_and_billing_pages(bclient, boutbox, bsession):
    from growth import emails

    ana = confirmed_subscriber(bclient, boutbox, bsession)
    found = emails.email_context(bsession, ana, None)
    assert found["upgrade_url"].startswith("http://masthead.test/me/")
    assert bclient.get(found["upgrade_url"].removeprefix("http://masthead.test")).status_code == 200
    assert bclient.get(found["billing_url"].removeprefix("http://masthead.test")).status_code == 200


def test_events_left_unprocessed_are_applied_by_the_cli(billing_app, bclient, boutbox, bsession):
    from billing.webhooks import record_event
    from growth.db import utcnow

    ana = confirmed_subscriber(bclient, boutbox, bsession)
    meta = {"subscriber_id": str(ana.id)}
    payload = event(
        "customer.subscription.created",
        subscription(sub_id="sub_cli", customer="cus_cli", metadata=meta),
        T,
    )
    record_event(bsession, payload, utcnow())  # stored, but its processing never ran
    bsession.commit()
    result = billing_app.test_cli_runner().invoke(args=["process-stripe-events"])
    assert result.exit_code == 0, result.output
    assert "1 event(s) processed" in result.output and "applied" in result.output
    assert mirror(bsession, "sub_cli").subscriber_id == ana.id
    again = billing_app.test_cli_runner().invoke(args=["process-stripe-events"])
    assert "0 event(s) processed" in again.output


def test_during_secret_rotation_any_matching_v1_signature_is_accepted(bclient, bsession):
    body = encode(event("charge.succeeded", {"id": "ch_1", "object": "charge"}, T))
    now = int(time.time())
    old = sign(body, "whsec_old_secret", now).split("v1=")[1]
    good = sign(body, WEBHOOK_SECRET, now).split("v1=")[1]
    header = f"t={now},v1={old},v1={good}"
    response = bclient.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": header})
    assert response.status_code == 200
    # a v0 (test-mode legacy) signature alone does not count
    v0_only = f"t={now},v0={good}"
    other = encode(event("charge.succeeded", {"id": "ch_2", "object": "charge"}, T))
    assert (
        bclient.post("/webhooks/stripe", data=other, headers={"Stripe-Signature": v0_only}).status_code == 400
    )
    assert events_stored(bsession) == 1


# -- floods (bench/floods.py found these) -----------------------------------------------------


def test_the_tier_follows_the_newest_state_when_an_older_event_arrives_last(bclient, boutbox, bsession):
    from billing import service
    from growth.db import utcnow

    ana = confirmed_subscriber(bclient, boutbox, bsession)
    tiers = [
        service.create_tier(
            bsession,
            service.TierInput(
                name=name, monthly_price_cents=cents, yearly_price_cents=cents * 10, currency="usd"
            ),
            utcnow(),
        )
        for name, cents in (("Supporter", 800), ("Patron", 2000))
    ]
    bsession.commit()

    def state(tier, price: str, at: int) -> dict:  # type: ignore[no-untyped-def,type-arg]
        meta = {"subscriber_id": str(ana.id), "tier_id": str(tier.id)}
        return subscription(
            sub_id="sub_up", customer="cus_up", price_id=price, metadata=meta, period_start=at
        )

    upgraded = event(
        "customer.subscription.updated", state(tiers[1], "price_unsynced_patron", T + 900), T + 900
    )
    created = event("customer.subscription.created", state(tiers[0], "price_unsynced_supporter", T), T)
    assert post_event(bclient, upgraded).status_code == 200
    assert post_event(bclient, created).status_code == 200  # older, arriving last
    assert mirror(bsession, "sub_up").tier_id == tiers[1].id


def test_paying_starts_when_stripe_says_whatever_the_arrival_order(bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    meta = {"subscriber_id": str(ana.id)}
    common = {"sub_id": "sub_late", "customer": "cus_late", "metadata": meta}
    renewed = event(
        "customer.subscription.updated", subscription(period_start=T + 2_592_000, **common), T + 2_592_000
    )
    created = event("customer.subscription.created", subscription(period_start=T, **common), T)
    deleted = event(
        "customer.subscription.deleted",
        subscription(status="canceled", canceled_at=T + 5_000_000, **common),
        T + 5_000_000,
    )
    for payload in (deleted, renewed, created):  # the end first, the start last
        assert post_event(bclient, payload).status_code == 200
    bsession.expire_all()
    history = bsession.execute(
        select(SubscriberEvent.from_value, SubscriberEvent.to_value, SubscriberEvent.at)
        .where(SubscriberEvent.subscriber_id == ana.id, SubscriberEvent.field == "stage")
        .order_by(SubscriberEvent.at, SubscriberEvent.id)
    ).all()
    stripe_moves = [(f, t, int(at.timestamp())) for f, t, at in history if t in ("paying", "churned")]
    assert stripe_moves == [("confirmed", "paying", T), ("paying", "churned", T + 5_000_000)]


def test_an_event_that_came_before_its_customer_was_known_is_linked_when_it_is(bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    early = event("customer.discount.created", discount(coupon_id="EARLY", customer="cus_early"), T)
    assert post_event(bclient, early).status_code == 200
    bsession.expire_all()
    row = bsession.scalars(select(StripeEvent).where(StripeEvent.event_id == early["id"])).one()
    assert (row.outcome, row.subscriber_id) == ("unmatched", None)
    checkout = {
        "id": "cs_early",
        "object": "checkout.session",
        "customer": "cus_early",
        "subscription": "sub_early",
        "client_reference_id": str(ana.id),
        "metadata": {},
        "customer_details": {"email": "ana@example.com"},
    }
    assert post_event(bclient, event("checkout.session.completed", checkout, T + 1)).status_code == 200
    bsession.expire_all()
    row = bsession.scalars(select(StripeEvent).where(StripeEvent.event_id == early["id"])).one()
    assert (row.outcome, row.subscriber_id) == ("applied", ana.id)  # as if it had come second
