"""Referral metrics: pure functions over the referral graph and timestamps, `now` passed in.

The graph is referrer -> referred over counted referrals; every confirmed subscriber is a node,
and nodes with no referrer are the roots (organic, paid, imported readers). Functions take the
graph's edges (`graph.edges` of a networkx DiGraph, or the same pairs read from the database)
and `confirmed_at`, a mapping of node -> confirmation time in epoch seconds. Windows are
[start, end) in epoch seconds, None meaning open. Fractions, never percents; a ratio with
nothing under it is None.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter, defaultdict, deque
from collections.abc import Container, Iterable, Mapping
from typing import Any

import networkx as nx

DAY = 86400.0
WEEK = 7 * DAY
# 1970-01-01 was a Thursday; weeks start on Monday, three days earlier.
_MONDAY_OFFSET = 3 * DAY
CYCLE_BUCKETS = ((0, 1), (1, 3), (3, 7), (7, 14), (14, 30), (30, None))

Edges = Iterable[tuple[int, int]]


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, None when there is nothing under it."""
    return numerator / denominator if denominator else None


def _inside(t: float | None, start: float | None, end: float | None) -> bool:
    return t is not None and (start is None or t >= start) and (end is None or t < end)


def _ts(moment: dt.datetime) -> float:
    return moment.timestamp()


# Cohorts -------------------------------------------------------------------------------------


class Cohorts:
    """Maps epoch seconds to the start of their week (Monday) or calendar month, fast."""

    def __init__(self, period: str) -> None:
        if period not in {"week", "month"}:
            raise ValueError("period must be 'week' or 'month'")
        self.period = period
        self._months: dict[int, float] = {}

    def start(self, t: float) -> float:
        """Start of the cohort containing t."""
        if self.period == "week":
            return math.floor((t + _MONDAY_OFFSET) / WEEK) * WEEK - _MONDAY_OFFSET
        day = int(t // DAY)
        start = self._months.get(day)
        if start is None:
            d = dt.datetime.fromtimestamp(day * DAY, dt.UTC)
            start = self._months[day] = dt.datetime(d.year, d.month, 1, tzinfo=dt.UTC).timestamp()
        return start

    def end(self, cohort_start: float) -> float:
        """Start of the next cohort."""
        if self.period == "week":
            return cohort_start + WEEK
        d = dt.datetime.fromtimestamp(cohort_start, dt.UTC)
        nxt = dt.datetime(d.year + d.month // 12, d.month % 12 + 1, 1, tzinfo=dt.UTC)
        return nxt.timestamp()

    def label(self, cohort_start: float) -> str:
        return dt.datetime.fromtimestamp(cohort_start, dt.UTC).date().isoformat()


# The viral loop --------------------------------------------------------------------------------


def k_factor(
    edges: Edges,
    confirmed_at: Mapping[int, float],
    visit_counts: Mapping[int, int],
    start: float | None = None,
    end: float | None = None,
) -> dict[str, float | None]:
    """K and its factors over a window.

    N: subscribers confirmed in the window; R: counted referrals whose referred reader confirmed
    in it; V: counted visits in it (visit_counts, per referrer, already limited to the window);
    sharers: referrers with at least one. k = R/N = invite_rate x conversion_rate, and
    invite_rate = share_rate x visits_per_sharer. For a process that has run its course, k is
    the mean number of offspring.
    """
    n = sum(1 for t in confirmed_at.values() if _inside(t, start, end))
    r = sum(1 for _u, v in edges if _inside(confirmed_at.get(v), start, end))
    visits = sum(visit_counts.values())
    sharers = sum(1 for c in visit_counts.values() if c > 0)
    return {
        "k_factor": ratio(r, n),
        "share_rate": ratio(sharers, n),
        "visits_per_sharer": ratio(visits, sharers),
        "invite_rate": ratio(visits, n),
        "conversion_rate": ratio(r, visits),
    }


def cohort_k(
    edges: Edges,
    confirmed_at: Mapping[int, float],
    now: dt.datetime,
    horizon_days: int,
    period: str = "month",
    start: float | None = None,
    end: float | None = None,
) -> list[dict[str, Any]]:
    """Per confirmation cohort: referrals confirmed within the horizon of the referrer's own
    confirmation, over the cohort's size. A cohort whose horizon has not passed is immature:
    its k is None (it would read low), its referrals so far are still shown."""
    cohorts = Cohorts(period)
    horizon = horizon_days * DAY
    size: Counter[float] = Counter()
    cohort_of: dict[int, float] = {}
    for node, t in confirmed_at.items():
        if _inside(t, start, end):
            c = cohorts.start(t)
            cohort_of[node] = c
            size[c] += 1
    referrals: Counter[float] = Counter()
    for u, v in edges:
        c = cohort_of.get(u)
        tv = confirmed_at.get(v)
        if c is not None and tv is not None and tv - confirmed_at[u] <= horizon:
            referrals[c] += 1
    now_ts = _ts(now)
    out = []
    for c in sorted(size):
        mature = cohorts.end(c) + horizon <= now_ts
        out.append(
            {
                "cohort": cohorts.label(c),
                "size": size[c],
                "referrals": referrals[c],
                "k": ratio(referrals[c], size[c]) if mature else None,
                "mature": mature,
            }
        )
    return out


def quality_k(
    edges: Edges,
    confirmed_at: Mapping[int, float],
    good: Container[int],
    now: dt.datetime,
    horizon_days: int,
    start: float | None = None,
    end: float | None = None,
) -> float | None:
    """K counting only referred readers still active and engaged (`good`) after the horizon.

    Only subscribers confirmed at least `horizon_days` before `now` are measured, on both sides.
    """
    cutoff = _ts(now) - horizon_days * DAY
    end = cutoff if end is None else min(end, cutoff)
    n = sum(1 for t in confirmed_at.values() if _inside(t, start, end))
    q = sum(1 for _u, v in edges if v in good and _inside(confirmed_at.get(v), start, end))
    return ratio(q, n)


def concentration(
    edges: Edges,
    confirmed_at: Mapping[int, float],
    start: float | None = None,
    end: float | None = None,
    top_fraction: float = 0.01,
) -> dict[str, Any]:
    """Share of the window's referrals made by the top `top_fraction` of referrers (at least one
    referrer), and K without them (their referrals and themselves left out)."""
    per_referrer: Counter[int] = Counter(
        u for u, v in edges if _inside(confirmed_at.get(v), start, end)
    )
    n = sum(1 for t in confirmed_at.values() if _inside(t, start, end))
    total = sum(per_referrer.values())
    top_n = math.ceil(len(per_referrer) * top_fraction) if per_referrer else 0
    top = per_referrer.most_common(top_n)
    top_sum = sum(c for _node, c in top)
    top_in_window = sum(1 for node, _c in top if _inside(confirmed_at.get(node), start, end))
    return {
        "top_referrers": top_n,
        "top_share": ratio(top_sum, total),
        "k_without_top": ratio(total - top_sum, n - top_in_window),
    }


def viral_cycle_time(
    edges: Edges,
    confirmed_at: Mapping[int, float],
    now: dt.datetime,
    horizon_days: int,
    period: str = "month",
    start: float | None = None,
    end: float | None = None,
) -> dict[str, Any]:
    """Delay in days from a referrer's confirmation to their referrals' confirmations.

    Median and mean over referrals confirmed in the window; beside them the distribution
    (fractions per bucket of days) over referrers of mature cohorts only, because recent
    referrers have not finished referring and would pull the delays down.
    """
    cohorts = Cohorts(period)
    horizon = horizon_days * DAY
    now_ts = _ts(now)
    window: list[float] = []
    mature: list[float] = []
    ends: dict[float, float] = {}
    for u, v in edges:
        tu, tv = confirmed_at.get(u), confirmed_at.get(v)
        if tu is None or tv is None:
            continue
        delay = max(tv - tu, 0.0) / DAY
        if _inside(tv, start, end):
            window.append(delay)
        c = cohorts.start(tu)
        cohort_end = ends.get(c)
        if cohort_end is None:
            cohort_end = ends[c] = cohorts.end(c)
        if cohort_end + horizon <= now_ts:
            mature.append(delay)
    buckets = Counter(_bucket(d) for d in mature)
    return {
        "median": statistics.median(window) if window else None,
        "mean": statistics.fmean(window) if window else None,
        "mature_referrals": len(mature),
        "mature_median": statistics.median(mature) if mature else None,
        "distribution": [
            {"from_days": lo, "to_days": hi, "share": ratio(buckets[(lo, hi)], len(mature))}
            for lo, hi in CYCLE_BUCKETS
        ],
    }


def _bucket(days: float) -> tuple[int, int | None]:
    for lo, hi in CYCLE_BUCKETS:
        if hi is None or days < hi:
            return (lo, hi)
    return CYCLE_BUCKETS[-1]


# The forest: generations, cascades, downstream ------------------------------------------------


def tree_positions(graph: nx.DiGraph) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """(depth, root, downstream) of every node, in one breadth-first pass and one reverse pass.

    The reference the precomputed referral_nodes columns are checked against. Referral graphs
    are forests (one referrer per reader), so each node is reached once.
    """
    depth: dict[int, int] = {}
    root: dict[int, int] = {}
    order: list[int] = []
    for r in (n for n, d in graph.in_degree() if d == 0):
        depth[r], root[r] = 0, r
        queue = deque([r])
        while queue:
            u = queue.popleft()
            order.append(u)
            for v in graph.successors(u):
                depth[v], root[v] = depth[u] + 1, r
                queue.append(v)
    downstream = dict.fromkeys(order, 0)
    for u in reversed(order):  # children before parents: one pass, no per-node descendants walk
        for v in graph.successors(u):
            downstream[u] += 1 + downstream[v]
    return depth, root, downstream


def generations(depths: Iterable[int]) -> dict[str, Any]:
    """Distribution of depth below the root, its maximum, and the share acquired by referral."""
    counts = Counter(depths)
    total = sum(counts.values())
    return {
        "generation_counts": {str(g): counts[g] for g in sorted(counts)},
        "max_generation": max(counts) if counts else None,
        "referred_share": ratio(total - counts.get(0, 0), total),
    }


def cascades(roots: Iterable[int]) -> dict[str, Any]:
    """Each root's tree size from every node's root; amplification = nodes per root.

    For a branching process with mean offspring K < 1 amplification tends to 1 / (1 - K).
    """
    sizes = Counter(roots)
    n = sum(sizes.values())
    largest = max(sizes.values()) if sizes else None
    return {
        "amplification": ratio(n, len(sizes)),
        "roots": len(sizes),
        "largest_cascade": largest,
        "cascades_beyond_root": sum(1 for s in sizes.values() if s > 1),
    }


def top_referrers(
    direct: Mapping[int, int], downstream: Mapping[int, int], n: int = 10
) -> dict[str, list[dict[str, int]]]:
    """The top n by direct referrals and by whole downstream (ties by id)."""

    def top(counts: Mapping[int, int]) -> list[dict[str, int]]:
        ranked = sorted(
            ((c, s) for s, c in counts.items() if c > 0), key=lambda cs: (-cs[0], cs[1])
        )[:n]
        return [
            {"subscriber_id": s, "direct": direct.get(s, 0), "downstream": downstream.get(s, 0)}
            for _c, s in ranked
        ]

    return {"by_direct": top(direct), "by_downstream": top(downstream)}


def downstream_revenue(
    parent: Mapping[int, int | None],
    revenue: Mapping[int, Mapping[str, int]],
    wanted: Container[int],
) -> dict[int, dict[str, int]]:
    """Revenue of every reader below each wanted referrer, by currency (cents).

    Walks up from each paying reader to the root: cost is payers x depth, not a descendants walk.
    """
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for payer, amounts in revenue.items():
        node = parent.get(payer)
        while node is not None:
            if node in wanted:
                bucket = out[node]
                for currency, cents in amounts.items():
                    bucket[currency] = bucket.get(currency, 0) + cents
            node = parent.get(node)
    return dict(out)


# Forecast ---------------------------------------------------------------------------------------


def skok(c0: float, k: float, cycle_days: float, t_days: float) -> float:
    """David Skok's viral model C(t) = C0 (K^(t/ct + 1) - 1) / (K - 1); K = 1 grows linearly."""
    cycles = t_days / cycle_days
    if abs(k - 1.0) < 1e-12:
        return c0 * (cycles + 1)
    return c0 * (k ** (cycles + 1) - 1) / (k - 1)


def saturating(c0: float, k: float, cycle_days: float, t_days: float, market: float) -> float:
    """Skok's cascade with a market ceiling: each cycle's new readers are K x the last cycle's
    times the share of the market still free (a discrete logistic). Without a ceiling it equals
    Skok at whole cycles; between cycles it is interpolated linearly."""
    cycles = t_days / cycle_days
    total, new = c0, c0
    whole = int(cycles)
    for _ in range(whole):
        new = k * new * max(0.0, 1 - total / market)
        total += new
    nxt = k * new * max(0.0, 1 - total / market)
    return total + (cycles - whole) * nxt


def forecast(
    current: float,
    inflow: float | None,
    k: float | None,
    churn_rate: float | None,
    period_days: float,
    cycle_days: float | None,
    periods: int = 12,
    market: float | None = None,
) -> list[dict[str, Any]]:
    """Subscribers at the end of each of the next periods, three ways.

    `steady`: each period adds non-referred inflow x 1/(1-K) and loses churn_rate of the base
    (None when K >= 1: the loop would not settle). `skok`: Skok's closed form from the current
    base. `logistic`: the same with a market ceiling, when a market size is given.
    """
    out = []
    size = current
    steady_ok = inflow is not None and k is not None and k < 1
    for p in range(1, periods + 1):
        steady = None
        if steady_ok:
            assert inflow is not None and k is not None
            size = size + inflow / (1 - k) - size * (churn_rate or 0.0)
            steady = size
        t = p * period_days
        skok_value = skok(current, k, cycle_days, t) if k is not None and cycle_days else None
        logistic = (
            saturating(current, k, cycle_days, t, market)
            if k is not None and cycle_days and market
            else None
        )
        out.append({"period": p, "steady": steady, "skok": skok_value, "logistic": logistic})
    return out


def inflow_and_churn(
    confirmed_at: Mapping[int, float],
    unsubscribed_at: Mapping[int, float],
    roots: Container[int],
    now: dt.datetime,
    period_days: float,
    lookback: int = 3,
) -> tuple[float | None, float | None]:
    """Mean non-referred confirmations per period over the last `lookback` whole periods, and
    the share of readers confirmed before the last period who left during it."""
    now_ts = _ts(now)
    span = period_days * DAY
    since = now_ts - lookback * span
    inflow = sum(1 for node, t in confirmed_at.items() if since <= t < now_ts and node in roots)
    last = now_ts - span
    base = sum(
        1
        for node, t in confirmed_at.items()
        if t < last and unsubscribed_at.get(node, math.inf) >= last
    )
    left = sum(
        1
        for node, t in unsubscribed_at.items()
        if last <= t < now_ts and confirmed_at.get(node, math.inf) < last
    )
    return (inflow / lookback if confirmed_at else None), ratio(left, base)
