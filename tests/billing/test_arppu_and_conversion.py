"""ARPPU (trials count zero until their first paid invoice) and paid conversion, by hand."""

from __future__ import annotations

import datetime as dt

from billing.conversion import arppu, conversion
from billing.metrics import LedgerEntry, SubscriptionState, Timeline

UTC = dt.UTC


def day(month: int, d: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, d, hour, tzinfo=UTC)


def state(sub: str, customer: str, at: dt.datetime, status: str, cents: int, **kw) -> SubscriptionState:
    return SubscriptionState(sub, customer, at, status, kw.pop("currency", "usd"), cents, **kw)


def invoice(
    number: str,
    customer: str,
    at: dt.datetime,
    cents: int,
    sub: str | None,
    tax: int = 0,
    currency: str = "usd",
) -> LedgerEntry:
    return LedgerEntry(f"in_{number}", customer, currency, cents, tax, at, subscription_id=sub)


# Four readers in dollars, one in euros:
# a: monthly 1,000 from 1 Jan, paid every month.
# b: a 14-day trial from 10 Jan at 1,600 a month; the trial ends 24 Jan, its first invoice is
#    paid on 25 Jan.
# c: a trial from 20 Jan at 2,000 a month, still trialing at the end of January.
# d: an annual plan at 12,000 (1,000 a month), paid on 5 Jan; a second monthly subscription of
#    the same customer at 500 makes one paying subscriber with 1,500 of MRR.
# e: a trial from 3 Jan that ended 17 Jan at 900 a month whose first invoice failed (0 paid).
# f: euros, 800 a month from 2 Jan, paid.
HISTORY = [
    state("sub_a", "subscriber:1", day(1, 1), "active", 1000),
    state("sub_b", "subscriber:2", day(1, 10), "trialing", 1600),
    state("sub_b", "subscriber:2", day(1, 24), "active", 1600),
    state("sub_c", "subscriber:3", day(1, 20), "trialing", 2000),
    state("sub_d", "subscriber:4", day(1, 5), "active", 12000, interval="year"),
    state("sub_d2", "subscriber:4", day(1, 6), "active", 500),
    state("sub_e", "subscriber:5", day(1, 3), "trialing", 900),
    state("sub_e", "subscriber:5", day(1, 17), "past_due", 900),
    state("sub_f", "subscriber:6", day(1, 2), "active", 800, currency="eur"),
]
LEDGER = [
    invoice("a1", "subscriber:1", day(1, 1), 1100, "sub_a", tax=100),
    invoice("b0", "subscriber:2", day(1, 10), 0, "sub_b"),  # the trial's 0 invoice
    invoice("b1", "subscriber:2", day(1, 25), 1600, "sub_b"),
    invoice("c0", "subscriber:3", day(1, 20), 0, "sub_c"),
    invoice("d1", "subscriber:4", day(1, 5), 12000, "sub_d"),
    invoice("d2", "subscriber:4", day(1, 6), 500, "sub_d2"),
    invoice("e0", "subscriber:5", day(1, 3), 0, "sub_e"),
    invoice("f1", "subscriber:6", day(1, 2), 800, "sub_f", currency="eur"),
]


def test_arppu_leaves_a_trial_out_until_its_first_paid_invoice():
    timeline = Timeline(HISTORY)
    # 24 Jan noon: b's trial is over but nothing paid yet; e past due after a trial, never paid.
    before = arppu(timeline, LEDGER, day(1, 24, 12))["usd"]
    assert (before.mrr_cents, before.paying_subscribers, before.unpaid_after_trial) == (2500, 2, 2)
    assert before.arppu_cents == 1250  # (a 1,000 + d 1,000 + 500) / 2 customers
    # 26 Jan: b paid 1,600 on the 25th; c still trials (0), e still unpaid.
    after = arppu(timeline, LEDGER, day(1, 26))
    assert (after["usd"].mrr_cents, after["usd"].paying_subscribers, after["usd"].unpaid_after_trial) == (
        4100,
        3,
        1,
    )
    assert after["usd"].arppu_cents == 1367  # 4,100 / 3 = 1,366.67, half up
    assert (after["eur"].mrr_cents, after["eur"].paying_subscribers, after["eur"].arppu_cents) == (
        800,
        1,
        800,
    )


def test_a_trial_paid_before_it_began_does_not_count_as_its_first_paid_invoice():
    # The customer paid once long before (another subscription), then took a trial.
    history = [
        state("sub_x", "subscriber:9", day(3, 1), "trialing", 1000),
        state("sub_x", "subscriber:9", day(3, 15), "active", 1000),
    ]
    ledger = [invoice("old", "subscriber:9", day(1, 1), 700, None)]
    result = arppu(Timeline(history), ledger, day(3, 20))
    assert result["usd"].paying_subscribers == 0 and result["usd"].unpaid_after_trial == 1
    assert result["usd"].arppu_cents is None


def test_conversion_by_hand_over_january():
    timeline = Timeline(HISTORY)
    result = conversion(
        timeline,
        LEDGER,
        day(1, 1),
        day(2, 1),
        confirmed_in_window=[1, 2, 3, 7, 8],  # 7 and 8 confirmed and never paid; 4, 5, 6 earlier
        mrr_cents={"usd": 4100, "eur": 800},
        confirmed_at_end=10,
        reachable_readers=20,
    )
    usd = result["usd"]
    # Trials begun in January: b, c, e; paid: b only.
    assert (usd["trials_started"], usd["trials_paid"]) == (3, 1)
    assert usd["trial_to_paid_rate"] == 1 / 3
    # Confirmed in January and paid in dollars by 1 Feb: 1 and 2 (3's invoice was 0).
    assert (usd["confirmed"], usd["confirmed_paid"], usd["confirmed_to_paid_rate"]) == (5, 2, 2 / 5)
    assert usd["revenue_per_confirmed_subscriber_cents"] == 410.0  # 4,100 / 10
    assert usd["revenue_per_reachable_reader_cents"] == 205.0  # 4,100 / 20
    eur = result["eur"]
    assert (eur["trials_started"], eur["trial_to_paid_rate"], eur["confirmed_paid"]) == (0, None, 0)
    assert eur["revenue_per_reachable_reader_cents"] == 40.0


def test_conversion_waits_for_the_window_end():
    # Over the first three weeks b had not paid yet: none of the three trials begun had paid.
    result = conversion(Timeline(HISTORY), LEDGER, day(1, 1), day(1, 22), [2], {}, 0, 0)["usd"]
    assert (result["trials_started"], result["trials_paid"], result["confirmed_paid"]) == (3, 0, 0)
    assert result["revenue_per_confirmed_subscriber_cents"] is None
