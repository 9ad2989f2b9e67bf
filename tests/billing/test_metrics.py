"""Revenue metrics on small hand-computed ledgers (pure: no app, no database)."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from billing import metrics
from billing.metrics import Discount, LedgerEntry, SubscriptionState


def d(month: int, day: int, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=dt.UTC)


_seq = iter(range(1, 10_000))


def state(
    sub: str,
    at: dt.datetime,
    amount: int,
    *,
    customer: str | None = None,
    status: str = "active",
    currency: str = "usd",
    **kw,
) -> SubscriptionState:  # type: ignore[no-untyped-def]
    return SubscriptionState(
        subscription_id=sub,
        customer=customer or f"c-{sub}",
        at=at,
        status=status,
        currency=currency,
        unit_amount_cents=amount,
        seq=next(_seq),
        **kw,
    )


NOW = d(3, 15)
T0 = d(1, 1)


def snapshot_history() -> list[SubscriptionState]:
    return [
        state("A", T0, 1000),  # 1000
        state("B", T0, 12000, interval="year", quantity=2),  # 24000 / 12 = 2000
        state("C", T0, 2000, discounts=(Discount(percent_off=Fraction(25), end=d(6, 1)),)),  # 1500
        state("D", T0, 2000, discounts=(Discount(percent_off=Fraction(50), end=d(3, 1)),)),  # ended: 2000
        state("E", T0, 3000, status="trialing"),  # 0
        state("F", T0, 1000, collection_paused=True),  # 0
        state("G", T0, 1000, status="canceled"),  # 0
        state("H", T0, 1000, discounts=(Discount(percent_off=Fraction(100)),)),  # 0 (100% off)
        state("I", T0, 800, status="past_due"),  # 800, at risk
        state("J", T0, 1200, cancel_at_period_end=True),  # 1200, scheduled churn
        state("K", T0, 3000, interval="month", interval_count=3),  # 3000 / 3 = 1000
        state("L", T0, 1000, discounts=(Discount(amount_off_cents=300),)),  # 700
        state("M", T0, 900, currency="eur"),  # eur 900
        state("N", T0, 9999, interval="year"),  # 833.25 -> 833
        state("O", T0, 1000, status="paused"),  # 0
        state("P", T0, 1000, status="unpaid"),  # 0
    ]


def test_mrr_to_the_cent_across_intervals_quantities_discounts_and_statuses():
    snap = metrics.revenue_snapshot(snapshot_history(), NOW)
    # usd: 1000 + 2000 + 1500 + 2000 + 800 + 1200 + 1000 + 700 + 833 = 11033
    assert snap["usd"].mrr_cents == 11033
    assert snap["usd"].arr_cents == 12 * 11033 == 132396
    assert snap["usd"].at_risk_mrr_cents == 800
    assert snap["usd"].scheduled_churn_mrr_cents == 1200
    # A B C D I J K L N pay; E F G H O P do not
    assert snap["usd"].paying_subscribers == 9
    # B (2000) and N (833) are annual: 2833; the rest monthly: 11033 - 2833 = 8200
    assert snap["usd"].by_plan == {"monthly": 8200, "annual": 2833}
    # currencies are never added together
    assert snap["eur"].mrr_cents == 900 and snap["eur"].paying_subscribers == 1
    assert metrics.paying_customers(snapshot_history(), NOW) == 10


def test_discount_runs_from_start_to_end_only():
    s = state("X", T0, 2000, discounts=(Discount(percent_off=Fraction(50), start=d(2, 1), end=d(3, 1)),))
    assert metrics.monthly_cents(s, d(1, 15)) == 2000  # not started
    assert metrics.monthly_cents(s, d(2, 1)) == 1000  # running from its start
    assert metrics.monthly_cents(s, d(3, 1)) == 2000  # ended at its end


def test_percent_then_amount_off_and_never_negative():
    s = state(
        "X",
        T0,
        1000,
        quantity=3,
        discounts=(
            Discount(amount_off_cents=500),
            Discount(percent_off=Fraction("10")),
        ),
    )
    # 3000 * 0.9 = 2700, less 500 = 2200
    assert metrics.monthly_cents(s, NOW) == 2200
    assert metrics.monthly_cents(state("Y", T0, 400, discounts=(Discount(amount_off_cents=500),)), NOW) == 0


def test_week_and_day_intervals_normalise_to_months():
    # 1200 a week = 1200 * 52 / 12 = 5200 a month; 100 a day = 100 * 365 / 12 = 3041.67 -> 3042
    assert metrics.monthly_cents(state("W", T0, 1200, interval="week"), NOW) == 5200
    assert metrics.monthly_cents(state("Dy", T0, 100, interval="day"), NOW) == 3042


def test_newest_state_wins_whatever_the_arrival_order():
    late_old = state("S", d(1, 5), 1000)  # arrives last, but is the oldest
    newer = state("S", d(1, 9), 1500)
    history = [newer, late_old]
    assert metrics.latest_states(history)["S"].unit_amount_cents == 1500


def test_terminal_status_wins_a_tie_and_canceled_is_final():
    canceled = state("S", d(1, 9), 1000, status="canceled", event_type="customer.subscription.deleted")
    same_second = state("S", d(1, 9), 1000, status="active")  # arrived after the deletion
    assert metrics.latest_states([canceled, same_second])["S"].status == "canceled"
    # a later-stamped update never revives a canceled subscription either
    later = state("S", d(1, 10), 1000, status="active")
    assert metrics.latest_states([canceled, later])["S"].status == "canceled"
    # before the cancellation, the older state holds
    older = state("S", d(1, 2), 1000, status="active")
    assert metrics.states_at([canceled, older], d(1, 5))["S"].status == "active"


def test_created_precedes_updated_in_the_same_second():
    created = state("S", d(1, 9), 1000, status="incomplete", event_type="customer.subscription.created")
    updated = state("S", d(1, 9), 1000, status="active", event_type="customer.subscription.updated")
    # updated arrived first (lower seq), created second: the update still wins
    updated = SubscriptionState(**{**updated.__dict__, "seq": 1})
    created = SubscriptionState(**{**created.__dict__, "seq": 2})
    assert metrics.latest_states([updated, created])["S"].status == "active"


def february_history() -> list[SubscriptionState]:
    return [
        # c1: 1000 from Jan 10, upgraded to 1500 on Feb 10 -> expansion 500
        state("s1", d(1, 10), 1000, customer="c1"),
        state("s1", d(2, 10), 1500, customer="c1"),
        # c2: 2000 from Jan 5, down to 1200 on Feb 12 -> contraction 800
        state("s2", d(1, 5), 2000, customer="c2"),
        state("s2", d(2, 12), 1200, customer="c2"),
        # c3: 1000 from Jan 1, canceled Feb 20 -> churned 1000
        state("s3", d(1, 1), 1000, customer="c3"),
        state("s3", d(2, 20), 1000, customer="c3", status="canceled"),
        # c4: new yearly 6000 on Feb 3 -> new 500
        state("s4", d(2, 3), 6000, customer="c4", interval="year"),
        # c5: paid 700 from Dec 1, canceled Jan 15, back Feb 8 -> reactivation 700
        state("s5", d(12, 1, 2025), 700, customer="c5"),
        state("s5", d(1, 15), 700, customer="c5", status="canceled"),
        state("s5b", d(2, 8), 700, customer="c5"),
        # c6: trial from Feb 2 (no MRR), active Feb 16 at 1000 -> new 1000
        state("s6", d(2, 2), 1000, customer="c6", status="trialing"),
        state("s6", d(2, 16), 1000, customer="c6"),
        # c7: 2000 at 50% off until Feb 15: 1000 on Feb 1, 2000 on Mar 1 -> expansion 1000
        state(
            "s7",
            d(1, 1),
            2000,
            customer="c7",
            discounts=(Discount(percent_off=Fraction(50), end=d(2, 15)),),
        ),
        # c8: 1000 from Jan 1, collection paused Feb 5 -> churned 1000
        state("s8", d(1, 1), 1000, customer="c8"),
        state("s8", d(2, 5), 1000, customer="c8", collection_paused=True),
    ]


def test_movements_of_a_month_by_hand():
    m = metrics.movements(february_history(), d(2, 1), d(3, 1))["usd"]
    # start: c1 1000 + c2 2000 + c3 1000 + c7 1000 + c8 1000 = 6000
    assert m.start_mrr_cents == 6000
    # end: c1 1500 + c2 1200 + c4 500 + c5 700 + c6 1000 + c7 2000 = 6900
    assert m.end_mrr_cents == 6900
    assert m.new_cents == 500 + 1000
    assert m.expansion_cents == 500 + 1000
    assert m.reactivation_cents == 700
    assert m.contraction_cents == 800
    assert m.churned_cents == 1000 + 1000
    assert m.start_mrr_cents + m.net_cents == m.end_mrr_cents


def test_churn_of_a_month_by_hand():
    c = metrics.churn(february_history(), d(2, 1), d(3, 1))["usd"]
    # paying on Feb 1: c1 c2 c3 c7 c8; gone by Mar 1: c3 c8
    assert (c.paying_at_start, c.churned_customers) == (5, 2)
    assert c.customer_churn_rate == pytest.approx(2 / 5)
    # lost: c2 800 + c3 1000 + c8 1000 = 2800 of 6000
    assert c.lost_mrr_cents == 2800
    assert c.revenue_churn_rate == pytest.approx(2800 / 6000)
    # monthly and annual apart: nobody was on an annual plan on Feb 1
    assert metrics.churn(february_history(), d(2, 1), d(3, 1), plan="annual") == {}
    monthly = metrics.churn(february_history(), d(2, 1), d(3, 1), plan="monthly")["usd"]
    assert monthly.customer_churn_rate == pytest.approx(2 / 5)


def test_annual_churn_apart_from_monthly():
    history = [
        state("a1", d(1, 1), 12000, customer="y1", interval="year"),  # 1000/month
        state("a2", d(1, 1), 24000, customer="y2", interval="year"),  # 2000/month
        state("a2", d(2, 10), 24000, customer="y2", interval="year", status="canceled"),
        state("m1", d(1, 1), 500, customer="m1"),
    ]
    annual = metrics.churn(history, d(2, 1), d(3, 1), plan="annual")["usd"]
    assert (annual.paying_at_start, annual.churned_customers) == (2, 1)
    assert annual.revenue_churn_rate == pytest.approx(2000 / 3000)
    monthly = metrics.churn(history, d(2, 1), d(3, 1), plan="monthly")["usd"]
    assert (monthly.paying_at_start, monthly.churned_customers, monthly.customer_churn_rate) == (
        1,
        0,
        0.0,
    )


def test_ratio_with_nothing_under_it_is_none():
    assert metrics.ratio(0, 0) is None
    assert metrics.churn([], d(2, 1), d(3, 1)) == {}


def test_ledger_totals_and_revenue_by_customer():
    ledger = [
        LedgerEntry("in1", "c1", "usd", 1100, 100, d(2, 1)),
        LedgerEntry("in2", "c1", "usd", 1100, 100, d(3, 1)),
        LedgerEntry("in3", "c2", "eur", 900, 0, d(2, 20)),
        LedgerEntry("in4", "c3", "usd", 12000, 0, d(1, 20)),
    ]
    assert metrics.ledger_totals(ledger, d(2, 1), d(3, 1)) == {
        "usd": {"paid_cents": 1100, "tax_cents": 100, "net_cents": 1000, "invoices": 1},
        "eur": {"paid_cents": 900, "tax_cents": 0, "net_cents": 900, "invoices": 1},
    }
    assert metrics.revenue_by_customer(ledger) == {
        "c1": {"usd": 2000},
        "c2": {"eur": 900},
        "c3": {"usd": 12000},
    }


def test_month_windows_clip_to_the_range():
    assert metrics.month_windows(d(1, 15), d(3, 10)) == [
        ("2026-01", d(1, 15), d(2, 1)),
        ("2026-02", d(2, 1), d(3, 1)),
        ("2026-03", d(3, 1), d(3, 10)),
    ]
    assert [w[0] for w in metrics.month_windows(d(12, 1, 2025), d(1, 2))] == ["2025-12", "2026-01"]


def test_report_puts_the_main_currency_on_top_and_lists_every_currency():
    history = [
        state("u", d(1, 1), 1000, customer="cu"),
        state("e1", d(1, 1), 900, customer="ce1", currency="eur"),
        state("e2", d(1, 1), 900, customer="ce2", currency="eur"),
    ]
    report = metrics.revenue_report(history, [], d(2, 1), d(3, 1))
    assert report["currency"] == "eur" and report["mrr_cents"] == 1800 and report["arr_cents"] == 21600
    assert [c["currency"] for c in report["currencies"]] == ["eur", "usd"]
    assert report["currencies"][1]["mrr_cents"] == 1000
    assert report["churn_rate"] == 0.0
    assert report["movements"][0]["month"] == "2026-02"
    empty = metrics.revenue_report([], [], d(2, 1), d(3, 1))
    assert empty["currencies"] == [] and empty["mrr_cents"] == 0 and empty["churn_rate"] is None


def test_first_paid_at_sees_a_full_discount_ending_without_any_event():
    history = [
        # 100% off until Feb 15: pays from Feb 15 although no event says so
        state(
            "f",
            d(1, 1),
            1000,
            customer="cf",
            discounts=(Discount(percent_off=Fraction(100), end=d(2, 15)),),
        ),
        # trial first, active Jan 20
        state("g", d(1, 1), 1000, customer="cg", status="trialing"),
        state("g", d(1, 20), 1000, customer="cg"),
        # never paid
        state("h", d(1, 1), 1000, customer="ch", status="incomplete"),
        state("h", d(1, 2), 1000, customer="ch", status="incomplete_expired"),
    ]
    assert metrics.first_paid_at(history) == {("usd", "cf"): d(2, 15), ("usd", "cg"): d(1, 20)}
    # so in February cf is new, not a reactivation
    m = metrics.movements(history, d(2, 1), d(3, 1))["usd"]
    assert (m.new_cents, m.reactivation_cents) == (1000, 0)


def test_report_months_agree_with_the_single_window_functions():
    history = february_history()
    report = metrics.revenue_report(history, [], d(1, 1), d(3, 1))
    feb = report["movements"][1]
    m = metrics.movements(history, d(2, 1), d(3, 1))["usd"]
    c = metrics.churn(history, d(2, 1), d(3, 1))["usd"]
    assert (
        (
            feb["new_cents"],
            feb["expansion_cents"],
            feb["contraction_cents"],
            feb["churned_cents"],
            feb["reactivation_cents"],
        )
        == (
            m.new_cents,
            m.expansion_cents,
            m.contraction_cents,
            m.churned_cents,
            m.reactivation_cents,
        )
        == (1500, 1500, 800, 2000, 700)
    )
    assert feb["customer_churn_rate"] == c.customer_churn_rate
    assert feb["by_plan"]["monthly"]["customer_churn_rate"] == pytest.approx(2 / 5)
    assert report["mrr_cents"] == 6900


def test_other_items_of_a_subscription_add_to_its_amount():
    # 1000 x 2 seats + a 500 add-on, yearly: 2500 / 12 = 208.33 -> 208
    s = state("X", T0, 1000, quantity=2, extra_items_cents=500, interval="year")
    assert metrics.monthly_cents(s, NOW) == 208
