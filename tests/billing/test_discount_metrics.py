"""Discounts in the revenue metrics, on hand-computed cases (pure: no app, no database)."""

from __future__ import annotations

from fractions import Fraction

from billing import metrics
from billing.metrics import Discount
from tests.billing.test_metrics import d, state


def test_percent_off_lowers_mrr():
    # 2000 a month, 25% off: 1500; a yearly 12000 with 10% off: 10800 / 12 = 900
    monthly = state("P", d(1, 1), 2000, discounts=(Discount(percent_off=Fraction(25)),))
    yearly = state("Y", d(1, 1), 12000, interval="year", discounts=(Discount(percent_off=Fraction("10")),))
    assert metrics.monthly_cents(monthly, d(2, 1)) == 1500
    assert metrics.monthly_cents(yearly, d(2, 1)) == 900


def test_amount_off_counts_only_in_its_own_currency():
    # 2000 eur less 300 eur = 1700; 300 usd off does nothing to a eur price
    eur_off = Discount(amount_off_cents=300, currency="eur")
    usd_off = Discount(amount_off_cents=300, currency="usd")
    assert (
        metrics.monthly_cents(state("E", d(1, 1), 2000, currency="eur", discounts=(eur_off,)), d(2, 1))
        == 1700
    )
    assert (
        metrics.monthly_cents(state("U", d(1, 1), 2000, currency="eur", discounts=(usd_off,)), d(2, 1))
        == 2000
    )


def test_a_discount_ending_mid_month_is_an_expansion_of_that_month():
    # 2000 a month at 50% off until Feb 15: 1000 in January and on Feb 1, 2000 on Mar 1
    history = [state("X", d(1, 10), 2000, discounts=(Discount(percent_off=Fraction(50), end=d(2, 15)),))]
    jan = metrics.movements(history, d(1, 1), d(2, 1))["usd"]
    feb = metrics.movements(history, d(2, 1), d(3, 1))["usd"]
    assert (jan.new_cents, jan.end_mrr_cents) == (1000, 1000)
    assert (feb.start_mrr_cents, feb.expansion_cents, feb.end_mrr_cents, feb.new_cents) == (
        1000,
        1000,
        2000,
        0,
    )


def test_an_unpriced_discount_counts_at_full_price_and_is_reported():
    # A: 2000 with a discount whose coupon is not known yet -> 2000, all of it resting on it
    # B: 1000 with 10% off (priced) -> 900; C: 500 with an unpriced discount that ended Feb 1 -> 500
    history = [
        state("A", d(1, 1), 2000, discounts=(Discount(priced=False),)),
        state("B", d(1, 1), 1000, discounts=(Discount(percent_off=Fraction(10)),)),
        state("C", d(1, 1), 500, discounts=(Discount(priced=False, end=d(2, 1)),)),
    ]
    snap = metrics.revenue_snapshot(history, d(3, 1))["usd"]
    assert snap.mrr_cents == 2000 + 900 + 500
    assert snap.unpriced_discount_mrr_cents == 2000
    report = metrics.revenue_report(history, [], d(1, 1), d(3, 1))
    assert report["unpriced_discount_mrr_cents"] == 2000
    assert report["currencies"][0]["unpriced_discount_mrr_cents"] == 2000


def test_a_once_coupon_runs_for_one_billing_interval():
    # 100% off once, applied Jan 10 on a monthly plan: free until Feb 10, then 1000
    once = Discount(percent_off=Fraction(100), start=d(1, 10), once=True)
    s = state("O", d(1, 10), 1000, discounts=(once,))
    assert metrics.monthly_cents(s, d(2, 1)) == 0
    assert metrics.monthly_cents(s, d(2, 10)) == 1000
    yearly = state("OY", d(1, 10), 12000, interval="year", discounts=(once,))
    assert metrics.monthly_cents(yearly, d(12, 31)) == 0
    assert metrics.monthly_cents(yearly, d(1, 10, 2027)) == 1000
    # the first paid instant is seen without any event at the end of the free month
    assert metrics.first_paid_at([s])[("usd", "c-O")] == d(2, 10)


def test_a_state_superseded_in_the_same_second_never_paid():
    # created at full price and discounted 100% in the same second (a first month free):
    # the first paid instant is when the discount ends, so February's 1000 is new, not reactivation
    created = state("S", d(1, 10), 1000, event_type="customer.subscription.created")
    discounted = state("S", d(1, 10), 1000, discounts=(Discount(percent_off=Fraction(100), end=d(2, 10)),))
    assert metrics.first_paid_at([created, discounted])[("usd", "c-S")] == d(2, 10)
    feb = metrics.movements([created, discounted], d(2, 1), d(3, 1))["usd"]
    assert (feb.new_cents, feb.reactivation_cents) == (1000, 0)
