"""Net cash after refunds and disputes, cohort LTV by hand, and refunds through the webhook."""

from __future__ import annotations

import datetime as dt

from billing import cash, ltv, reports
from billing.cash import CashEntry, DisputeMoney, RefundStep
from billing.metrics import LedgerEntry
from growth import access
from tests.billing.conftest import confirmed_subscriber, post_event
from tests.fakes.stripe import event, invoice

UTC = dt.UTC


def at(month: int, day: int = 5, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=UTC)


def paid(customer: str, month: int, cents: int = 1000) -> CashEntry:
    return CashEntry(customer, "usd", at(month), cents, "invoice", f"in_{customer}_{month}")


def test_refund_steps_count_each_increase_once_and_disputes_come_back_when_won():
    inv = LedgerEntry("in_1", "cus_a", "usd", 1100, 100, at(1))
    steps = [
        RefundStep("ch_1", "cus_a", "usd", 300, at(2)),
        RefundStep("ch_1", "cus_a", "usd", 300, at(2, 6)),  # the same step reported twice
        RefundStep("ch_1", "cus_a", "usd", 1100, at(3)),  # then the rest
    ]
    won = DisputeMoney("du_1", "cus_a", "usd", 500, at(4), at(5))
    lost = DisputeMoney("du_2", "cus_a", "usd", 700, at(4), None)
    entries = cash.net_cash_entries([inv], steps, [won, lost])
    assert [(e.kind, e.cents) for e in entries] == [
        ("invoice", 1000),
        ("refund", -300),
        ("refund", -800),
        ("dispute", -500),
        ("dispute", -700),
        ("dispute_reversal", 500),
    ]
    assert sum(e.cents for e in entries) == 1000 - 1100 - 700


def test_cohort_ltv_by_hand_with_a_young_cohort_projected_and_its_range():
    # Jan, Feb, Mar: one subscriber each paying 1,000 a month; Mar's leaves after two payments.
    # Apr: two subscribers, one month seen. Months ended by 1 May: Jan 4, Feb 3, Mar 2, Apr 1.
    entries = [paid("a", m) for m in (1, 2, 3, 4)]
    entries += [paid("b", m) for m in (2, 3, 4)]
    entries += [paid("c", 3)]  # month 1 of Mar's cohort: nothing
    entries += [paid("d", 4), paid("e", 4)]
    result = ltv.cohort_ltv(entries, at(5, 1))["usd"]
    by_month = {row["month"]: row for row in result["cohorts"]}
    assert by_month["2026-01"]["observed_cents"] == [1000, 2000, 3000, 4000]
    assert by_month["2026-03"]["observed_cents"] == [1000, 1000]
    # Age 1 month-on-month ratios: Jan 1, Feb 1, Mar 0 -> median 1, low 0, high 1 (3 cohorts);
    # age 2 has only 2 cohorts, so age 1's ratio is held from there on.
    assert [(r["age"], r["median"], r["low"], r["high"]) for r in result["ratios"]] == [(1, 1.0, 0.0, 1.0)]
    # Apr: 1,000 then 1,000 more each month to 36 months = 36,000; low: nothing more.
    assert by_month["2026-04"]["ltv_cents"] == 36_000
    assert by_month["2026-04"]["projected_low_cents"][-1] == 1000
    assert by_month["2026-03"]["ltv_cents"] == 1000  # its last month had no cash: nothing more
    # Weighted by size (1, 1, 1, 2): (36,000 + 36,000 + 1,000 + 2 x 36,000) / 5.
    assert result["ltv_cents"] == 29_000
    # Low: Jan 4,000, Feb 3,000, Mar 1,000, Apr 1,000 each: (4,000 + 3,000 + 1,000 + 2,000) / 5.
    assert result["low_cents"] == 2000
    assert result["high_cents"] == 29_000


def test_a_refund_lowers_the_curve_in_the_month_it_happens():
    entries = [paid(c, 1) for c in "abc"] + [paid(c, 2) for c in "abc"]
    entries.append(CashEntry("a", "usd", at(2, 20), -1000, "refund", "ch_a"))
    row = ltv.cohort_ltv(entries, at(3, 1))["usd"]["cohorts"][0]
    assert row["observed_cents"] == [1000, 1667]  # (3,000 + 3,000 - 1,000) / 3


def test_too_few_cohorts_say_so_instead_of_guessing():
    result = ltv.cohort_ltv([paid("a", 1), paid("a", 2)], at(3, 1))["usd"]
    assert result["ltv_cents"] is None and "fewer than 3" in result["note"]


def test_simple_ltv_is_arppu_over_churn():
    assert ltv.simple_ltv(1000, 0.05) == 20_000
    assert ltv.simple_ltv(1000, 0) is None
    assert ltv.simple_ltv(None, 0.1) is None


def test_refunds_and_disputes_through_the_webhook_lower_cash_never_mrr(
    bclient, boutbox, bsession, fake_stripe
):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    t = 1_767_225_600  # 2026-01-01
    post_event(
        bclient,
        event(
            "invoice.paid",
            invoice(
                customer="cus_r",
                subscription_id="sub_r",
                amount_paid=1100,
                tax=100,
                metadata={"subscriber_id": str(ana.id)},
            ),
            t,
        ),
    )
    start, end = dt.datetime(2025, 12, 1, tzinfo=UTC), dt.datetime(2026, 3, 1, tzinfo=UTC)
    before = reports.revenue_report(bsession, start, end)
    charge, sent = fake_stripe.charge("cus_r", 1100, t + 10)
    sent += fake_stripe.refund(charge["id"], 300, t + 86_400)
    sent += fake_stripe.refund(charge["id"], None, t + 2 * 86_400)
    other, more = fake_stripe.charge("cus_r", 2000, t + 20)
    sent += more + fake_stripe.dispute(other["id"], t + 3 * 86_400)
    for payload in sent + sent[::-1]:  # every event twice, the second time backwards
        assert post_event(bclient, payload).status_code == 200
    bsession.expire_all()
    after = reports.revenue_report(bsession, start, end)
    assert after["mrr_cents"] == before["mrr_cents"]
    assert after["refunds_cents"] == 1100
    assert after["disputes_cents"] == 2000
    assert after["net_cash_cents"] == before["net_cash_cents"] - 3100
    for block in after["currencies"]:
        for key in (
            "arppu_cents",
            "ltv_cents",
            "ltv_simple_cents",
            "conversion",
            "refunds_cents",
            "gifts_cents",
        ):
            assert key in block
    # Other domains read the same net cash per subscriber through the core hook.
    assert sum(cents for _, _, cents in access.cash_by_subscriber(bsession)[ana.id]) == 1000 - 1100 - 2000
