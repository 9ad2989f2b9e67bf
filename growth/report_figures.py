"""Reading summed rollup cells into the reports' figures: pure functions, `now` passed in.

The definitions are in growth.report_metrics, which makes the cells.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping

from growth.report_metrics import MILESTONES, Facts, month_index, month_start


def median_from_histogram(histogram: Mapping[int, int]) -> float | None:
    """The median of values given as {value: how many}; the mean of the middle two when even."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    lower_rank, upper_rank = (total - 1) // 2, total // 2
    lower = upper = None
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if lower is None and seen > lower_rank:
            lower = value
        if seen > upper_rank:
            upper = value
            break
    assert lower is not None and upper is not None
    return (lower + upper) / 2


def ratio(part: int, whole: int) -> float | None:
    """part / whole; None over nobody."""
    return part / whole if whole else None


def funnel_block(cells: Iterable[tuple[str, int, int]]) -> dict:
    """The funnel of one group from its summed (metric, bucket, n) cells.

    Steps in order with `count`, `conversion` from the step before, `median_days` (from
    signup, among those who reached it) and `share_waiting`; `paying_90` is told among those
    whose 90 days have passed (`eligible`), with `conversion` from those of them who paid.
    """
    counts: Counter[str] = Counter()
    histograms: dict[str, Counter[int]] = {name: Counter() for name in MILESTONES}
    for metric, bucket, n in cells:
        counts[metric] += n
        histogram = histograms.get(metric)
        if histogram is not None:
            histogram[bucket] += n
    steps = []
    previous: str | None = None
    for name in MILESTONES:
        count = counts[name]
        waiting = counts["waiting_" + name] if previous else 0
        steps.append(
            {
                "step": name,
                "count": count,
                "conversion": ratio(count, counts[previous]) if previous else None,
                "median_days": median_from_histogram(histograms.get(name, Counter())),
                "waiting": waiting if previous else None,
                "share_waiting": ratio(waiting, counts[previous]) if previous else None,
            }
        )
        previous = name
    eligible = counts["paid_90_eligible"]
    return {
        "signups": counts["signed_up"],
        "steps": steps,
        "presumed_nurtured": counts["presumed_nurtured"],
        "paying_90": {
            "eligible": eligible,
            "count": counts["paying_90"],
            "conversion": ratio(counts["paying_90"], eligible),
        },
    }


def funnel(
    overall: Iterable[tuple[str, int, int]],
    groups: Mapping[str, Iterable[tuple[str, str, int, int]]],
) -> dict:
    """The whole funnel report: the overall block and, per breakdown, one block per value.

    `groups` maps a breakdown name (newsletter, source, campaign, post) to (value, metric,
    bucket, n) cells; values are listed by signups, most first.
    """
    breakdowns: dict[str, list[dict]] = {}
    for name, cells in groups.items():
        summed: Counter[tuple[str, str, int]] = Counter()
        for value, metric, bucket, n in cells:
            summed[(value, metric, bucket)] += n  # cells may come split finer than the breakdown
        by_value: dict[str, list[tuple[str, int, int]]] = {}
        for (value, metric, bucket), n in summed.items():
            rows = by_value.get(value)
            if rows is None:
                rows = by_value[value] = []
            rows.append((metric, bucket, n))
        blocks = [{"value": value, **funnel_block(rows)} for value, rows in by_value.items()]
        blocks.sort(key=lambda b: (-b["signups"], b["value"]))
        breakdowns[name] = blocks
    return {**funnel_block(overall), "breakdowns": breakdowns}


def cohorts(cells: Iterable[tuple[dt.date, str, int, str, int]], now: dt.datetime) -> list[dict]:
    """Monthly cohorts, oldest first, from summed (cohort month, metric, k, currency, n) cells.

    Each cohort lists months 0..(its age at `now`), each with the shares of the cohort's signups
    active and engaged and paying, revenue per currency and per subscriber; `complete` is false
    for the month still running.
    """
    signups: Counter[dt.date] = Counter()
    values: dict[tuple[dt.date, str, int], int] = Counter()
    revenue: dict[tuple[dt.date, int], Counter[str]] = {}
    for cohort, metric, k, currency, n in cells:
        if metric == "signups":
            signups[cohort] += n
        elif metric == "revenue":
            revenue.setdefault((cohort, k), Counter())[currency] += n
        else:
            values[(cohort, metric, k)] += n
    result = []
    for cohort in sorted(signups):
        size = signups[cohort]
        if size <= 0:
            continue
        months = []
        for k in range(max(month_index(month_start(cohort), now), 0) + 1):
            engaged = values.get((cohort, "active_engaged", k), 0)
            paying = values.get((cohort, "paying", k), 0)
            money = revenue.get((cohort, k), Counter())
            months.append(
                {
                    "month": k,
                    "starts": month_start(cohort, k).date().isoformat(),
                    "complete": month_start(cohort, k + 1) <= now,
                    "active_engaged": engaged,
                    "active_engaged_share": ratio(engaged, size),
                    "paying": paying,
                    "paying_share": ratio(paying, size),
                    "revenue": [
                        {
                            "currency": cur,
                            "revenue_cents": cents,
                            "revenue_per_subscriber_cents": cents / size,
                        }
                        for cur, cents in sorted(money.items())
                    ],
                }
            )
        result.append({"cohort": cohort.strftime("%Y-%m"), "signups": size, "months": months})
    return result


def growth_days(cells: Iterable[tuple[dt.date, str, int]], start: dt.date, end: dt.date) -> list[dict]:
    """Every day of [start, end] in order, with signups, confirmations, unsubscribes, net growth."""
    by_day: dict[dt.date, Counter[str]] = {}
    for day, metric, n in cells:
        by_day.setdefault(day, Counter())[metric] += n
    days = []
    day = start
    while day <= end:
        c = by_day.get(day, Counter())
        days.append(
            {
                "date": day.isoformat(),
                "signups": c["signups"],
                "confirmations": c["confirmations"],
                "unsubscribes": c["unsubscribes"],
                "net_growth": c["confirmations"] - c["unsubscribes"],
            }
        )
        day += dt.timedelta(days=1)
    return days


def is_reachable(facts: Facts, now: dt.datetime, window_days: int) -> bool:
    """Active and engaged, unknown (machine opens only) or paying at `now`."""
    if facts.status != "active":
        return False
    since = now - dt.timedelta(days=window_days)
    recent = [t for t in (facts.last_human_at, facts.last_machine_at) if t is not None and since <= t <= now]
    return bool(recent) or facts.paying_now


def revenue_per_reachable_reader(mrr_cents: Mapping[str, int], reachable: int) -> list[dict]:
    """Per currency: MRR over the readers reachable at the same instant (None over nobody)."""
    return [
        {
            "currency": currency,
            "mrr_cents": cents,
            "reachable_readers": reachable,
            "revenue_per_reachable_reader_cents": cents / reachable if reachable else None,
        }
        for currency, cents in sorted(mrr_cents.items())
    ]
