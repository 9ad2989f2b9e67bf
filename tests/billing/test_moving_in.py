"""Paid members moving in: their Stripe customer linked, subscriptions mirrored, MRR right at once.

The Stripe fake answers the customer retrieve and the subscription list by customer as the
pinned API version does (a list object; discounts as ids). Nobody goes through Checkout.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import func, select

from billing.models import StripeCustomer, Subscription, SubscriptionSnapshot
from growth import access, auth
from growth.models import Consent, Subscriber
from tests.billing.conftest import monthly_tier, post_event
from tests.fakes.stripe import event, subscription
from tests.growth import platform_exports as samples
from tests.growth.helpers import messages


@pytest.fixture
def admin(bsession) -> dict[str, str]:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(bsession, "admin@example.com", "long enough pw", "admin")
    token = auth.create_token(bsession, operator)
    bsession.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tier(bsession):  # type: ignore[no-untyped-def]
    return monthly_tier(bsession, "Supporter", 800, "price_supporter")


def post_export(client, headers, platform: str, body: str, dry_run: bool = False):  # type: ignore[no-untyped-def]
    query = f"?platform={platform}" + ("&dry_run=true" if dry_run else "")
    response = client.post(
        f"/api/v1/subscribers/import-members{query}",
        data=body.encode(),
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def paying_customer(fake_stripe, email: str, cents: int = 800, price: str = "price_supporter") -> str:  # type: ignore[no-untyped-def]
    """A customer who pays on this Stripe account already (through the old platform)."""
    customer = fake_stripe.add_customer(email)
    start = int(time.time()) - 10 * 86400
    fake_stripe.add_subscription(
        subscription(customer=customer["id"], price_id=price, unit_amount=cents, period_start=start)
    )
    return str(customer["id"])


def subscriber(session, email: str) -> Subscriber:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.scalars(select(Subscriber).where(Subscriber.email_normalized == email)).one()


def stripe_calls(fake_stripe) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(method, path) for method, path, _, _ in fake_stripe.requests]


def mrr_now(session) -> int:  # type: ignore[no-untyped-def]
    from billing import reports

    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    return int(reports.revenue_report(session, end - dt.timedelta(days=30), end)["mrr_cents"])


def test_substack_paid_member_pays_on_at_once_without_checkout(
    bclient, bsession, boutbox, fake_stripe, admin, tier
):
    customer = paying_customer(fake_stripe, "paid.one@example.com")
    # Substack's email list first (everyone, free), then its subscribers export (the paid).
    first = post_export(bclient, admin, "substack", samples.SUBSTACK_EMAIL_LIST)
    assert (first["new"], first["paid_found"]) == (4, 0)
    assert subscriber(bsession, "paid.one@example.com").stage == "confirmed"
    report = post_export(bclient, admin, "substack", samples.SUBSTACK_SUBSCRIBERS.format(paid_one=customer))
    assert (report["new"], report["updated"], report["unchanged"]) == (2, 1, 1)
    assert (report["paid_found"], report["paid_linked"], report["subscriptions_mirrored"]) == (1, 1, 1)
    assert report["paid_errors"] == [] and report["warnings"] == []
    assert {n["email"] for n in report["notes"]} == {
        "comped@example.com",
        "gifted@example.com",
        "group.member@example.com",
    }
    paid = subscriber(bsession, "paid.one@example.com")
    assert paid.stage == "paying"
    linked = bsession.scalars(select(StripeCustomer)).one()
    assert (linked.stripe_customer_id, linked.subscriber_id, linked.email) == (
        customer,
        paid.id,
        "paid.one@example.com",
    )
    mirrored = bsession.scalars(select(Subscription)).one()
    assert (mirrored.subscriber_id, mirrored.tier_id, mirrored.status) == (paid.id, tier.id, "active")
    assert access.paying_tiers(bsession, [paid.id]) == {paid.id: tier.id}
    assert mrr_now(bsession) == 800
    # Stripe was read, never written to: a customer retrieve and the list by customer.
    assert stripe_calls(fake_stripe) == [("GET", f"/v1/customers/{customer}"), ("GET", "/v1/subscriptions")]
    assert fake_stripe.requests[1][2] == {"customer": customer, "limit": "100"}
    # Nobody is asked to confirm again or to pay again.
    assert messages(boutbox, "confirmation") == []
    assert fake_stripe.checkout_sessions == {}


def test_re_running_the_paid_file_changes_nothing_and_asks_stripe_nothing(
    bclient, bsession, fake_stripe, admin, tier
):
    body = samples.GHOST.format(paying=paying_customer(fake_stripe, "paying@example.com"))
    post_export(bclient, admin, "ghost", body)
    calls = len(fake_stripe.requests)
    counts = [
        bsession.scalar(select(func.count()).select_from(m))
        for m in (Subscriber, Consent, StripeCustomer, Subscription, SubscriptionSnapshot)
    ]
    again = post_export(bclient, admin, "ghost", body)
    assert (again["new"], again["updated"], again["unchanged"], again["paid_linked"]) == (0, 0, 4, 0)
    assert again["paid_found"] == 1
    assert len(fake_stripe.requests) == calls
    assert [
        bsession.scalar(select(func.count()).select_from(m))
        for m in (Subscriber, Consent, StripeCustomer, Subscription, SubscriptionSnapshot)
    ] == counts
    assert mrr_now(bsession) == 800


def test_a_dry_run_counts_paid_members_and_neither_writes_nor_calls_stripe(
    bclient, bsession, fake_stripe, admin, tier
):
    body = samples.BEEHIIV.format(premium=paying_customer(fake_stripe, "premium@example.com"))
    report = post_export(bclient, admin, "beehiiv", body, dry_run=True)
    assert (report["dry_run"], report["new"], report["paid_found"], report["paid_linked"]) == (True, 5, 1, 0)
    assert report["warnings"] == []
    assert fake_stripe.requests == []
    assert bsession.scalar(select(func.count()).select_from(Subscriber)) == 0
    assert bsession.scalar(select(func.count()).select_from(StripeCustomer)) == 0


def test_a_customer_stripe_does_not_have_is_a_row_error_and_a_later_run_links_it(
    bclient, bsession, fake_stripe, admin, tier
):
    body = samples.GHOST.format(paying="cus_NotYetCopied")
    report = post_export(bclient, admin, "ghost", body)
    assert report["new"] == 4 and report["paid_linked"] == 0
    assert report["paid_errors"] == [
        {
            "line": 3,
            "email": "paying@example.com",
            "reason": "Stripe has no customer cus_NotYetCopied on this account.",
        }
    ]
    assert subscriber(bsession, "paying@example.com").status == "active"  # the reader is in
    assert bsession.scalar(select(func.count()).select_from(StripeCustomer)) == 0
    # The customers are copied over to this account; the same file, run again, links them.
    customer = fake_stripe.add_customer("paying@example.com", customer_id="cus_NotYetCopied")
    fake_stripe.add_subscription(
        subscription(customer=customer["id"], price_id="price_supporter", unit_amount=800)
    )
    again = post_export(bclient, admin, "ghost", body)
    assert (again["new"], again["updated"], again["unchanged"], again["paid_linked"]) == (0, 1, 3, 1)
    assert subscriber(bsession, "paying@example.com").stage == "paying"


def test_a_deleted_customer_is_not_linked(bclient, bsession, fake_stripe, admin, tier):
    customer = paying_customer(fake_stripe, "paying@example.com")
    fake_stripe.delete_customer(customer)
    report = post_export(bclient, admin, "ghost", samples.GHOST.format(paying=customer))
    assert [e["reason"] for e in report["paid_errors"]] == [
        f"Stripe has no customer {customer} on this account."
    ]


def test_a_customer_linked_to_someone_else_is_refused(bclient, bsession, fake_stripe, admin, tier):
    customer = paying_customer(fake_stripe, "paying@example.com")
    post_export(bclient, admin, "ghost", samples.GHOST.format(paying=customer))
    owner = subscriber(bsession, "paying@example.com").id
    other = f"email,subscribed_to_emails,stripe_customer_id\nsomeone.else@example.com,true,{customer}\n"
    report = post_export(bclient, admin, "ghost", other)
    assert report["new"] == 0
    assert report["invalid"] == [
        {
            "line": 2,
            "email": "someone.else@example.com",
            "reason": f"Stripe customer {customer} already belongs to subscriber {owner}",
        }
    ]


def test_a_stripe_outage_leaves_the_reader_imported_and_the_link_to_do(
    bclient, bsession, fake_stripe, admin, tier
):
    customer = paying_customer(fake_stripe, "paying@example.com")
    fake_stripe.fail_next = [500, 500, 500, 500]  # beyond the SDK's retries
    report = post_export(bclient, admin, "ghost", samples.GHOST.format(paying=customer))
    assert report["new"] == 4 and report["paid_linked"] == 0
    assert report["paid_errors"][0]["reason"].startswith("Stripe could not read the customer")
    assert bsession.scalar(select(func.count()).select_from(StripeCustomer)) == 0
    fake_stripe.fail_next = []
    again = post_export(bclient, admin, "ghost", samples.GHOST.format(paying=customer))
    assert (again["updated"], again["paid_linked"]) == (1, 1)


def test_webhooks_after_the_import_order_with_its_reading(bclient, bsession, fake_stripe, admin, tier):
    customer = paying_customer(fake_stripe, "paying@example.com")
    post_export(bclient, admin, "ghost", samples.GHOST.format(paying=customer))
    sub = bsession.scalars(select(Subscription)).one()
    obj = fake_stripe.subscriptions[sub.stripe_subscription_id]
    older = {**obj, "status": "past_due"}
    # An event Stripe created before the import, delivered late: the import's reading is newer.
    post_event(bclient, event("customer.subscription.updated", older, int(time.time()) - 3600))
    bsession.expire_all()
    assert bsession.get(Subscription, sub.id).status == "active"
    # A change after the import wins.
    post_event(bclient, event("customer.subscription.updated", older, int(time.time()) + 60))
    bsession.expire_all()
    assert bsession.get(Subscription, sub.id).status == "past_due"


def test_the_gateway_reads_every_page_of_a_customers_subscriptions(billing_app, fake_stripe):
    from billing.gateway import get_gateway

    customer = fake_stripe.add_customer("many@example.com")["id"]
    for _ in range(101):
        fake_stripe.add_subscription(subscription(customer=customer))
    fake_stripe.add_subscription(subscription(customer=customer, status="canceled"))
    fake_stripe.add_subscription(subscription(customer="cus_someone_else"))
    with billing_app.app_context():
        found = get_gateway().list_subscriptions(customer)
    assert len(found) == 101 and len({s["id"] for s in found}) == 101
    assert [p.get("starting_after") is not None for _, _, p, _ in fake_stripe.requests] == [False, True]


def test_old_platform_prices_count_in_mrr_and_a_named_tier_unlocks_them(
    bclient, bsession, fake_stripe, admin, tier
):
    # Substack's own price on this account: no Masthead tier knows it.
    customer = paying_customer(fake_stripe, "paying@example.com", cents=700, price="price_substack_monthly")
    body = samples.GHOST.format(paying=customer)
    report = post_export(bclient, admin, "ghost", body)
    assert (report["paid_linked"], report["untiered"]) == (1, 1)
    assert any("no tier knows" in w for w in report["warnings"])
    paying = subscriber(bsession, "paying@example.com")
    assert paying.stage == "paying" and mrr_now(bsession) == 700
    assert access.paying_tiers(bsession, [paying.id]) == {}  # no paid posts yet
    # Run again, the file is unchanged but for those paid members; a dry run naming the tier
    # says it would update them, and changes nothing.
    plain = post_export(bclient, admin, "ghost", body, dry_run=True)
    assert (plain["updated"], plain["unchanged"], plain["untiered"]) == (0, 4, 1)
    dry = bclient.post(
        f"/api/v1/subscribers/import-members?platform=ghost&dry_run=true&tier_id={tier.id}",
        data=body.encode(),
        headers={**admin, "Content-Type": "text/csv"},
    ).get_json()
    assert (dry["updated"], dry["unchanged"], dry["untiered"]) == (1, 3, 0)
    assert access.paying_tiers(bsession, [paying.id]) == {}
    client_query = f"/api/v1/subscribers/import-members?platform=ghost&tier_id={tier.id}"
    named = bclient.post(client_query, data=body.encode(), headers={**admin, "Content-Type": "text/csv"})
    assert named.status_code == 200
    assert (named.get_json()["updated"], named.get_json()["untiered"]) == (1, 0)
    bsession.expire_all()
    assert access.paying_tiers(bsession, [paying.id]) == {paying.id: tier.id}
    from billing.models import TierPrice

    legacy = bsession.scalars(
        select(TierPrice).where(TierPrice.stripe_price_id == "price_substack_monthly")
    ).one()
    assert (legacy.tier_id, legacy.active, legacy.unit_amount_cents) == (tier.id, False, 700)
    # Once named, the same run changes nothing; and later events for that price keep the tier.
    again = bclient.post(client_query, data=body.encode(), headers={**admin, "Content-Type": "text/csv"})
    assert (again.get_json()["updated"], again.get_json()["unchanged"]) == (0, 4)
    sub = bsession.scalars(select(Subscription)).one()
    obj = {**fake_stripe.subscriptions[sub.stripe_subscription_id], "cancel_at_period_end": True}
    post_event(bclient, event("customer.subscription.updated", obj, int(time.time()) + 60))
    bsession.expire_all()
    assert bsession.get(Subscription, sub.id).tier_id == tier.id


def test_an_unknown_tier_is_refused_before_anything_is_written(bclient, bsession, fake_stripe, admin, tier):
    response = bclient.post(
        "/api/v1/subscribers/import-members?platform=kit&tier_id=999",
        data=samples.KIT.encode(),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "unknown_tier"
    bad = bclient.post(
        "/api/v1/subscribers/import-members?platform=kit&tier_id=zero",
        data=samples.KIT.encode(),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert bad.status_code == 400
    assert bsession.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_an_imported_paying_member_is_not_announced_as_an_upgrade(
    bclient, bsession, fake_stripe, admin, tier
):
    from growth import signals
    from growth.models import SubscriberEvent

    heard: list[str] = []

    def listen(sender, **_kw):  # type: ignore[no-untyped-def]
        heard.append(sender.email)

    signals.subscriber_upgraded.connect(listen)
    try:
        post_export(
            bclient,
            admin,
            "ghost",
            samples.GHOST.format(paying=paying_customer(fake_stripe, "paying@example.com")),
        )
    finally:
        signals.subscriber_upgraded.disconnect(listen)
    assert heard == []
    paying = subscriber(bsession, "paying@example.com")
    stages = [
        (e.from_value, e.to_value, e.reason)
        for e in bsession.scalars(
            select(SubscriberEvent)
            .where(SubscriberEvent.subscriber_id == paying.id, SubscriberEvent.field == "stage")
            .order_by(SubscriberEvent.id)
        )
    ]
    assert stages == [(None, "confirmed", "imported-from-ghost"), ("confirmed", "paying", "imported_paying")]


def test_the_command_links_paid_members_and_names_their_tier(
    billing_app, bsession, fake_stripe, tier, tmp_path
):
    customer = paying_customer(fake_stripe, "premium@example.com", cents=600, price="price_beehiiv_premium")
    path = tmp_path / "beehiiv.csv"
    path.write_text(samples.BEEHIIV.format(premium=customer), encoding="utf-8")
    runner = billing_app.test_cli_runner()
    args = ["import-members", "--platform", "beehiiv", str(path)]
    dry = runner.invoke(args=[*args, "--dry-run", "--tier", str(tier.id)])
    assert dry.exit_code == 0, dry.output
    assert "paid members found 1, linked 0" in dry.output and fake_stripe.requests == []
    done = runner.invoke(args=[*args, "--tier", str(tier.id)])
    assert done.exit_code == 0, done.output
    assert "paid members found 1, linked 1, subscriptions mirrored 1, without a tier 0" in done.output
    premium = subscriber(bsession, "premium@example.com")
    assert access.paying_tiers(bsession, [premium.id]) == {premium.id: tier.id}
    unknown = runner.invoke(args=[*args, "--tier", "999"])
    assert unknown.exit_code == 1 and "There is no tier 999." in unknown.output
