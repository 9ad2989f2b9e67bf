"""Acquisition economics: pure functions over signups, their cash and ad spend, `now` passed in.

Nothing here touches the database (growth.acquisition loads the rows).

Definitions
-----------
- Media class: each signup is *paid*, *owned* or *earned*. Its keys are looked up in the rules
  in this order: ``utm_medium``, then ``utm_source``, then its *source key* (the partner kind
  ``paid_recommendation`` / ``recommendation`` for a partner signup, ``referral`` for a referred
  one, else the source it gave, else ``other_site`` when it came from a page on another site,
  else ``direct``); values compare lower-cased and stripped. The
  first rule that matches decides. No rule: ``earned`` when the signup came from another site
  (a referrer URL on another host), else ``owned``. The rules are read when a report is made,
  so a changed rule applies to every signup ever made.
- Campaign: ``utm_campaign``, else ``partner:<code>`` for a partner signup, else none ("").
- A campaign's spend is counted in the class most of its signups (in the window) fall in, ties
  and campaigns without signups going to ``paid``.
- Cohort: the calendar month (UTC) of signup. A cohort's *age* is the number of whole calendar
  months since that month began (a cohort of October is 2 months old on any day of December).
- Value at h months, V(h): cash paid by the cohort's signups in its first h calendar months
  (the signup month is month 0), divided by the cohort's confirmed signups, per currency. It is
  *realised* once the cohort's age is at least h.
- Projection of a younger cohort c (age a < h) to h: take every reference cohort j of the same
  group with age >= h, and their increments d_j = V_j(h) - V_j(a). Projected = V_c(a) + the
  median of the d_j; the range is V_c(a) + [d_(i), d_(n+1-i)], the i-th smallest and largest of
  the n increments, i = max(1, floor(0.1 (n + 1))). When cohorts behave alike (exchangeable),
  the cohort's own increment falls in that range with probability at least
  ``sure`` = (n + 1 - 2i) / (n + 1): 1/3 with 2 reference cohorts, 0.8 from 9 on. With fewer
  than 2 reference cohorts there is no projection. Trends between cohorts are not modelled.
- Backtest: each cohort with a realised V(h) is projected from its own first month (a = 1) with
  the other realised cohorts as references; the report shows projected, range and actual.
- Value of a confirmed signup (``value_per_signup_cents``): the median V(H) of the group's
  realised cohorts at the longest horizon H of 12, 6, 3 months with at least 2 of them, with
  the same order-statistic range (what the next cohort's V(H) will be, at ``sure``).
- Highest cost per confirmed signup worth paying (``max_cac_cents``): the low end of that range:
  with probability ``sure`` a new confirmed signup pays back at least that within H months.
- CAC = spend / confirmed; ROAS = revenue / spend (revenue to date of the window's signups);
  payback months = the first k >= 1 at which the group's pooled value curve reaches CAC, where
  the curve at k is the cash of cohorts aged >= k in their first k months over those cohorts'
  confirmed signups. Null (not yet paid back, or nothing to pay back) otherwise.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CLASSES = ("paid", "owned", "earned")
FIELDS = ("utm_medium", "utm_source", "source")  # the order rules are tried in
HORIZONS = (3, 6, 12)
BACKTEST_FROM_AGE = 1
RANGE_TAIL = 0.1  # each side of the range leaves out about this share of reference cohorts
PAID_PARTNER, FREE_PARTNER, REFERRAL, DIRECT, OTHER_SITE = (
    "paid_recommendation",
    "recommendation",
    "referral",
    "direct",
    "other_site",
)

DEFAULT_RULES: tuple[tuple[str, str, str], ...] = (
    *(
        ("utm_medium", v, "paid")
        for v in ("cpc", "ppc", "cpm", "paid", "paid_social", "paidsocial", "paid_search", "display", "ads")
    ),
    *(("utm_medium", v, "owned") for v in ("email", "newsletter")),
    *(("utm_medium", v, "earned") for v in ("referral", "press", "pr")),
    ("source", PAID_PARTNER, "paid"),
    *(("source", v, "earned") for v in (REFERRAL, "share", "press", FREE_PARTNER, OTHER_SITE)),
    *(
        ("source", v, "owned")
        for v in ("website", "form", "post", "embed", "newsletter", DIRECT, "none", "api", "checkout")
    ),
)


@dataclass(frozen=True)
class Rule:
    """A value of one field and the media class it means."""

    field: str
    value: str
    media_class: str


@dataclass(frozen=True)
class Signup:
    """What acquisition needs of one subscriber."""

    subscriber_id: int
    signed_up_at: dt.datetime
    source: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    campaign: str = ""  # utm_campaign
    referrer: str = ""  # the referrer's subscriber id, "" when not referred
    partner: str = ""  # the partner's code
    partner_paid: bool = False
    post: str = ""  # the post they landed on
    other_site: bool = False  # arrived from a page on another site
    confirmed_at: dt.datetime | None = None
    engaged_at: dt.datetime | None = None
    nurtured_at: dt.datetime | None = None
    paid_at: dt.datetime | None = None
    cash: tuple[tuple[dt.datetime, str, int], ...] = ()  # (at, currency, net cents)


@dataclass(frozen=True)
class Spend:
    """One campaign's spend in one month."""

    campaign: str
    month: dt.date
    currency: str
    amount_cents: int


def _key(value: str | None) -> str:
    return (value or "").strip().lower()


def source_key(s: Signup) -> str:
    """The source a rule on `source` sees: partner kind, referral, the source given, other_site, direct."""
    if s.partner:
        return PAID_PARTNER if s.partner_paid else FREE_PARTNER
    if s.referrer:
        return REFERRAL
    return _key(s.source) or (OTHER_SITE if s.other_site else DIRECT)


def classify(s: Signup, rules: Iterable[Rule]) -> tuple[str, Rule | None]:
    """The signup's media class and the rule that decided it (None: the fallback)."""
    table = {(r.field, _key(r.value)): r for r in rules}
    for name, value in (("utm_medium", s.utm_medium), ("utm_source", s.utm_source), ("source", None)):
        key = source_key(s) if name == "source" else _key(value)
        if key and (rule := table.get((name, key))) is not None:
            return rule.media_class, rule
    return ("earned" if s.other_site else "owned"), None


def campaign_of(s: Signup) -> str:
    """utm_campaign, else partner:<code> for a partner signup, else ""."""
    if s.campaign.strip():
        return s.campaign.strip()
    return f"partner:{s.partner}" if s.partner else ""


def month_of(at: dt.datetime | dt.date) -> dt.date:
    """The first day of the calendar month."""
    return dt.date(at.year, at.month, 1)


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole calendar months from start's month to end's month."""
    return (end.year - start.year) * 12 + end.month - start.month


def age_in_months(cohort: dt.date, now: dt.datetime) -> int:
    """Whole calendar months since the cohort's month began (0 during the month itself)."""
    return months_between(cohort, month_of(now))


def order_range(values: Sequence[float]) -> tuple[float, float, float] | None:
    """(low, high, sure): the order-statistic prediction range of one more exchangeable value."""
    n = len(values)
    if n < 2:
        return None
    ordered = sorted(values)
    i = max(1, math.floor(RANGE_TAIL * (n + 1)))
    return ordered[i - 1], ordered[n - i], (n + 1 - 2 * i) / (n + 1)


@dataclass
class Cohort:
    """One signup month of a group, in one currency: its confirmed and its cash by month k."""

    month: dt.date
    age: int
    confirmed: int = 0
    cash_by_k: dict[int, int] = field(default_factory=dict)

    def value(self, h: int) -> float | None:
        """Cash in months 0..h-1 per confirmed signup (None: no confirmed signups)."""
        if not self.confirmed:
            return None
        return sum(c for k, c in self.cash_by_k.items() if k < h) / self.confirmed


def cohorts_of(members: Iterable[Signup], currency: str, now: dt.datetime) -> list[Cohort]:
    """The members' signup cohorts, oldest first, with their cash in `currency` by month k."""
    by_month: dict[dt.date, Cohort] = {}
    for s in members:
        month = month_of(s.signed_up_at)
        cohort = by_month.get(month) or by_month.setdefault(month, Cohort(month, age_in_months(month, now)))
        if s.confirmed_at is not None:
            cohort.confirmed += 1
        for at, cur, cents in s.cash:
            if cur == currency and at <= now:
                k = max(0, months_between(month, month_of(at)))
                cohort.cash_by_k[k] = cohort.cash_by_k.get(k, 0) + cents
    return [by_month[m] for m in sorted(by_month)]


def project(young: Cohort, h: int, references: Sequence[Cohort], from_age: int | None = None) -> dict | None:
    """The young cohort's V(h) projected from the references' increments (None: too few)."""
    a = young.age if from_age is None else from_age
    base = young.value(a)
    if base is None:
        return None
    increments = []
    for ref in references:
        later, earlier = ref.value(h), ref.value(a)
        if ref.age >= h and later is not None and earlier is not None:
            increments.append(later - earlier)
    spread = order_range(increments)
    if spread is None:
        return None
    low, high, sure = spread
    return {
        "from_age": a,
        "projected_cents": round(base + statistics.median(increments)),
        "low_cents": round(base + low),
        "high_cents": round(base + high),
        "sure": round(sure, 3),
        "reference_cohorts": len(increments),
    }


def cohort_values(cohorts: Sequence[Cohort]) -> list[dict[str, Any]]:
    """Per cohort: confirmed, age, and at 3, 6 and 12 months the realised or projected value."""
    rows = []
    for c in cohorts:
        row: dict[str, Any] = {"cohort": f"{c.month:%Y-%m}", "age_months": c.age, "confirmed": c.confirmed}
        for h in HORIZONS:
            realised = c.value(h) if c.age >= h else None
            row[f"value_{h}m"] = {
                "realised_cents": None if realised is None else round(realised),
                "projection": None if c.age >= h else project(c, h, [r for r in cohorts if r is not c]),
            }
        rows.append(row)
    return rows


def backtest(cohorts: Sequence[Cohort]) -> list[dict[str, Any]]:
    """Each realised cohort projected from its first month by the others, beside what it paid."""
    rows = []
    for h in HORIZONS:
        for c in cohorts:
            actual = c.value(h) if c.age >= h else None
            if actual is None:
                continue
            p = project(c, h, [r for r in cohorts if r is not c], from_age=BACKTEST_FROM_AGE)
            if p is None:
                continue
            actual_cents = round(actual)
            inside = p["low_cents"] <= actual_cents <= p["high_cents"]
            rows.append(
                {
                    "cohort": f"{c.month:%Y-%m}",
                    "horizon_months": h,
                    **p,
                    "actual_cents": actual_cents,
                    "inside": inside,
                }
            )
    return rows


def backtest_summary(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per horizon: backtested cohorts, how many landed inside their range, and the stated rate."""
    out = []
    for h in HORIZONS:
        mine = [r for r in rows if r["horizon_months"] == h]
        if mine:
            inside = sum(1 for r in mine if r["inside"])
            out.append(
                {
                    "horizon_months": h,
                    "cohorts": len(mine),
                    "inside": inside,
                    "inside_share": round(inside / len(mine), 3),
                    "stated_sure": round(statistics.fmean(r["sure"] for r in mine), 3),
                }
            )
    return out


def value_per_signup(cohorts: Sequence[Cohort]) -> dict[str, Any]:
    """The value of a confirmed signup at the longest horizon with 2+ realised cohorts, and its range."""
    for h in sorted(HORIZONS, reverse=True):
        realised = [v for c in cohorts if c.age >= h and (v := c.value(h)) is not None]
        spread = order_range(realised)
        if spread is not None:
            low, high, sure = spread
            return {
                "value_per_signup_cents": round(statistics.median(realised)),
                "value_low_cents": round(low),
                "value_high_cents": round(high),
                "value_sure": round(sure, 3),
                "value_horizon_months": h,
                "max_cac_cents": round(low),
            }
    return {
        "value_per_signup_cents": None,
        "value_low_cents": None,
        "value_high_cents": None,
        "value_sure": None,
        "value_horizon_months": None,
        "max_cac_cents": None,
    }


def payback_months(cohorts: Sequence[Cohort], cac_cents: float | None) -> int | None:
    """The first month k at which the pooled value curve reaches CAC; None when not (yet)."""
    if cac_cents is None or cac_cents <= 0:
        return None
    oldest = max((c.age for c in cohorts), default=0)
    for k in range(1, oldest + 1):
        aged = [c for c in cohorts if c.age >= k]
        confirmed = sum(c.confirmed for c in aged)
        if confirmed and sum(c.cash_by_k.get(j, 0) for c in aged for j in range(k)) / confirmed >= cac_cents:
            return k
    return None


def group_rows(
    members: Sequence[Signup],
    spend_by_currency: Mapping[str, int],
    now: dt.datetime,
    detail: bool = True,
) -> list[dict[str, Any]]:
    """One row per currency (of spend or cash; one row with currency None when neither)."""
    counts = {
        "signups": len(members),
        "confirmed": sum(1 for s in members if s.confirmed_at is not None),
        "engaged": sum(1 for s in members if s.engaged_at is not None),
        "nurtured": sum(1 for s in members if s.nurtured_at is not None),
        "paying": sum(1 for s in members if s.paid_at is not None),
    }
    paid_in = {cur for s in members for _, cur, _ in s.cash} | set(spend_by_currency)
    currencies: list[str | None] = [None]
    if paid_in:
        currencies = [*sorted(paid_in)]
    rows = []
    for currency in currencies:
        revenue = sum(c for s in members for at, cur, c in s.cash if cur == currency and at <= now)
        spend = int(spend_by_currency.get(currency, 0)) if currency is not None else 0
        cac = spend / counts["confirmed"] if spend and counts["confirmed"] else None
        cohorts = cohorts_of(members, currency, now) if currency is not None else []
        row: dict[str, Any] = {
            **counts,
            "currency": currency,
            "revenue_cents": revenue,
            "spend_cents": spend,
            "cac_cents": None if cac is None else round(cac),
            "roas": round(revenue / spend, 3) if spend else None,
            "payback_months": payback_months(cohorts, cac),
            **value_per_signup(cohorts),
        }
        if detail:
            backtested = backtest(cohorts)
            row["cohorts"] = cohort_values(cohorts)
            row["backtest"] = backtested
            row["backtest_summary"] = backtest_summary(backtested)
        rows.append(row)
    return rows


def campaign_classes(classes: Mapping[str, Counter[str]], spent: Iterable[str]) -> dict[str, str]:
    """{campaign: the class its spend counts in}: where most of its signups fall, paid on ties."""
    out = {}
    for campaign in set(classes) | set(spent):
        counter = classes.get(campaign) or Counter()
        top = max(counter.values(), default=0)
        winners = [c for c in CLASSES if counter.get(c, 0) == top and top > 0]
        out[campaign] = winners[0] if winners else "paid"
    return out


GROUPS = ("class", "campaign", "source", "partner", "referrer", "post")


def acquisition(
    signups: Sequence[Signup],
    rules: Sequence[Rule],
    spend: Sequence[Spend],
    now: dt.datetime,
    detail_groups: Iterable[str] = ("class", "campaign"),
) -> dict[str, Any]:
    """The report: rows per class and per campaign, and the value of a signup per source (the
    source_key of each signup), partner, referrer and landing post."""
    detail = set(detail_groups)
    by: dict[str, dict[str, list[Signup]]] = defaultdict(lambda: defaultdict(list))
    campaign_votes: dict[str, Counter[str]] = defaultdict(Counter)
    for s in signups:
        media_class, _ = classify(s, rules)
        campaign = campaign_of(s)
        campaign_votes[campaign][media_class] += 1
        by["class"][media_class].append(s)
        by["campaign"][campaign].append(s)
        by["source"][source_key(s)].append(s)
        if s.partner:
            by["partner"][s.partner].append(s)
        if s.referrer:
            by["referrer"][s.referrer].append(s)
        if s.post:
            by["post"][s.post].append(s)
    spend_campaign: dict[str, Counter[str]] = defaultdict(Counter)
    for entry in spend:
        spend_campaign[entry.campaign][entry.currency] += entry.amount_cents
    homes = campaign_classes(campaign_votes, spend_campaign)
    spend_class: dict[str, Counter[str]] = defaultdict(Counter)
    for campaign, amounts in spend_campaign.items():
        spend_class[homes[campaign]].update(amounts)
    groups: dict[str, list[dict[str, Any]]] = {}
    for group in GROUPS:
        values = (
            list(CLASSES)
            if group == "class"
            else sorted(set(by[group]) | set(spend_campaign if group == "campaign" else ()))
        )
        rows = []
        for value in values:
            amounts = (
                spend_class[value]
                if group == "class"
                else spend_campaign.get(value, Counter())
                if group == "campaign"
                else Counter()
            )
            for row in group_rows(by[group].get(value, []), amounts, now, detail=group in detail):
                rows.append({"group": group, "value": value, **row})
        groups[group] = rows
    return groups


def sponsorship_credit(
    engaged_months: Mapping[int, Iterable[dt.date]],
    revenue_by_month: Mapping[tuple[dt.date, str], int],
) -> dict[int, list[tuple[dt.datetime, str, int]]]:
    """Each month's sponsorship revenue split evenly among the readers engaged that month.

    Whole cents: the remainder goes one cent each to the lowest subscriber ids. Each share is
    dated at the month's first instant. A month nobody was engaged in credits nobody.
    """
    readers: dict[dt.date, list[int]] = defaultdict(list)
    for sid, months in engaged_months.items():
        for month in set(months):
            readers[month].append(sid)
    credit: dict[int, list[tuple[dt.datetime, str, int]]] = defaultdict(list)
    for (month, currency), cents in sorted(revenue_by_month.items()):
        who = sorted(readers.get(month, ()))
        if not who or cents <= 0:
            continue
        share, extra = divmod(cents, len(who))
        at = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
        for n, sid in enumerate(who):
            amount = share + (1 if n < extra else 0)
            if amount:
                credit[sid].append((at, currency, amount))
    return dict(credit)
