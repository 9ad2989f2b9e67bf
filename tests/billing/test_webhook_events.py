"""Billing's outgoing webhook events: subscription.started, canceled, churned, as documented."""

from __future__ import annotations

from tests.billing.conftest import confirmed_subscriber, monthly_tier, post_event
from tests.conftest import watch_all_events
from tests.fakes.stripe import event, subscription

T = 1_780_000_000


def test_a_subscription_lifecycle_emits_started_canceled_churned(bclient, boutbox, bsession):  # type: ignore[no-untyped-def]
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    tier = monthly_tier(bsession, "Gold", 700, "price_gold_m")
    emitted = watch_all_events(bsession)
    bsession.commit()
    common = dict(
        sub_id="sub_hooks",
        customer="cus_hooks",
        metadata={"subscriber_id": str(ana.id)},
        price_id="price_gold_m",
    )
    for e in [
        event("customer.subscription.created", subscription(status="active", **common), T),
        event(
            "customer.subscription.updated",
            subscription(status="active", cancel_at_period_end=True, **common),
            T + 60,
        ),
        event(
            "customer.subscription.deleted",
            subscription(status="canceled", canceled_at=T + 120, **common),
            T + 120,
        ),
    ]:
        assert post_event(bclient, e).status_code == 200
    bsession.expire_all()
    [started] = emitted.of("subscription.started")
    [canceled] = emitted.of("subscription.canceled")
    [churned] = emitted.of("subscription.churned")
    assert (
        started["data"]["subscriber"]["id"] == ana.id and started["data"]["subscriber"]["email"] == ana.email
    )
    assert started["data"]["subscription"]["tier"] == {"id": tier.id, "name": "Gold"}
    assert canceled["data"]["subscription"]["cancel_at_period_end"] is True
    assert churned["data"]["subscription"]["status"] == "canceled"
    assert churned["data"]["subscriber"]["stage"] == "churned"
