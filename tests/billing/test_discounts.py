"""Discounts reach MRR through the coupon catalogue: events carry ids, terms come from coupons.

Events here are what Stripe sends for the pinned API version: a subscription's `discounts` are
ids, a Discount names its coupon by id under `source.coupon`, and only coupon.* events (or a
retrieve) carry a coupon's terms.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os

import pytest
from sqlalchemy import func, select

from billing import reports
from billing.models import StripeCoupon, StripeDiscount, StripeEvent
from growth.db import db
from tests.billing.conftest import WEBHOOK_SECRET, post_event
from tests.billing.test_tiers_and_report import bearer
from tests.fakes.stripe import coupon, discount, event, subscription


def ts(month: int, day: int) -> int:
    return int(dt.datetime(2026, month, day, tzinfo=dt.UTC).timestamp())


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, tzinfo=dt.UTC)


def report(session, month: int, day: int) -> dict:  # type: ignore[no-untyped-def]
    return reports.revenue_report(session, at(1, 1), at(month, day))


def mrr(session, month: int, day: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(MRR, of which resting on unpriced discounts) at that day."""
    r = report(session, month, day)
    return r["mrr_cents"], r["unpriced_discount_mrr_cents"]


def test_discount_known_only_by_id_is_priced_once_its_coupon_is_known(bclient, bsession):
    sub = subscription(sub_id="sub_di", customer="cus_di", unit_amount=2000, discounts=["di_late"])
    post_event(bclient, event("customer.subscription.created", sub, ts(1, 10)))
    # until Stripe describes the discount, MRR is the list price, all of it said to rest on it
    assert mrr(bsession, 2, 1) == (2000, 2000)
    described = discount(
        discount_id="di_late",
        coupon_id="co_25",
        customer="cus_di",
        subscription_id="sub_di",
        start=ts(1, 10),
        end=ts(3, 1),
    )
    post_event(bclient, event("customer.discount.created", described, ts(1, 10)))
    assert mrr(bsession, 2, 1) == (2000, 2000)  # the coupon's terms are still unknown
    post_event(bclient, event("coupon.created", coupon(coupon_id="co_25", percent_off=25.0), ts(1, 9)))
    # 2000 x 0.75 = 1500 while it runs; 2000 after it ends on Mar 1
    assert mrr(bsession, 2, 1) == (1500, 0)
    assert mrr(bsession, 3, 15) == (2000, 0)
    # removed early on Feb 10: full price from then on
    post_event(bclient, event("customer.discount.deleted", described, ts(2, 10)))
    assert mrr(bsession, 2, 5) == (1500, 0)
    assert mrr(bsession, 2, 15) == (2000, 0)
    # an older description arriving late changes nothing
    post_event(bclient, event("customer.discount.updated", {**described, "end": None}, ts(1, 11)))
    assert mrr(bsession, 2, 15) == (2000, 0)
    # coupon events match no subscriber, and are not kept for review as if they should
    outcomes = bsession.scalars(select(StripeEvent.outcome).where(StripeEvent.type == "coupon.created")).all()
    assert outcomes == ["applied"]


def test_deleting_a_coupon_keeps_pricing_the_discounts_made_from_it(bclient, bsession):
    sub = subscription(sub_id="sub_dc", customer="cus_dc", unit_amount=2000, discounts=["di_dc"])
    off = coupon(coupon_id="co_300", amount_off=300, currency="usd")
    post_event(bclient, event("coupon.created", off, ts(1, 1)))
    post_event(bclient, event("customer.subscription.created", sub, ts(1, 10)))
    post_event(
        bclient,
        event(
            "customer.discount.created",
            discount(discount_id="di_dc", coupon_id="co_300", customer="cus_dc", subscription_id="sub_dc"),
            ts(1, 10),
        ),
    )
    post_event(bclient, event("coupon.deleted", off, ts(1, 20)))
    # Stripe: deleting a coupon does not affect customers who already applied it
    assert mrr(bsession, 2, 1) == (1700, 0)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_out_of_order_and_twice_ends_the_same(bclient, bsession, order):
    n = "".join(map(str, order))
    sub = subscription(sub_id=f"sub_o{n}", customer=f"cus_o{n}", unit_amount=3000, discounts=[f"di_o{n}"])
    eur_priced = coupon(coupon_id=f"co_o{n}", amount_off=500, currency="eur", currency_options={"usd": 400})
    events = [
        event("coupon.created", eur_priced, ts(1, 5)),
        event(
            "customer.discount.created",
            discount(
                discount_id=f"di_o{n}",
                coupon_id=f"co_o{n}",
                customer=f"cus_o{n}",
                subscription_id=f"sub_o{n}",
                start=ts(1, 10),
            ),
            ts(1, 10),
        ),
        event("customer.subscription.created", sub, ts(1, 10)),
    ]
    for i in order:
        post_event(bclient, events[i])
    for i in order:  # every one delivered again
        assert post_event(bclient, events[i]).get_json()["duplicate"] is True
    # 3000 usd less the coupon's usd option of 400 (its 500 is in eur) = 2600
    assert mrr(bsession, 2, 1) == (2600, 0)
    assert (
        bsession.scalar(
            select(func.count(StripeDiscount.id)).where(StripeDiscount.stripe_discount_id == f"di_o{n}")
        )
        == 1
    )
    assert (
        bsession.scalar(
            select(func.count(StripeCoupon.id)).where(StripeCoupon.stripe_coupon_id == f"co_o{n}")
        )
        == 1
    )


def test_a_once_coupon_lowers_the_first_interval_and_removal_through_the_fake(bclient, bsession, fake_stripe):
    sub = fake_stripe.add_subscription(subscription(customer="cus_once", unit_amount=1000))
    post_event(bclient, event("customer.subscription.created", sub, ts(1, 10)))
    made, events = fake_stripe.create_coupon(ts(1, 1), percent_off=100.0, duration="once")
    _, applied = fake_stripe.apply_coupon(sub["id"], made["id"], ts(1, 10))
    for payload in [*events, *applied]:
        post_event(bclient, payload)
    # first month free (once, from Jan 10), then 1000: January's new MRR is 0, February's 1000
    assert mrr(bsession, 2, 1) == (0, 0)
    assert mrr(bsession, 2, 15) == (1000, 0)
    feb = reports.revenue_report(bsession, at(2, 1), at(3, 1))["movements"][0]
    assert feb["new_cents"] == 1000
    # a 50% coupon applied Mar 1 and removed Mar 20: 500 between, 1000 after
    half, events = fake_stripe.create_coupon(ts(3, 1), percent_off=50.0)
    gone, applied = fake_stripe.apply_coupon(sub["id"], half["id"], ts(3, 1))
    for payload in [*events, *applied, *fake_stripe.remove_discount(sub["id"], gone["id"], ts(3, 20))]:
        post_event(bclient, payload)
    assert mrr(bsession, 3, 10) == (500, 0)
    assert mrr(bsession, 3, 25) == (1000, 0)


@pytest.fixture
def plain_app(app_factory, fake_stripe):  # type: ignore[no-untyped-def]
    """Stripe against the fake and no Redis: the scheduled command fetches what is unknown."""
    return app_factory(
        stripe_secret_key="sk_test_masthead",
        stripe_api_base=fake_stripe.url,
        stripe_webhook_secret=WEBHOOK_SECRET,
        redis_url=None,
    )


@pytest.fixture
def psession(plain_app):  # type: ignore[no-untyped-def]
    with plain_app.app_context():
        yield db.session


def _fake_subscriber_with_coupon(fake_stripe, *, deliver_discount_event: bool):  # type: ignore[no-untyped-def]
    """A 2000 usd monthly subscription given 25% off for 3 months; the events Stripe sends."""
    sub = fake_stripe.add_subscription(
        subscription(customer="cus_e2e", unit_amount=2000, period_start=ts(1, 10))
    )
    made, coupon_events = fake_stripe.create_coupon(
        ts(1, 9), percent_off=25.0, duration="repeating", duration_in_months=3
    )
    applied, events = fake_stripe.apply_coupon(sub["id"], made["id"], ts(1, 10), end=ts(4, 10))
    created = event(
        "customer.subscription.created",
        subscription(sub_id=sub["id"], customer="cus_e2e", unit_amount=2000),
        ts(1, 10),
    )
    if not deliver_discount_event:
        events = [e for e in events if e["type"] != "customer.discount.created"]
    # coupon.created is not delivered: the endpoint was added after the coupon was made
    return sub, made, applied, [created, *events]


@pytest.mark.parametrize("with_discount_event", [True, False])
def test_end_to_end_ids_only_events_then_the_catalogue_fetch_then_the_report(
    plain_app, fake_stripe, psession, with_discount_event
):
    client = plain_app.test_client()
    sub, made, applied, events = _fake_subscriber_with_coupon(
        fake_stripe, deliver_discount_event=with_discount_event
    )
    for payload in events:
        assert '"percent_off"' not in str(payload).replace("'", '"')  # nothing in them prices it
        assert post_event(client, payload).status_code == 200
    assert fake_stripe.requests == []  # a webhook request never calls Stripe
    headers = bearer(psession)
    url = "/api/v1/reports/revenue?from=2026-01-01&to=2026-02-01"
    before = client.get(url, headers=headers).get_json()
    assert (before["mrr_cents"], before["unpriced_discount_mrr_cents"]) == (2000, 2000)
    assert before["currencies"][0]["unpriced_discount_mrr_cents"] == 2000

    result = plain_app.test_cli_runner().invoke(args=["process-stripe-events"])
    assert result.exit_code == 0, result.output
    asked = [(m, p) for m, p, _, _ in fake_stripe.requests]
    expected = [("GET", f"/v1/coupons/{made['id']}")]
    if not with_discount_event:
        expected.insert(0, ("GET", f"/v1/subscriptions/{sub['id']}"))
        assert fake_stripe.requests[0][2] == {"expand": ["discounts"]}
    assert asked == expected

    after = client.get(url, headers=headers).get_json()
    # 2000 x 0.75 = 1500, ARR 18000; new MRR in January is the discounted 1500
    assert (after["mrr_cents"], after["arr_cents"], after["unpriced_discount_mrr_cents"]) == (1500, 18000, 0)
    assert after["movements"][0]["new_cents"] == 1500
    # the discount ends on Apr 10: an expansion of April back to the list price
    later = client.get("/api/v1/reports/revenue?from=2026-04-01&to=2026-05-01", headers=headers).get_json()
    assert later["movements"][0]["expansion_cents"] == 500 and later["mrr_cents"] == 2000
    # nothing left to fetch: the next run asks Stripe nothing
    fake_stripe.requests.clear()
    assert plain_app.test_cli_runner().invoke(args=["process-stripe-events"]).exit_code == 0
    assert fake_stripe.requests == []


def test_a_stripe_failure_keeps_the_discount_unpriced_and_the_next_run_fetches_it(
    plain_app, fake_stripe, psession
):
    client = plain_app.test_client()
    _, _, _, events = _fake_subscriber_with_coupon(fake_stripe, deliver_discount_event=True)
    for payload in events:
        post_event(client, payload)
    fake_stripe.fail_next = [500, 500, 500]  # the SDK retries twice, then gives up
    result = plain_app.test_cli_runner().invoke(args=["process-stripe-events"])
    assert result.exit_code != 0 and "Stripe could not read the coupon" in result.output
    assert mrr(psession, 2, 1) == (2000, 2000)
    assert plain_app.test_cli_runner().invoke(args=["process-stripe-events"]).exit_code == 0
    assert mrr(psession, 2, 1) == (1500, 0)


def test_a_discount_stripe_no_longer_lists_is_not_asked_for_again(plain_app, fake_stripe, psession):
    client = plain_app.test_client()
    sub = fake_stripe.add_subscription(subscription(customer="cus_gone", unit_amount=1000))
    listed = subscription(sub_id=sub["id"], customer="cus_gone", unit_amount=1000, discounts=["di_gone"])
    post_event(client, event("customer.subscription.updated", listed, ts(1, 10)))
    assert plain_app.test_cli_runner().invoke(args=["process-stripe-events"]).exit_code == 0
    fake_stripe.requests.clear()
    assert plain_app.test_cli_runner().invoke(args=["process-stripe-events"]).exit_code == 0
    assert fake_stripe.requests == []
    assert mrr(psession, 2, 1) == (1000, 1000)  # honest: still resting on an unpriced discount


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_with_redis_an_rq_job_fetches_the_catalogue(app_factory, fake_stripe, session):
    from rq import SimpleWorker

    rq_app = app_factory(
        stripe_secret_key="sk_test_masthead",
        stripe_api_base=fake_stripe.url,
        stripe_webhook_secret=WEBHOOK_SECRET,
        queue_async=True,
        extra={"ratelimit": "off"},
    )
    queue = rq_app.extensions["masthead_queue"]
    queue.empty()
    client = rq_app.test_client()
    _, made, _, events = _fake_subscriber_with_coupon(fake_stripe, deliver_discount_event=True)
    for payload in events:
        post_event(client, payload)
    assert fake_stripe.requests == []  # queued only: the request called nobody
    with rq_app.app_context():
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert ("GET", f"/v1/coupons/{made['id']}") in [(m, p) for m, p, _, _ in fake_stripe.requests]
    with rq_app.app_context():
        assert mrr(session, 2, 1) == (1500, 0)
