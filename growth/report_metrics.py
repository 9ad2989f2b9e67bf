"""The operator's numbers (funnel, cohorts, growth): pure functions, `now` passed in.

Nothing here touches the database. A subscriber's history becomes one `Facts` (`subscriber_facts`);
facts become additive cells (`contributions`), which the rollup table sums by key; the reports
read summed cells (growth.report_figures: `funnel`, `cohorts`, `growth_days`). Because every
report figure is a sum of cells, a rollup updated subscriber by subscriber (old cells out, new
cells in) equals a full
recomputation, whatever order the events came in.

Definitions
-----------
- Milestones, each the first time it happened: ``signed_up`` (created), ``confirmed`` (double
  opt-in), ``engaged`` (a human engagement: see growth.stages), ``nurtured`` (first move to that
  stage; readers only presumed nurtured, stage ``presumed``, are not in it: they are counted
  apart as ``presumed_nurtured``, those presumed and not nurtured on human signals since),
  ``paid`` (first instant with MRR, from billing), ``paying_90`` (still paying 90 days after
  first paying; told only once those 90 days have passed: ``paid_90_eligible``).
- Days to a milestone: whole days (rounded down) spent in the earlier milestones before it,
  summed with `growth.stages.time_in_stages`; the median is over those who reached it. Days are
  counted exactly up to 31, then in weeks (32, 39, ...) up to 90, then in 30-day blocks (91,
  121, ...), each block by its first day: a median past a month is a block's lower bound.
- Waiting at a step: reached the step before, not this one, and still a reader (status
  pending or active). ``share_waiting`` = waiting / reached the step before.
- Cohort: the calendar month (UTC) of signup; month ``k`` is the k-th calendar month after it.
  Active and engaged in month k: a human engagement in that month and not gone before its end.
  Paying in month k: paying at some point of that month. Revenue: invoices paid in that month,
  net of tax, per currency; per subscriber = revenue / the cohort's signups.
- Growth per day (UTC): signups, confirmations, unsubscribes (readers who stopped receiving:
  unsubscribed, bounced, complained, inactive or erased, counted on the day they left) and
  net growth = confirmations - unsubscribes.
- Revenue per reachable reader = MRR / active subscribers who are engaged, unknown or paying,
  at the same instant, per currency (`revenue_per_reachable_reader`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from growth.stages import time_in_stages

MILESTONES = ("signed_up", "confirmed", "engaged", "nurtured", "paid")
PAID_90_DAYS = 90
GONE_STATUSES = frozenset({"unsubscribed", "bounced", "complained", "inactive", "erased"})
STILL_READER = frozenset({"pending", "active"})
REFERRAL = "referral"
DIRECT = "direct"

# (kind, day, newsletter_id, source, campaign, post, metric, bucket, currency)
Key = tuple[str, dt.date, int, str, str, str, str, int, str]


@dataclass(frozen=True)
class Facts:
    """What the reports need of one subscriber, computed from their whole history."""

    subscriber_id: int
    signed_up_at: dt.datetime
    newsletter_id: int = 0  # the newsletter they signed up to (0: none)
    source: str = DIRECT  # "referral", the source they gave, or "direct"
    campaign: str = ""  # utm_campaign
    post: str = ""  # the post they landed on (its slug)
    status: str = "pending"
    confirmed_at: dt.datetime | None = None
    engaged_at: dt.datetime | None = None
    nurtured_at: dt.datetime | None = None
    presumed_at: dt.datetime | None = None  # first presumed nurtured (Apple Mail hides their opens)
    paid_at: dt.datetime | None = None
    paying_90: bool | None = None  # None: 90 days since paid_at have not passed (or never paid)
    left_at: dt.datetime | None = None
    engaged_months: frozenset[int] = frozenset()
    paying_months: frozenset[int] = frozenset()
    revenue: tuple[tuple[int, str, int], ...] = ()  # (month k, currency, net cents)
    last_human_at: dt.datetime | None = None
    last_machine_at: dt.datetime | None = None
    paying_now: bool = False


def month_index(start: dt.datetime, at: dt.datetime) -> int:
    """Calendar months from `start`'s month to `at`'s (0 in the same month)."""
    return (at.year - start.year) * 12 + at.month - start.month


def month_start(day: dt.date | dt.datetime, plus: int = 0) -> dt.datetime:
    """The first instant (UTC) of the calendar month `plus` months after `day`'s."""
    year, month = divmod(day.year * 12 + day.month - 1 + plus, 12)
    return dt.datetime(year, month + 1, 1, tzinfo=dt.UTC)


def acquisition_source(referred: bool, source: str | None, utm_source: str | None) -> str:
    """The acquisition source a signup is counted under: referral, else the source given."""
    if referred:
        return REFERRAL
    return (source or utm_source or DIRECT).strip()[:100] or DIRECT


def paying_at(intervals: Iterable[tuple[dt.datetime, dt.datetime | None]], at: dt.datetime) -> bool:
    """Whether `at` falls in one of the [start, end) paying intervals (end None: still paying)."""
    return any(start <= at and (end is None or at < end) for start, end in intervals)


def subscriber_facts(
    *,
    subscriber_id: int,
    signed_up_at: dt.datetime,
    now: dt.datetime,
    status: str = "pending",
    newsletter_id: int = 0,
    source: str = DIRECT,
    campaign: str = "",
    post: str = "",
    confirmed_at: dt.datetime | None = None,
    left_at: dt.datetime | None = None,
    nurtured_at: dt.datetime | None = None,
    presumed_at: dt.datetime | None = None,
    human_at: Iterable[dt.datetime] = (),
    machine_at: Iterable[dt.datetime] = (),
    paid_intervals: Iterable[tuple[dt.datetime, dt.datetime | None]] = (),
    invoices: Iterable[tuple[dt.datetime, str, int]] = (),
) -> Facts:
    """One subscriber's Facts at `now` from plain history (moments after `now` are ignored)."""
    human = sorted(t for t in human_at if t <= now)
    machine = [t for t in machine_at if t <= now]
    intervals = sorted((s, e if e is None or e <= now else None) for s, e in paid_intervals if s <= now)
    paid_at = intervals[0][0] if intervals else None
    paying_90 = None
    if paid_at is not None and paid_at + dt.timedelta(days=PAID_90_DAYS) <= now:
        paying_90 = paying_at(intervals, paid_at + dt.timedelta(days=PAID_90_DAYS))
    paying_months: set[int] = set()
    for start, end in intervals:
        last = end - dt.timedelta(microseconds=1) if end is not None else now
        paying_months.update(range(month_index(signed_up_at, start), month_index(signed_up_at, last) + 1))
    revenue: Counter[tuple[int, str]] = Counter()
    for paid, currency, cents in invoices:
        if paid <= now:
            revenue[(max(month_index(signed_up_at, paid), 0), currency)] += cents
    return Facts(
        subscriber_id=subscriber_id,
        signed_up_at=signed_up_at,
        newsletter_id=newsletter_id,
        source=source,
        campaign=campaign,
        post=post,
        status=status,
        confirmed_at=confirmed_at if confirmed_at and confirmed_at <= now else None,
        engaged_at=human[0] if human else None,
        nurtured_at=nurtured_at if nurtured_at and nurtured_at <= now else None,
        presumed_at=presumed_at if presumed_at and presumed_at <= now else None,
        paid_at=paid_at,
        paying_90=paying_90,
        left_at=left_at if status in GONE_STATUSES else None,
        engaged_months=frozenset(m for m in (month_index(signed_up_at, t) for t in human) if m >= 0),
        paying_months=frozenset(m for m in paying_months if m >= 0),
        revenue=tuple(sorted((k, cur, cents) for (k, cur), cents in revenue.items())),
        last_human_at=human[-1] if human else None,
        last_machine_at=max(machine, default=None),
        paying_now=paying_at(intervals, now),
    )


def milestone_days(facts: Facts) -> dict[str, int]:
    """{milestone: whole days from signup} for each milestone reached.

    The path through the milestones is a stage history; the days to one are the time spent in
    the milestones before it (`time_in_stages` up to the moment it was reached).
    """
    reached = [
        (at, name)
        for name, at in (
            ("signed_up", facts.signed_up_at),
            ("confirmed", facts.confirmed_at),
            ("engaged", facts.engaged_at),
            ("nurtured", facts.nurtured_at),
            ("paid", facts.paid_at),
        )
        if at is not None
    ]
    path = [(at, name) for at, name in reached if at >= facts.signed_up_at]
    days: dict[str, int] = {}
    for at, name in path:
        spent = time_in_stages([p for p in path if p[0] < at or p[1] == "signed_up"], now=at)
        days[name] = int(sum(spent.values(), dt.timedelta()).total_seconds() // 86400)
    return days


def day_bucket(days: int) -> int:
    """Days to a milestone as counted: exact to 31, then by week to 90, then by 30 days."""
    if days <= 31:
        return days
    if days <= 90:
        return 32 + 7 * ((days - 32) // 7)
    return 91 + 30 * ((days - 91) // 30)


# Funnel cells come three ways (by source only, also by campaign, also by post) and at three
# grains (the signup day, its month, and all time): a window reads whole months from the month
# cells and only its ragged ends from the day cells, so a year costs a dozen months, not 365 days;
# the report over all time (the default) reads the all-time cells alone.
FUNNEL_KINDS = ("f", "fc", "fp")
ALL_TIME = dt.date(1970, 1, 1)  # the day of every all-time (":a") cell
# The campaign and post cells are also summed over every newsletter and/or every source (these
# stand in the key for "any"): a report without that filter reads the sums, not the newsletter x
# source split of each post's histogram, which at a million readers was most of its rows.
ANY_NEWSLETTER = -1  # ids are positive (0: signed up to none)
ANY_SOURCE = ""  # acquisition_source never gives an empty source


def breakdown_scopes(newsletter_id: int, source: str) -> tuple[tuple[int, str], ...]:
    """The (newsletter, source) keys a campaign or post cell is added under: its own and the sums."""
    return (
        (newsletter_id, source),
        (ANY_NEWSLETTER, source),
        (newsletter_id, ANY_SOURCE),
        (ANY_NEWSLETTER, ANY_SOURCE),
    )


def contributions(facts: Facts) -> Counter[Key]:
    """The cells this subscriber adds to the rollup (funnel, cohort and growth kinds)."""
    cells: Counter[Key] = Counter()
    day = facts.signed_up_at.date()
    month = month_start(facts.signed_up_at).date()
    nl, src = facts.newsletter_id, facts.source

    funnel: list[tuple[str, int]] = [
        (name, day_bucket(n_days)) for name, n_days in milestone_days(facts).items()
    ]
    reached = {name for name, _ in funnel}
    if facts.status in STILL_READER:
        for before, name in zip(MILESTONES, MILESTONES[1:], strict=False):
            if before in reached and name not in reached:
                funnel.append(("waiting_" + name, 0))
    if facts.presumed_at is not None and "nurtured" not in reached:
        funnel.append(("presumed_nurtured", 0))  # apart from the nurtured: no human signal proves it
    if facts.paying_90 is not None:
        funnel.append(("paid_90_eligible", 0))
        if facts.paying_90:
            funnel.append(("paying_90", 0))
    ways = [("f", nl, src, "", "")]
    for scope_nl, scope_src in breakdown_scopes(nl, src):
        if facts.campaign:
            ways.append(("fc", scope_nl, scope_src, facts.campaign, ""))
        if facts.post:
            ways.append(("fp", scope_nl, scope_src, "", facts.post))
    for kind, way_nl, way_src, campaign, post in ways:
        for grain, on in ((":d", day), (":m", month), (":a", ALL_TIME)):
            for metric, bucket in funnel:
                cells[(kind + grain, on, way_nl, way_src, campaign, post, metric, bucket, "")] += 1

    def add(kind: str, on: dt.date, metric: str, bucket: int = 0, n: int = 1, currency: str = "") -> None:
        cells[(kind, on, nl, src, "", "", metric, bucket, currency)] += n

    add("cohort", month, "signups")
    for k in sorted(facts.engaged_months):
        if facts.left_at is None or facts.left_at >= month_start(facts.signed_up_at, k + 1):
            add("cohort", month, "active_engaged", k)
    for k in sorted(facts.paying_months):
        add("cohort", month, "paying", k)
    for k, currency, cents in facts.revenue:
        add("cohort", month, "revenue", k, cents, currency)

    add("growth", day, "signups")
    if facts.confirmed_at is not None:
        add("growth", facts.confirmed_at.date(), "confirmations")
    if facts.left_at is not None:
        add("growth", facts.left_at.date(), "unsubscribes")
    return +cells


def delta(old: Facts | None, new: Facts | None) -> Counter[Key]:
    """What to add to the rollup when a subscriber's facts go from `old` to `new` (may be negative)."""
    result: Counter[Key] = Counter()
    if new is not None:
        result.update(contributions(new))
    if old is not None:
        result.subtract(contributions(old))
    return Counter({k: v for k, v in result.items() if v})
