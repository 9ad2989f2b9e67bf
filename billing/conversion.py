"""ARPPU and paid conversion: pure functions over the subscription history and the ledger.

ARPPU = MRR / paying subscribers, per currency, at one instant. A trial counts zero until its
first paid invoice: a trialing subscription has no MRR, and one that has left its trial is left
out of both MRR and the count here until an invoice of it (of its customer when the invoice
names no subscription) paid more than nothing.

Trial -> paid: subscriptions whose trial began in the window; paid once such an invoice came by
the window's end. Confirmed -> paid: subscribers confirmed in the window who paid an invoice in
that currency by its end. Revenue per confirmed subscriber and per reachable reader: MRR at the
end over those confirmed and still active then, and over the readers reachable then (the core's
`reachable_readers`, the figure every report divides MRR by).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from billing.metrics import LedgerEntry, Timeline, monthly_cents, ratio


@dataclass
class Arppu:
    """ARPPU's parts in one currency."""

    mrr_cents: int = 0
    paying_subscribers: int = 0
    unpaid_after_trial: int = 0  # subscriptions left out: past their trial, nothing paid yet

    @property
    def arppu_cents(self) -> int | None:
        if not self.paying_subscribers:
            return None
        return int((Fraction(self.mrr_cents, self.paying_subscribers) * 2 + 1) // 2)


def _paid(
    ledger: Iterable[LedgerEntry], until: dt.datetime
) -> tuple[dict[str, dt.datetime], dict[str, dt.datetime]]:
    """({subscription: first paid invoice}, {customer: first paid invoice}) before `until`."""
    by_sub: dict[str, dt.datetime] = {}
    by_customer: dict[str, dt.datetime] = {}
    for e in ledger:
        if e.amount_paid_cents - e.tax_cents <= 0 or e.paid_at > until:
            continue
        if e.subscription_id:
            by_sub[e.subscription_id] = min(by_sub.get(e.subscription_id, e.paid_at), e.paid_at)
        by_customer[e.customer] = min(by_customer.get(e.customer, e.paid_at), e.paid_at)
    return by_sub, by_customer


def _trial_starts(timeline: Timeline, until: dt.datetime) -> dict[str, dt.datetime]:
    """{subscription: when its first trialing state began} for states at or before `until`."""
    starts: dict[str, dt.datetime] = {}
    for sub_id, states in timeline.effective.items():
        for state in states:
            if state.at > until:
                break
            if state.status == "trialing":
                starts[sub_id] = state.at
                break
    return starts


def arppu(timeline: Timeline, ledger: Iterable[LedgerEntry], at: dt.datetime) -> dict[str, Arppu]:
    """{currency: Arppu} at `at` (see the module's rule for trials)."""
    ledger = list(ledger)
    paid_sub, paid_customer = _paid(ledger, at)
    trials = _trial_starts(timeline, at)
    result: dict[str, Arppu] = defaultdict(Arppu)
    paying: dict[str, set[str]] = defaultdict(set)
    for state in timeline.at(at).values():
        cents = monthly_cents(state, at)
        if cents <= 0:
            continue
        if state.subscription_id in trials:
            began = trials[state.subscription_id]
            first = paid_sub.get(state.subscription_id) or paid_customer.get(state.customer)
            if first is None or first < began:
                result[state.currency].unpaid_after_trial += 1
                continue
        result[state.currency].mrr_cents += cents
        paying[state.currency].add(state.customer)
    for currency, customers in paying.items():
        result[currency].paying_subscribers = len(customers)
    return dict(result)


def conversion(
    timeline: Timeline,
    ledger: Iterable[LedgerEntry],
    start: dt.datetime,
    end: dt.datetime,
    confirmed_in_window: Iterable[int],
    mrr_cents: Mapping[str, int],
    confirmed_at_end: int,
    reachable_readers: int,
) -> dict[str, dict[str, Any]]:
    """{currency: trial -> paid, confirmed -> paid, MRR per confirmed subscriber and per
    reachable reader} over [start, end) (see the module)."""
    ledger = list(ledger)
    paid_sub, paid_customer = _paid(ledger, end)
    currency_of = {sub: states[0].currency for sub, states in timeline.effective.items() if states}
    customer_of = {sub: states[0].customer for sub, states in timeline.effective.items() if states}
    trials: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for sub_id, began in _trial_starts(timeline, end).items():
        if not start <= began < end:
            continue
        row = trials[currency_of[sub_id]]
        row[0] += 1
        first = paid_sub.get(sub_id) or paid_customer.get(customer_of[sub_id])
        if first is not None and first >= began:
            row[1] += 1
    confirmed = {f"subscriber:{i}" for i in confirmed_in_window}
    paid_confirmed: dict[str, set[str]] = defaultdict(set)
    for e in ledger:
        if e.customer in confirmed and e.amount_paid_cents - e.tax_cents > 0 and e.paid_at < end:
            paid_confirmed[e.currency].add(e.customer)
    result: dict[str, dict[str, Any]] = {}
    for currency in sorted(set(trials) | set(paid_confirmed) | set(mrr_cents)):
        started, converted = trials.get(currency, [0, 0])
        mrr = mrr_cents.get(currency, 0)
        result[currency] = {
            "trials_started": started,
            "trials_paid": converted,
            "trial_to_paid_rate": ratio(converted, started),
            "confirmed": len(confirmed),
            "confirmed_paid": len(paid_confirmed.get(currency, ())),
            "confirmed_to_paid_rate": ratio(len(paid_confirmed.get(currency, ())), len(confirmed)),
            "confirmed_subscribers_at_end": confirmed_at_end,
            "revenue_per_confirmed_subscriber_cents": mrr / confirmed_at_end if confirmed_at_end else None,
            "reachable_readers": reachable_readers,
            "revenue_per_reachable_reader_cents": mrr / reachable_readers if reachable_readers else None,
        }
    return result


def empty_conversion(confirmed: int, confirmed_at_end: int, reachable_readers: int) -> dict[str, Any]:
    """The conversion object of a currency block with nothing in it."""
    return {
        "trials_started": 0,
        "trials_paid": 0,
        "trial_to_paid_rate": None,
        "confirmed": confirmed,
        "confirmed_paid": 0,
        "confirmed_to_paid_rate": None,
        "confirmed_subscribers_at_end": confirmed_at_end,
        "revenue_per_confirmed_subscriber_cents": None,
        "reachable_readers": reachable_readers,
        "revenue_per_reachable_reader_cents": None,
    }
