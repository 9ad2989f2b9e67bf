"""Discounts reach MRR whether the subscription carries them expanded or only by id."""

from __future__ import annotations

import datetime as dt

from billing import reports
from tests.billing.conftest import post_event
from tests.fakes.stripe import discount, event, subscription


def ts(month: int, day: int) -> int:
    return int(dt.datetime(2026, month, day, tzinfo=dt.UTC).timestamp())


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, tzinfo=dt.UTC)


def mrr(session, month: int, day: int) -> int:  # type: ignore[no-untyped-def]
    report = reports.revenue_report(session, at(1, 1), at(month, day))
    return report["mrr_cents"]


def test_discount_known_only_by_id_is_resolved_from_discount_events_in_any_order(bclient, bsession):
    sub = subscription(sub_id="sub_di", customer="cus_di", unit_amount=2000, discounts=["di_late"])
    post_event(bclient, event("customer.subscription.created", sub, ts(1, 10)))
    # until Stripe describes the discount, MRR is the list price
    assert mrr(bsession, 2, 1) == 2000
    described = {
        **discount(percent_off=25.0, start=ts(1, 10), end=ts(3, 1)),
        "id": "di_late",
        "customer": "cus_di",
        "subscription": "sub_di",
    }
    post_event(bclient, event("customer.discount.created", described, ts(1, 10)))
    # 2000 x 0.75 = 1500 while it runs; 2000 after it ends on Mar 1
    assert mrr(bsession, 2, 1) == 1500
    assert mrr(bsession, 3, 15) == 2000
    # removed early on Feb 10: full price from then on
    post_event(bclient, event("customer.discount.deleted", described, ts(2, 10)))
    assert mrr(bsession, 2, 5) == 1500
    assert mrr(bsession, 2, 15) == 2000
    # an older description arriving late changes nothing
    post_event(bclient, event("customer.discount.updated", {**described, "end": None}, ts(1, 11)))
    assert mrr(bsession, 2, 15) == 2000


def test_expanded_discounts_on_the_subscription(bclient, bsession):
    off = discount(amount_off=300, start=ts(1, 10))
    other_currency = discount(amount_off=999, currency="eur", start=ts(1, 10))
    sub = subscription(sub_id="sub_ex", customer="cus_ex", unit_amount=2000, discounts=[off, other_currency])
    post_event(bclient, event("customer.subscription.created", sub, ts(1, 10)))
    # 2000 - 300 = 1700; the eur amount off does not apply to a usd price
    assert mrr(bsession, 2, 1) == 1700
