"""A gift's whole path: a one-time Checkout for someone else, the redeem link, the grant, the
invitation near its end, and gift revenue reported apart from MRR."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import select

from billing import gifts, reports
from billing.models import Gift, Grant, Invoice, Tier
from content import paywall
from growth import access
from growth.db import utcnow
from growth.models import Consent, Subscriber
from tests.billing.conftest import confirmed_subscriber, csrf_from, post_event
from tests.billing.test_checkout import make_tier, sync
from tests.growth.helpers import link_in, messages


def _tier(billing_app, bsession) -> Tier:  # type: ignore[no-untyped-def]
    tier = make_tier(billing_app, bsession)  # 5.00 a month, 50.00 a year
    sync(billing_app)
    bsession.expire_all()
    return bsession.get(Tier, tier.id)


def test_a_gift_from_checkout_to_redeem_to_invitation(billing_app, bclient, boutbox, bsession, fake_stripe):
    gold = _tier(billing_app, bsession)
    html = bclient.get("/pricing").get_data(as_text=True)
    assert "Give it as a gift" in html
    response = bclient.post(
        "/billing/gift",
        data={
            "csrf_token": csrf_from(html),
            "tier_id": gold.id,
            "months": "3",
            "recipient_email": "Friend@Example.com",
        },
    )
    assert response.status_code == 303
    checkout = next(iter(fake_stripe.checkout_sessions.values()))
    assert checkout["mode"] == "payment" and checkout["amount_total"] == 1500
    assert checkout["line_items"][0]["price_data"]["product"] == gold.stripe_product_id
    assert checkout["metadata"] == {
        "masthead_gift": "1",
        "tier_id": str(gold.id),
        "months": "3",
        "recipient_email": "Friend@example.com",
    }
    assert checkout["customer_email"] is None  # the buyer gives theirs at Checkout

    [completed] = fake_stripe.complete_checkout(checkout["id"], int(time.time()), email="giver@example.com")
    assert completed["data"]["object"]["payment_status"] == "paid"
    for _ in range(2):  # delivered twice: one gift, one email
        assert post_event(bclient, completed).status_code == 200
    bsession.expire_all()
    gift = bsession.scalars(select(Gift)).one()
    assert (gift.months, gift.amount_cents, gift.currency, gift.giver_email) == (
        3,
        1500,
        "usd",
        "giver@example.com",
    )
    friend = bsession.get(Subscriber, gift.recipient_id)
    assert friend.email_normalized == "friend@example.com" and friend.status == "pending"
    assert bsession.scalars(select(Consent).where(Consent.subscriber_id == friend.id)).all() == []
    [mail] = messages(boutbox, "gift")
    assert "giver@example.com gave you 3 months of Gold" in mail.get_body(("plain",)).get_content()
    assert messages(boutbox, "confirmation") == []
    # a gift is no subscription, no invoice, never MRR; the report shows it apart
    now = utcnow()
    report = reports.revenue_report(bsession, now - dt.timedelta(days=30), now + dt.timedelta(seconds=5))
    assert report["mrr_cents"] == 0 and report["paying_subscribers"] == 0
    assert report["gifts"] == {"count": 1, "revenue_cents": {"usd": 1500}}
    assert bsession.scalars(select(Invoice)).all() == []

    # the recipient opens the link: a page with one button (a scanner's GET redeems nothing)
    path = link_in(mail, "/gift/")
    page = bclient.get(path)
    assert page.status_code == 200 and b"Open my gift" in page.data
    assert bsession.scalars(select(Grant)).all() == []
    opened = bclient.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert opened.status_code == 200 and b"Your gift is open" in opened.data
    again = bclient.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert b"opened already" in again.data
    bsession.expire_all()
    friend = bsession.get(Subscriber, friend.id)
    assert friend.status == "active" and friend.stage == "confirmed"  # confirmed, never paying
    [grant] = bsession.scalars(select(Grant)).all()
    assert grant.kind == "gift" and grant.subscriber_id == friend.id
    assert gifts.add_months(grant.starts_at, 3) == grant.ends_at
    assert paywall.can_read("paid", paywall.reader_for(bsession, friend))
    assert access.paying_tiers(bsession, [friend.id]) == {}
    assert len(messages(boutbox, "welcome")) == 1

    # near its end, one invitation to subscribe (a pitch); none before, none twice
    assert gifts.invite_near_end(bsession, grant.ends_at - dt.timedelta(days=8)) == 0
    assert gifts.invitations_work(bsession, grant.ends_at - dt.timedelta(days=6)) == "1 invited"
    assert gifts.invite_near_end(bsession, grant.ends_at - dt.timedelta(days=5)) == 0
    [invite] = messages(boutbox, "gift_ending")
    assert "/upgrade" in invite.get_body(("plain",)).get_content()
    assert invite["List-Unsubscribe"] and invite["X-Masthead-Kind"] == "gift_ending"
    from growth.models import Delivery

    kinds = bsession.scalars(select(Delivery.kind).where(Delivery.template == "gift_ending")).all()
    assert kinds == ["pitch"]


def test_a_gift_for_a_known_reader_and_bad_gift_input(billing_app, bclient, boutbox, bsession, fake_stripe):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    gold = _tier(billing_app, bsession)
    html = bclient.get("/pricing").get_data(as_text=True)
    headers = {"X-CSRFToken": csrf_from(html)}
    for payload, status in [
        ({"tier_id": gold.id, "months": 2, "recipient_email": "ana@example.com"}, 422),
        ({"tier_id": gold.id, "months": 12, "recipient_email": "not an address"}, 422),
        ({"tier_id": "x", "months": 12, "recipient_email": "ana@example.com"}, 400),
        ({"tier_id": 999_999, "months": 12, "recipient_email": "ana@example.com"}, 404),
    ]:
        response = bclient.post("/billing/gift", json=payload, headers=headers)
        assert response.status_code == status, (payload, response.get_json())
    ok = bclient.post(
        "/billing/gift",
        json={"tier_id": gold.id, "months": 12, "recipient_email": "ana@example.com"},
        headers=headers,
    )
    assert ok.status_code == 200 and ok.get_json()["url"].startswith("https://checkout.stripe.test/")
    checkout = next(iter(fake_stripe.checkout_sessions.values()))
    assert checkout["amount_total"] == 5000  # a year at the yearly price
    for e in fake_stripe.complete_checkout(checkout["id"], int(time.time()), email="giver@example.com"):
        assert post_event(bclient, e).status_code == 200
    bsession.expire_all()
    gift = bsession.scalars(select(Gift)).one()
    assert gift.recipient_id == ana.id
    assert bclient.get("/gift/forged").status_code == 404


def test_an_unpaid_gift_session_makes_no_gift(billing_app, bclient, bsession):
    from tests.fakes.stripe import event

    gold = _tier(billing_app, bsession)
    obj = {
        "id": "cs_gift_unpaid",
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "unpaid",
        "amount_total": 500,
        "currency": "usd",
        "customer": None,
        "customer_details": {"email": "giver@example.com"},
        "metadata": {
            "masthead_gift": "1",
            "tier_id": str(gold.id),
            "months": "1",
            "recipient_email": "x@example.com",
        },
    }
    assert post_event(bclient, event("checkout.session.completed", obj, int(time.time()))).status_code == 200
    assert bsession.scalars(select(Gift)).all() == []
    # the bank debit clears later: the same session, paid
    paid = event(
        "checkout.session.async_payment_succeeded", {**obj, "payment_status": "paid"}, int(time.time())
    )
    assert post_event(bclient, paid).status_code == 200
    assert len(bsession.scalars(select(Gift)).all()) == 1


def test_erasing_a_giver_drops_their_address_from_the_gift(
    billing_app, bclient, boutbox, bsession, fake_stripe
):
    from growth import privacy

    giver = confirmed_subscriber(bclient, boutbox, bsession, "giver@example.com")
    gold = _tier(billing_app, bsession)
    html = bclient.get("/pricing").get_data(as_text=True)
    bclient.post(
        "/billing/gift",
        data={
            "csrf_token": csrf_from(html),
            "tier_id": gold.id,
            "months": "1",
            "recipient_email": "r@example.com",
        },
    )
    checkout = next(iter(fake_stripe.checkout_sessions.values()))
    for e in fake_stripe.complete_checkout(checkout["id"], int(time.time()), email="giver@example.com"):
        assert post_event(bclient, e).status_code == 200
    bsession.expire_all()
    recipient = bsession.get(Subscriber, bsession.scalars(select(Gift)).one().recipient_id)
    assert (
        privacy.export_subscriber(bsession, recipient, utcnow())["billing"]["gifts_received"][0]["months"]
        == 1
    )
    privacy.erase_subscriber(bsession, bsession.get(Subscriber, giver.id), utcnow())
    bsession.expire_all()
    assert bsession.scalars(select(Gift)).one().giver_email is None
