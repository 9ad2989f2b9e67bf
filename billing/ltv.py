"""Lifetime value from cohort curves, and the simple formula beside it: pure functions.

Cohort: the customers (per currency) whose first paid invoice fell in one calendar month (UTC).
Curve: at age k (k = 0 is that month) the cumulative net cash of the cohort's members up to the
end of month k, divided by the cohort's size at its start. The denominator never shrinks: a
member who leaves keeps counting, with no more cash. Cash comes from billing.cash (refunds and
disputes lower it in the month they happen); an invoice covering several months (an annual
plan) is spread evenly over them. Only months that have ended by `as_of` are observed.

A younger cohort is extended past its last observed age month by month. The ratio at age k is a
cohort's net cash per member in month k over that in month k - 1 (how much of last month's
money came again: a retention-like ratio, never the cumulative curve's, which would compound);
when at least MIN_COHORTS older cohorts were observed at age k, the median of theirs is used;
past the ages that have that many (beyond the oldest cohorts' age) the last such ratio is held.
Each projected month adds the last month's cash times the ratio to the cumulative curve (a last
month of zero or less adds nothing). The range uses the smallest and the largest of those
ratios instead. Curves stop at HORIZON_MONTHS. LTV is the
cohorts' curves at the horizon, weighted by cohort size; None when a cohort cannot be extended
(fewer than MIN_COHORTS cohorts have lived two months).

The simple LTV is ARPPU / monthly customer churn. It assumes churn stays constant for ever, and
it counts annual plans as able to leave every month, which they cannot before their renewal.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from billing.cash import CashEntry

HORIZON_MONTHS = 36
MIN_COHORTS = 3
METHOD = (
    "cumulative net cash (after refunds and disputes) per subscriber who first paid in the cohort's"
    " month, the denominator fixed at the start; annual plans spread monthly; younger cohorts extended"
    f" by the median month-on-month ratio of at least {MIN_COHORTS} older cohorts at the same age (range:"
    f" their smallest and largest), the last ratio held past the oldest cohort's age, up to"
    f" {HORIZON_MONTHS} months"
)
SIMPLE_ASSUMPTIONS = (
    "ARPPU / monthly customer churn: assumes churn stays constant for ever, and that annual plans"
    " could churn any month, which they cannot before their renewal"
)


def month_index(at: dt.datetime) -> int:
    """Months since year 0: consecutive calendar months differ by one."""
    return at.year * 12 + at.month - 1


def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def round_cents(value: Fraction) -> int:
    """Half up, to the cent."""
    return int((value * 2 + 1) // 2)


@dataclass
class Cohort:
    """One cohort's size and observed curve (cumulative cents per member, ages 0..)."""

    currency: str
    month: int
    members: set[str] = field(default_factory=set)
    cash_by_age: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    observed: list[Fraction] = field(default_factory=list)


def _portions(entry: CashEntry) -> list[tuple[int, int]]:
    """(month index, cents) of an entry: an invoice spread evenly over its months, the first
    months taking the odd cents; anything else whole in its month."""
    start = month_index(entry.at)
    n = entry.spread_months if entry.kind == "invoice" else 1
    if n <= 1:
        return [(start, entry.cents)]
    base, extra = divmod(entry.cents, n)
    return [(start + i, base + (1 if i < extra else 0)) for i in range(n)]


def cohorts(entries: Iterable[CashEntry], as_of: dt.datetime) -> dict[str, list[Cohort]]:
    """{currency: cohorts oldest first}, each with its curve over the months ended by `as_of`."""
    entries = [e for e in entries if e.at < as_of]
    first: dict[tuple[str, str], int] = {}
    for e in entries:
        if e.kind == "invoice" and e.cents > 0:
            key = (e.currency, e.customer)
            first[key] = min(first.get(key, month_index(e.at)), month_index(e.at))
    made: dict[tuple[str, int], Cohort] = {}
    for (currency, customer), month in first.items():
        made.setdefault((currency, month), Cohort(currency, month)).members.add(customer)
    for e in entries:
        began = first.get((e.currency, e.customer))
        if began is None:
            continue  # cash of someone who never paid an invoice (a gift's giver): no cohort
        cohort = made[(e.currency, began)]
        for month, cents in _portions(e):
            cohort.cash_by_age[max(month - began, 0)] += cents
    now = month_index(as_of)
    result: dict[str, list[Cohort]] = defaultdict(list)
    for (currency, month), cohort in sorted(made.items()):
        total = 0
        for age in range(min(now - month, HORIZON_MONTHS)):
            total += cohort.cash_by_age.get(age, 0)
            cohort.observed.append(Fraction(total, len(cohort.members)))
        result[currency].append(cohort)
    return dict(result)


@dataclass(frozen=True)
class Ratio:
    """The month-on-month ratios at one age, over the cohorts observed there."""

    age: int
    median: Fraction
    low: Fraction
    high: Fraction
    cohorts: int


def monthly(curve: list[Fraction]) -> list[Fraction]:
    """A cumulative curve's cash month by month."""
    return [v - (curve[i - 1] if i else 0) for i, v in enumerate(curve)]


def age_ratios(curves: Iterable[list[Fraction]]) -> dict[int, Ratio]:
    """{age: Ratio} for the ages where at least MIN_COHORTS curves had cash in month age - 1:
    month(age) / month(age - 1) of each."""
    by_age: dict[int, list[Fraction]] = defaultdict(list)
    for curve in curves:
        months = monthly(curve)
        for age in range(1, len(months)):
            if months[age - 1] > 0:
                by_age[age].append(months[age] / months[age - 1])
    return {
        age: Ratio(age, Fraction(statistics.median(rs)), min(rs), max(rs), len(rs))
        for age, rs in sorted(by_age.items())
        if len(rs) >= MIN_COHORTS
    }


def extend(observed: list[Fraction], ratios: dict[int, Ratio]) -> tuple[list[Fraction], ...] | None:
    """(central, low, high) cumulative curves for the ages after the observed ones, up to the
    horizon; None when some age has no ratio of its own nor an earlier one to hold."""
    central: list[Fraction] = []
    low: list[Fraction] = []
    high: list[Fraction] = []
    if not observed:
        return None
    c = lo = hi = observed[-1]
    last = max(monthly(observed)[-1], Fraction(0))
    m_c = m_lo = m_hi = last
    held: Ratio | None = None
    for age in range(1, HORIZON_MONTHS):
        if age in ratios:
            held = ratios[age]
        if age < len(observed):
            continue
        if held is None:
            return None
        m_c, m_lo, m_hi = m_c * held.median, m_lo * held.low, m_hi * held.high
        c, lo, hi = c + m_c, lo + m_lo, hi + m_hi
        central.append(c)
        low.append(lo)
        high.append(hi)
    return central, low, high


def cohort_ltv(entries: Iterable[CashEntry], as_of: dt.datetime) -> dict[str, dict[str, Any]]:
    """{currency: LTV by the cohort method, its range, each cohort's curve and the ratios}."""
    result: dict[str, dict[str, Any]] = {}
    for currency, group in cohorts(entries, as_of).items():
        seen = [c for c in group if c.observed]
        ratios = age_ratios(c.observed for c in seen)
        rows = []
        weighted = [Fraction(0)] * 3
        size = 0
        complete = True
        for cohort in seen:
            n = len(cohort.members)
            projected = extend(cohort.observed, ratios)
            if projected is None:
                complete = False
                ends: tuple[Fraction, ...] | None = None
            else:
                ends = tuple((p[-1] if p else cohort.observed[-1]) for p in projected)
                size += n
                weighted = [w + n * e for w, e in zip(weighted, ends, strict=True)]
            rows.append(
                {
                    "month": month_label(cohort.month),
                    "subscribers": n,
                    "observed_cents": [round_cents(v) for v in cohort.observed],
                    "projected_cents": [round_cents(v) for v in projected[0]] if projected else None,
                    "projected_low_cents": [round_cents(v) for v in projected[1]] if projected else None,
                    "projected_high_cents": [round_cents(v) for v in projected[2]] if projected else None,
                    "ltv_cents": round_cents(ends[0]) if ends else None,
                }
            )
        young = [month_label(c.month) for c in group if not c.observed]
        ok = complete and size > 0
        result[currency] = {
            "ltv_cents": round_cents(weighted[0] / size) if ok else None,
            "low_cents": round_cents(weighted[1] / size) if ok else None,
            "high_cents": round_cents(weighted[2] / size) if ok else None,
            "horizon_months": HORIZON_MONTHS,
            "method": METHOD,
            "note": None
            if ok
            else f"fewer than {MIN_COHORTS} cohorts have two months of history: no curve can be extended",
            "cohorts": rows,
            "too_young": young,
            "ratios": [
                {
                    "age": r.age,
                    "median": float(r.median),
                    "low": float(r.low),
                    "high": float(r.high),
                    "cohorts": r.cohorts,
                }
                for r in ratios.values()
            ],
        }
    return result


def simple_ltv(arppu_cents: int | None, monthly_churn_rate: float | None) -> int | None:
    """ARPPU / monthly churn, to the cent; None when either is unknown or churn is zero."""
    if arppu_cents is None or not monthly_churn_rate:
        return None
    return round_cents(Fraction(arppu_cents) / Fraction(monthly_churn_rate))


def empty_ltv() -> dict[str, Any]:
    """The `ltv` object of a currency with no cohort."""
    return {
        "ltv_cents": None,
        "low_cents": None,
        "high_cents": None,
        "horizon_months": HORIZON_MONTHS,
        "method": METHOD,
        "note": "no cohort: nobody has paid yet",
        "cohorts": [],
        "too_young": [],
        "ratios": [],
    }
