"""Revenue metrics: pure functions over plain dataclasses, `now` (or the instant) passed in.

The input is the history of subscription states, one `SubscriptionState` per Stripe event at the
event's `created` time, plus the paid-invoice ledger. Nothing here touches the database.

Rounding: each subscription's monthly amount is rounded to the cent (half up) once; every sum,
movement and ARR is built from those integers, so MRR(start) + movements = MRR(end) exactly.
Currencies are never added together: every money figure is keyed by currency.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

TERMINAL = frozenset({"canceled", "incomplete_expired"})
MRR_STATUSES = frozenset({"active", "past_due"})
# created before the events that follow it in the same second
_TYPE_RANK = {"customer.subscription.created": 0}


@dataclass(frozen=True)
class Discount:
    """A discount: percent off or an amount off each invoice, running from start to end.

    `priced` is False while only its id is known (its coupon's terms not yet fetched): it then
    lowers nothing, and the MRR resting on it is reported apart. `once` (a coupon of duration
    once) runs for the subscription's first billing interval from its start.
    """

    percent_off: Fraction | None = None
    amount_off_cents: int | None = None
    currency: str | None = None  # of the amount off; None: the subscription's own
    start: dt.datetime | None = None
    end: dt.datetime | None = None  # None: runs for ever (forever coupons), or see `once`
    priced: bool = True
    once: bool = False

    def ends(self, interval: str = "month", interval_count: int = 1) -> dt.datetime | None:
        """When it stops applying to a subscription billed on this interval; None: never."""
        if self.end is None and self.once and self.start is not None:
            return add_interval(self.start, interval, interval_count)
        return self.end

    def running(self, at: dt.datetime, interval: str = "month", interval_count: int = 1) -> bool:
        """Whether the discount applies at this instant."""
        end = self.ends(interval, interval_count)
        return (self.start is None or self.start <= at) and (end is None or at < end)


def add_interval(when: dt.datetime, interval: str, count: int = 1) -> dt.datetime:
    """`when` plus `count` billing intervals; a month from Jan 31 is the last day of February."""
    count = max(count, 1)
    if interval == "day":
        return when + dt.timedelta(days=count)
    if interval == "week":
        return when + dt.timedelta(weeks=count)
    months = count * (12 if interval == "year" else 1)
    if interval not in ("month", "year"):
        raise ValueError(f"unknown interval {interval!r}")
    year, month = divmod(when.month - 1 + months, 12)
    year += when.year
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return when.replace(year=year, month=month, day=min(when.day, last))


@dataclass(frozen=True)
class SubscriptionState:
    """A subscription as one event reported it, at the event's `created`."""

    subscription_id: str
    customer: str  # stable key of the paying customer (subscriber when known, else Stripe customer)
    at: dt.datetime
    status: str
    currency: str
    unit_amount_cents: int
    quantity: int = 1
    extra_items_cents: int = 0  # the subscription's other items, price x quantity per interval
    interval: str = "month"
    interval_count: int = 1
    discounts: tuple[Discount, ...] = ()
    cancel_at_period_end: bool = False
    collection_paused: bool = False
    event_type: str = "customer.subscription.updated"
    seq: int = 0  # arrival order: breaks ties nothing else breaks

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def plan(self) -> str:
        """'annual' for plans billed a year or more apart, 'monthly' otherwise."""
        num, den = _MONTHS_PER_UNIT.get(self.interval, (1, 1))
        return "annual" if num * max(self.interval_count, 1) >= 12 * den else "monthly"


@dataclass(frozen=True)
class LedgerEntry:
    """A paid invoice."""

    invoice_id: str
    customer: str
    currency: str
    amount_paid_cents: int
    tax_cents: int
    paid_at: dt.datetime
    period_start: dt.datetime | None = None
    period_end: dt.datetime | None = None
    subscription_id: str | None = None


@dataclass
class Movements:
    """How MRR moved in one currency over a window; every figure is positive cents."""

    start_mrr_cents: int = 0
    end_mrr_cents: int = 0
    new_cents: int = 0
    expansion_cents: int = 0
    contraction_cents: int = 0
    churned_cents: int = 0
    reactivation_cents: int = 0

    @property
    def net_cents(self) -> int:
        return (
            self.new_cents
            + self.expansion_cents
            + self.reactivation_cents
            - self.contraction_cents
            - self.churned_cents
        )


@dataclass
class Churn:
    """Churn over a window among those paying at its start; a ratio over nobody is None."""

    paying_at_start: int = 0
    churned_customers: int = 0
    start_mrr_cents: int = 0
    lost_mrr_cents: int = 0  # churned + contraction of the customers paying at the start
    customer_churn_rate: float | None = None
    revenue_churn_rate: float | None = None


@dataclass
class RevenueSnapshot:
    """MRR and its parts in one currency at one instant."""

    mrr_cents: int = 0
    at_risk_mrr_cents: int = 0
    scheduled_churn_mrr_cents: int = 0
    unpriced_discount_mrr_cents: int = 0  # part of mrr_cents counted at full price: see Discount
    paying_subscribers: int = 0
    by_plan: dict[str, int] = field(default_factory=dict)

    @property
    def arr_cents(self) -> int:
        return 12 * self.mrr_cents


def order_key(state: SubscriptionState) -> tuple[dt.datetime, bool, int, int]:
    """Event order: newer `created`; on a tie terminal, then created-before-updated, arrival."""
    return (state.at, state.terminal, _TYPE_RANK.get(state.event_type, 1), state.seq)


class Timeline:
    """The history arranged once per subscription, for asking the state at many instants."""

    def __init__(self, history: Iterable[SubscriptionState]):
        by_sub: dict[str, list[SubscriptionState]] = defaultdict(list)
        for state in history:
            by_sub[state.subscription_id].append(state)
        self.effective: dict[str, list[SubscriptionState]] = {}
        self._instants: dict[str, list[dt.datetime]] = {}
        for sub_id, states in by_sub.items():
            kept: list[SubscriptionState] = []
            for state in sorted(states, key=order_key):
                if kept and kept[-1].terminal:
                    break  # canceled is final: any later-ordered state cannot revive it
                kept.append(state)
            self.effective[sub_id] = kept
            self._instants[sub_id] = [s.at for s in kept]

    def at(self, when: dt.datetime) -> dict[str, SubscriptionState]:
        """Each subscription's state in effect at `when` (the last one at or before it)."""
        result: dict[str, SubscriptionState] = {}
        for sub_id, kept in self.effective.items():
            i = bisect.bisect_right(self._instants[sub_id], when)
            if i:
                result[sub_id] = kept[i - 1]
        return result


History = Iterable[SubscriptionState] | Timeline


def _timeline(history: History) -> Timeline:
    return history if isinstance(history, Timeline) else Timeline(history)


def states_at(history: History, at: dt.datetime) -> dict[str, SubscriptionState]:
    """Each subscription's state in effect at `at`; once terminal it stays so (no late revival)."""
    return _timeline(history).at(at)


def latest_states(history: Iterable[SubscriptionState]) -> dict[str, SubscriptionState]:
    """Each subscription's newest state, whatever order the events arrived in."""
    return states_at(history, dt.datetime.max.replace(tzinfo=dt.UTC))


_MONTHS_PER_UNIT = {"month": (1, 1), "year": (12, 1), "week": (12, 52), "day": (12, 365)}


def interval_months(interval: str, interval_count: int) -> Fraction:
    """Length of a billing interval in months (a week is 12/52 month, a day 12/365)."""
    if interval not in _MONTHS_PER_UNIT:
        raise ValueError(f"unknown interval {interval!r}")
    num, den = _MONTHS_PER_UNIT[interval]
    return Fraction(num * max(interval_count, 1), den)


def _round_half_up(value: Fraction) -> int:
    return int((value * 2 + 1) // 2)


def monthly_cents(state: SubscriptionState, at: dt.datetime) -> int:
    """The subscription's MRR at `at`, in cents of its currency (0 when it pays nothing).

    Active and past_due subscriptions only, paused collection excluded; price x quantity plus
    any other items, less the priced discounts still running at `at` (percent first, then
    amounts off each invoice in the subscription's currency), before tax, spread over the
    interval's months. An unpriced discount counts at full price (see `rests_on_unpriced`).
    """
    if state.status not in MRR_STATUSES or state.collection_paused:
        return 0
    gross = state.unit_amount_cents * state.quantity + state.extra_items_cents
    running = [d for d in state.discounts if d.priced and d.running(at, state.interval, state.interval_count)]
    if not running:  # integer fast path: gross / months, rounded half up
        if state.interval not in _MONTHS_PER_UNIT:
            raise ValueError(f"unknown interval {state.interval!r}")
        num, den = _MONTHS_PER_UNIT[state.interval]
        num *= max(state.interval_count, 1)
        return max((2 * gross * den + num) // (2 * num), 0)
    months = interval_months(state.interval, state.interval_count)
    amount = Fraction(gross)
    for discount in running:
        if discount.percent_off is not None:
            amount *= 1 - Fraction(discount.percent_off) / 100
    for discount in running:
        if discount.amount_off_cents is not None and discount.currency in (None, state.currency):
            amount -= discount.amount_off_cents
    if amount <= 0:
        return 0
    return _round_half_up(amount / months)


def rests_on_unpriced(state: SubscriptionState, at: dt.datetime) -> bool:
    """Whether a running discount of this subscription cannot be priced yet (its MRR is then full)."""
    return any(not d.priced and d.running(at, state.interval, state.interval_count) for d in state.discounts)


def customer_mrr(
    states: Mapping[str, SubscriptionState], at: dt.datetime, plan: str | None = None
) -> dict[str, dict[str, int]]:
    """{currency: {customer: MRR cents}} of customers paying at `at` (optionally one plan only)."""
    result: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for state in states.values():
        if plan is not None and state.plan != plan:
            continue
        cents = monthly_cents(state, at)
        if cents > 0:
            result[state.currency][state.customer] += cents
    return {cur: dict(by_customer) for cur, by_customer in result.items()}


def _customer_mrr_by_plan(
    states: Mapping[str, SubscriptionState], at: dt.datetime
) -> dict[str | None, dict[str, dict[str, int]]]:
    """customer_mrr for all plans (key None) and for each plan, in one pass."""
    result: dict[str | None, dict[str, dict[str, int]]] = {}
    for state in states.values():
        cents = monthly_cents(state, at)
        if cents > 0:
            for key in (None, state.plan):
                by_customer = result.setdefault(key, {}).setdefault(state.currency, {})
                by_customer[state.customer] = by_customer.get(state.customer, 0) + cents
    return result


def revenue_snapshot(history: History, at: dt.datetime) -> dict[str, RevenueSnapshot]:
    """{currency: MRR, at-risk (past_due) MRR, scheduled-churn MRR, paying subscribers} at `at`."""
    states = states_at(history, at)
    result: dict[str, RevenueSnapshot] = defaultdict(RevenueSnapshot)
    paying: dict[str, set[str]] = defaultdict(set)
    for state in states.values():
        cents = monthly_cents(state, at)
        if cents <= 0:
            continue
        snap = result[state.currency]
        snap.mrr_cents += cents
        snap.by_plan[state.plan] = snap.by_plan.get(state.plan, 0) + cents
        if state.status == "past_due":
            snap.at_risk_mrr_cents += cents
        if state.cancel_at_period_end:
            snap.scheduled_churn_mrr_cents += cents
        if rests_on_unpriced(state, at):
            snap.unpriced_discount_mrr_cents += cents
        paying[state.currency].add(state.customer)
    for currency, customers in paying.items():
        result[currency].paying_subscribers = len(customers)
    return dict(result)


def paying_customers(history: History, at: dt.datetime) -> int:
    """Distinct customers with MRR at `at`, whatever their currency."""
    states = states_at(history, at)
    return len({s.customer for s in states.values() if monthly_cents(s, at) > 0})


def first_paid_at(
    history: Iterable[SubscriptionState] | Timeline,
) -> dict[tuple[str, str], dt.datetime]:
    """{(currency, customer): the first instant they had MRR}, in one pass over each subscription.

    A subscription's MRR changes only at its own state changes and at its discounts' starts and
    ends, so those are the only instants to look at.
    """
    first: dict[tuple[str, str], dt.datetime] = {}
    for effective in _timeline(history).effective.values():
        for i, state in enumerate(effective):
            until = effective[i + 1].at if i + 1 < len(effective) else None
            if until is not None and until <= state.at:
                continue  # superseded in the same second: never in effect
            instants = {state.at} | {
                edge
                for disc in state.discounts
                for edge in (disc.start, disc.ends(state.interval, state.interval_count))
                if edge is not None and edge > state.at and (until is None or edge < until)
            }
            paid = [t for t in sorted(instants) if monthly_cents(state, t) > 0]
            if paid:
                key = (state.currency, state.customer)
                if key not in first or paid[0] < first[key]:
                    first[key] = paid[0]
                break
    return first


def movements(
    history: History,
    start: dt.datetime,
    end: dt.datetime,
    first_paid: Mapping[tuple[str, str], dt.datetime] | None = None,
) -> dict[str, Movements]:
    """{currency: Movements} comparing each customer's MRR at `start` with theirs at `end`.

    From nothing to something is new, or reactivation when the customer paid before `start`;
    from something to nothing is churn; up is expansion, down is contraction. `first_paid` (from
    `first_paid_at`) may be passed in when computing many windows over the same history.
    """
    timeline = _timeline(history)
    if first_paid is None:
        first_paid = first_paid_at(timeline)
    before = customer_mrr(timeline.at(start), start)
    after = customer_mrr(timeline.at(end), end)
    return _movements(before, after, first_paid, start)


def _movements(
    before: Mapping[str, Mapping[str, int]],
    after: Mapping[str, Mapping[str, int]],
    first_paid: Mapping[tuple[str, str], dt.datetime],
    start: dt.datetime,
) -> dict[str, Movements]:
    result: dict[str, Movements] = {}
    for currency in sorted(set(before) | set(after)):
        m = result[currency] = Movements()
        was, now = before.get(currency, {}), after.get(currency, {})
        m.start_mrr_cents, m.end_mrr_cents = sum(was.values()), sum(now.values())
        for customer in set(was) | set(now):
            a, b = was.get(customer, 0), now.get(customer, 0)
            if a == 0:
                began = first_paid.get((currency, customer))
                if began is not None and began < start:
                    m.reactivation_cents += b
                else:
                    m.new_cents += b
            elif b == 0:
                m.churned_cents += a
            elif b > a:
                m.expansion_cents += b - a
            else:
                m.contraction_cents += a - b
    return result


def churn(
    history: History,
    start: dt.datetime,
    end: dt.datetime,
    plan: str | None = None,
) -> dict[str, Churn]:
    """{currency: Churn} over [start, end] among customers paying at `start` (on `plan` if given).

    Customer churn = those paying at the start who pay nothing at the end / those paying
    at the start.
    Revenue churn = their lost MRR (churned + contraction) / their MRR at the start. A switch from a
    monthly to an annual plan counts as leaving the monthly plan when `plan` is given.
    """
    timeline = _timeline(history)
    before = customer_mrr(timeline.at(start), start, plan)
    after = customer_mrr(timeline.at(end), end, plan)
    return _churn(before, after)


def _churn(
    before: Mapping[str, Mapping[str, int]], after: Mapping[str, Mapping[str, int]]
) -> dict[str, Churn]:
    result: dict[str, Churn] = {}
    for currency, was in before.items():
        now = after.get(currency, {})
        c = result[currency] = Churn(paying_at_start=len(was), start_mrr_cents=sum(was.values()))
        for customer, a in was.items():
            b = now.get(customer, 0)
            if b == 0:
                c.churned_customers += 1
            c.lost_mrr_cents += max(a - b, 0)
        c.customer_churn_rate = ratio(c.churned_customers, c.paying_at_start)
        c.revenue_churn_rate = ratio(c.lost_mrr_cents, c.start_mrr_cents)
    return result


def ratio(part: int, whole: int) -> float | None:
    """part / whole as a fraction; None when there is nothing under it."""
    return part / whole if whole else None


def ledger_totals(
    entries: Iterable[LedgerEntry], start: dt.datetime, end: dt.datetime
) -> dict[str, dict[str, int]]:
    """{currency: {paid_cents, tax_cents, net_cents, invoices}} of invoices paid in [start, end)."""
    result: dict[str, dict[str, int]] = {}
    for entry in entries:
        if not start <= entry.paid_at < end:
            continue
        row = result.setdefault(
            entry.currency, {"paid_cents": 0, "tax_cents": 0, "net_cents": 0, "invoices": 0}
        )
        row["paid_cents"] += entry.amount_paid_cents
        row["tax_cents"] += entry.tax_cents
        row["net_cents"] += entry.amount_paid_cents - entry.tax_cents
        row["invoices"] += 1
    return result


def sponsorship_totals(
    payments: Iterable[tuple[dt.datetime, str, int]], start: dt.datetime, end: dt.datetime
) -> dict[str, int]:
    """{currency: cents} of sponsorships paid in [start, end), from (paid_at, currency, cents).

    Sponsorship money is one-off: it joins the revenue, never MRR or ARR.
    """
    result: dict[str, int] = defaultdict(int)
    for paid_at, currency, cents in payments:
        if start <= paid_at < end:
            result[currency] += cents
    return dict(result)


def revenue_by_customer(entries: Iterable[LedgerEntry]) -> dict[str, dict[str, int]]:
    """{customer: {currency: paid cents before tax}} over the whole ledger."""
    result: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for entry in entries:
        result[entry.customer][entry.currency] += entry.amount_paid_cents - entry.tax_cents
    return {c: dict(v) for c, v in result.items()}


def month_windows(start: dt.datetime, end: dt.datetime) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """Calendar months (UTC) covering [start, end), each clipped to it: (YYYY-MM, from, to)."""
    windows = []
    cursor = start
    while cursor < end:
        year, month = (cursor.year + 1, 1) if cursor.month == 12 else (cursor.year, cursor.month + 1)
        next_month = dt.datetime(year, month, 1, tzinfo=dt.UTC)
        windows.append((f"{cursor.year:04d}-{cursor.month:02d}", cursor, min(next_month, end)))
        cursor = next_month
    return windows


def revenue_report(
    history: History,
    ledger: Iterable[LedgerEntry],
    start: dt.datetime,
    end: dt.datetime,
    sponsorships: Iterable[tuple[dt.datetime, str, int]] = (),
) -> dict:
    """The revenue report over [start, end): one object per currency, the main one on top.

    `sponsorship_cents`: sponsorships paid in the window, (paid_at, currency, cents) each; apart
    from MRR, which they never touch. MRR, ARR, at-risk, scheduled-churn and unpriced-discount
    MRR and paying subscribers are taken at `end`;
    `churn_rate` is customer churn over the whole window; `months` holds movements and churn
    per calendar month, monthly and annual plans apart. Money in integer cents, rates as fractions.
    """
    timeline = _timeline(history)
    snapshot = revenue_snapshot(timeline, end)
    totals = ledger_totals(ledger, start, end)
    sponsored = sponsorship_totals(sponsorships, start, end)
    windows = month_windows(start, end)
    first_paid = first_paid_at(timeline)
    # Each month boundary is looked at up to six times: split its MRR by customer and plan once.
    cache: dict[dt.datetime, dict[str | None, dict[str, dict[str, int]]]] = {}

    def by_customer(at: dt.datetime, plan: str | None = None) -> dict[str, dict[str, int]]:
        if at not in cache:
            cache[at] = _customer_mrr_by_plan(timeline.at(at), at)
        return cache[at].get(plan, {})

    whole_churn = _churn(by_customer(start), by_customer(end))
    per_month = [
        (
            label,
            _movements(by_customer(a), by_customer(b), first_paid, a),
            _churn(by_customer(a), by_customer(b)),
            {plan: _churn(by_customer(a, plan), by_customer(b, plan)) for plan in ("monthly", "annual")},
        )
        for label, a, b in windows
    ]
    currencies = set(snapshot) | set(totals) | set(sponsored) | {c for _, m, _, _ in per_month for c in m}
    blocks: list[dict[str, Any]] = []
    for currency in sorted(currencies):
        snap = snapshot.get(currency, RevenueSnapshot())
        window_churn = whole_churn.get(currency, Churn())
        months = []
        for label, moves, month_churn, by_plan in per_month:
            m = moves.get(currency, Movements())
            c = month_churn.get(currency, Churn())
            months.append(
                {
                    "month": label,
                    "start_mrr_cents": m.start_mrr_cents,
                    "end_mrr_cents": m.end_mrr_cents,
                    "new_cents": m.new_cents,
                    "expansion_cents": m.expansion_cents,
                    "contraction_cents": m.contraction_cents,
                    "churned_cents": m.churned_cents,
                    "reactivation_cents": m.reactivation_cents,
                    "net_new_mrr_cents": m.net_cents,
                    "customer_churn_rate": c.customer_churn_rate,
                    "revenue_churn_rate": c.revenue_churn_rate,
                    "by_plan": {
                        plan: {
                            "paying_at_start": (pc := by_plan[plan].get(currency, Churn())).paying_at_start,
                            "customer_churn_rate": pc.customer_churn_rate,
                            "revenue_churn_rate": pc.revenue_churn_rate,
                        }
                        for plan in ("monthly", "annual")
                    },
                }
            )
        blocks.append(
            {
                "currency": currency,
                "mrr_cents": snap.mrr_cents,
                "arr_cents": snap.arr_cents,
                "at_risk_mrr_cents": snap.at_risk_mrr_cents,
                "scheduled_churn_mrr_cents": snap.scheduled_churn_mrr_cents,
                "unpriced_discount_mrr_cents": snap.unpriced_discount_mrr_cents,
                "paying_subscribers": snap.paying_subscribers,
                "churn_rate": window_churn.customer_churn_rate,
                "revenue_churn_rate": window_churn.revenue_churn_rate,
                "movements": months,
                "ledger": totals.get(
                    currency, {"paid_cents": 0, "tax_cents": 0, "net_cents": 0, "invoices": 0}
                ),
                "sponsorship_cents": sponsored.get(currency, 0),
            }
        )
    blocks.sort(key=lambda b: (-b["mrr_cents"], b["currency"]))
    main = dict(blocks[0]) if blocks else _empty_block()
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        **main,
        "currencies": blocks,
    }


def pooled_monthly_churn(history: History, start: dt.datetime, end: dt.datetime) -> dict[str, float | None]:
    """{currency: monthly customer churn over the window's calendar months, pooled}: customers
    who stopped paying in a month over those paying at its start, summed over the months."""
    timeline = _timeline(history)
    lost: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for _, a, b in month_windows(start, end):
        for currency, c in _churn(customer_mrr(timeline.at(a), a), customer_mrr(timeline.at(b), b)).items():
            lost[currency][0] += c.churned_customers
            lost[currency][1] += c.paying_at_start
    return {currency: ratio(churned, paying) for currency, (churned, paying) in lost.items()}


def empty_block() -> dict:
    """A currency block of the revenue report with nothing in it."""
    return _empty_block()


def _empty_block() -> dict:
    return {
        "currency": None,
        "mrr_cents": 0,
        "arr_cents": 0,
        "at_risk_mrr_cents": 0,
        "scheduled_churn_mrr_cents": 0,
        "unpriced_discount_mrr_cents": 0,
        "paying_subscribers": 0,
        "churn_rate": None,
        "revenue_churn_rate": None,
        "movements": [],
        "ledger": {"paid_cents": 0, "tax_cents": 0, "net_cents": 0, "invoices": 0},
        "sponsorship_cents": 0,
    }
