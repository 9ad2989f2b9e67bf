"""Referral metrics: pure functions over the referral graph and timestamps, `now` passed in.

The graph is referrer -> referred over counted referrals; every confirmed subscriber is a node,
and nodes with no referrer are the roots (organic, paid, imported readers). Functions take the
graph's edges (`graph.edges` of a networkx DiGraph, or the same pairs read from the database)
and `confirmed_at`, a mapping of node -> confirmation time in epoch seconds. Windows are
[start, end) in epoch seconds, None meaning open. Fractions, never percents; a ratio with
nothing under it is None.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import statistics
from collections import Counter, defaultdict, deque
from collections.abc import Collection, Container, Iterable, Mapping
from typing import Any

import networkx as nx

DAY = 86400.0
WEEK = 7 * DAY
# 1970-01-01 was a Thursday; weeks start on Monday, three days earlier.
_MONDAY_OFFSET = 3 * DAY
CYCLE_BUCKETS = ((0, 1), (1, 3), (3, 7), (7, 14), (14, 30), (30, None))
_BUCKET_EDGES = [hi for _lo, hi in CYCLE_BUCKETS if hi is not None]

Edges = Iterable[tuple[int, int]]


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, None when there is nothing under it."""
    return numerator / denominator if denominator else None


def _inside(t: float | None, start: float | None, end: float | None) -> bool:
    return t is not None and (start is None or t >= start) and (end is None or t < end)


# Hot loops at a million readers avoid a function call per element: they compare against
# bounds (open ends are infinities) and read missing times as NaN, which no comparison admits.
_NAN = math.nan


def _bounds(start: float | None, end: float | None) -> tuple[float, float]:
    return (-math.inf if start is None else start, math.inf if end is None else end)


def _count_between(times: Collection[float], lo: float, hi: float) -> int:
    if lo == -math.inf and hi == math.inf:
        return len(times)
    return sum(1 for t in times if lo <= t < hi)


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
    lo, hi = _bounds(start, end)
    n = _count_between(confirmed_at.values(), lo, hi)
    r = sum(1 for _u, v in edges if lo <= confirmed_at.get(v, _NAN) < hi)
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
    """Per signup cohort: referrals confirmed within the horizon of the referrer's own
    confirmation, over the cohort's size. A signup counts when it completes, so readers are
    grouped by the week (from Monday) or calendar month of their confirmation. A cohort whose
    horizon has not passed is immature: its k is None (it would read low), its referrals so
    far are still shown."""
    cohorts = Cohorts(period)
    horizon = horizon_days * DAY
    lo, hi = _bounds(start, end)
    # Group by day first (a few hundred distinct days), then days into cohorts.
    by_day = Counter(int(t // DAY) for t in confirmed_at.values() if lo <= t < hi)
    day_cohort = {d: cohorts.start(d * DAY) for d in by_day}
    size: Counter[float] = Counter()
    for d, count in by_day.items():
        size[day_cohort[d]] += count
    referrals: Counter[float] = Counter()
    for u, v in edges:
        tu = confirmed_at.get(u, _NAN)
        if lo <= tu < hi and confirmed_at.get(v, _NAN) - tu <= horizon:
            referrals[day_cohort[int(tu // DAY)]] += 1
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
    lo, hi = _bounds(start, end)
    n = _count_between(confirmed_at.values(), lo, hi)
    q = sum(1 for _u, v in edges if lo <= confirmed_at.get(v, _NAN) < hi and v in good)
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
    lo, hi = _bounds(start, end)
    per_referrer: Counter[int] = Counter(u for u, v in edges if lo <= confirmed_at.get(v, _NAN) < hi)
    n = _count_between(confirmed_at.values(), lo, hi)
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
    lo, hi = _bounds(start, end)
    window: list[float] = []
    mature: list[float] = []
    day_mature: dict[int, bool] = {}  # referrer's confirmation day -> is its cohort mature?
    for u, v in edges:
        tu, tv = confirmed_at.get(u), confirmed_at.get(v)
        if tu is None or tv is None:
            continue
        delay = max(tv - tu, 0.0) / DAY
        if lo <= tv < hi:
            window.append(delay)
        d = int(tu // DAY)
        is_mature = day_mature.get(d)
        if is_mature is None:
            is_mature = day_mature[d] = cohorts.end(cohorts.start(d * DAY)) + horizon <= now_ts
        if is_mature:
            mature.append(delay)
    buckets = Counter(bisect.bisect_right(_BUCKET_EDGES, d) for d in mature)
    return {
        "median": statistics.median(window) if window else None,
        "mean": statistics.fmean(window) if window else None,
        "mature_referrals": len(mature),
        "mature_median": statistics.median(mature) if mature else None,
        "distribution": [
            {"from_days": lo, "to_days": hi, "share": ratio(buckets[i], len(mature))}
            for i, (lo, hi) in enumerate(CYCLE_BUCKETS)
        ],
    }


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


def cascades(roots: Iterable[int], alone: int = 0) -> dict[str, Any]:
    """Each root's tree size from every node's root; amplification = nodes per root.

    `alone` counts further readers in trees of one that are not listed in `roots`. For a
    branching process with mean offspring K < 1 amplification tends to 1 / (1 - K).
    """
    sizes = Counter(roots)
    n = sum(sizes.values()) + alone
    largest = max(sizes.values()) if sizes else (1 if alone else None)
    return {
        "amplification": ratio(n, len(sizes) + alone),
        "roots": len(sizes) + alone,
        "largest_cascade": largest,
        "cascades_beyond_root": sum(1 for s in sizes.values() if s > 1),
    }


def window_amplification(
    confirmed_at: Mapping[int, float],
    root: Mapping[int, int],
    start: float | None = None,
    end: float | None = None,
) -> dict[str, Any]:
    """Window flow amplification: readers confirmed in the window per non-referred reader
    confirmed in it.

    `root` maps readers in a tree to their tree's root; a reader it leaves out, or maps to
    itself, was not referred. Every referred reader confirmed in the window is credited to the
    window's own non-referred inflow, whenever their cascade's root joined: the ratio is
    1 / (1 - referred share) of the window. Over all time it is readers per root, the cascades'
    mean size; over a recent window it mixes in cascades of older roots, so read it beside
    `cohort_amplification`.
    """
    lo, hi = _bounds(start, end)
    readers = non_referred = 0
    for sid, t in confirmed_at.items():
        if lo <= t < hi:
            readers += 1
            if root.get(sid, sid) == sid:
                non_referred += 1
    return {"amplification": ratio(readers, non_referred), "readers": readers, "non_referred": non_referred}


def cohort_amplification(
    confirmed_at: Mapping[int, float],
    root: Mapping[int, int],
    now: dt.datetime,
    horizon_days: int,
    start: float | None = None,
    end: float | None = None,
) -> dict[str, Any]:
    """Cohort amplification: the window's non-referred readers (its cohort of roots) and every
    descendant of theirs confirmed within `horizon_days` of their root's confirmation, over the
    roots.

    Readers below roots from before the window are not this cohort's. Provisional while
    now < end + horizon (a root's horizon may still be open; an open end never closes).
    `largest_cascade` and `cascades_beyond_root` describe the same horizon-bounded cascades.
    """
    lo, hi = _bounds(start, end)
    horizon = horizon_days * DAY
    root_of = root.get
    cutoff = {
        sid: t + horizon for sid, t in confirmed_at.items() if lo <= t < hi and root_of(sid, sid) == sid
    }
    # Missing times read as NaN and missing roots as -inf: neither comparison admits them.
    limit, when, never = cutoff.get, confirmed_at.get, -math.inf
    below = Counter(r for sid, r in root.items() if sid != r and when(sid, _NAN) <= limit(r, never))
    roots = len(cutoff)
    readers = roots + sum(below.values())
    return {
        "amplification": ratio(readers, roots),
        "roots": roots,
        "readers": readers,
        "largest_cascade": 1 + max(below.values(), default=0) if roots else None,
        "cascades_beyond_root": len(below),
        "provisional": hi + horizon > _ts(now),
    }


# How it spread: structural virality ------------------------------------------------------------

# Cascade sizes are banded in decades from 2: a one-reader cascade has no pair to measure.
VIRALITY_BANDS = ((2, 10), (10, 100), (100, 1000), (1000, None))


def cascade_wiener(
    parent: Mapping[int, int],
    root: Mapping[int, int],
    downstream: Mapping[int, int],
    depth: Mapping[int, int],
) -> dict[int, tuple[int, int, int]]:
    """(size n, Wiener index W, generations) of every cascade of two or more, by root.

    In a tree each edge splits the n nodes into the s below it and the n - s above, and lies on
    the path of exactly s x (n - s) pairs, so W (the sum of all pairwise distances) is the sum
    of s x (n - s) over edges, s a child's downstream + 1 and n its root's downstream + 1. A leaf
    adds 1 x (n - 1), so W = (n - 1)^2 plus, for each non-root reader who referred someone,
    s x (n - s) - (n - 1): one pass over the referrers (`downstream`, about one reader in six),
    not over every edge. The deepest generation is one below the deepest referrer.
    `parent` maps referred -> referrer, `root` a reader to its tree's root, `depth` to its
    generation; `downstream` counts descendants (readers missing from it have none).
    """
    out: dict[int, list[int]] = {}
    inner: list[tuple[int, int, int]] = []
    root_of, depth_of = root.get, depth.get
    for node, below in downstream.items():
        if not below:
            continue
        if node in parent:
            r = root_of(node)
            if r is not None:
                inner.append((r, below + 1, depth_of(node, 0) + 1))
        else:
            out[node] = [below + 1, below * below, 1]
    for r, s, deepest in inner:
        entry = out.get(r)
        if entry is not None:
            n = entry[0]
            entry[1] += s * (n - s) - (n - 1)
            if deepest > entry[2]:
                entry[2] = deepest
    return {r: (n, w, g) for r, (n, w, g) in out.items()}


def structural_virality(n: int, wiener: int) -> float | None:
    """Goel et al. (2016): the mean distance between two nodes of the cascade, W / C(n, 2).

    A star of n is 2(n - 1) / n (below 2: one broadcaster), a chain (n + 1) / 3 (person to
    person, growing with n). None for a single reader.
    """
    return wiener / (n * (n - 1) / 2) if n > 1 else None


def virality_summary(
    cascades: Mapping[int, tuple[int, int, int]],
    generation_counts: Mapping[str, int],
    min_size: int = 10,
    top: int = 10,
) -> dict[str, Any]:
    """Structural virality over the cascades (`cascade_wiener`) of at least `min_size` readers.

    `mean` is unweighted (each cascade once), `median` likewise; `bands` the same by size band
    (only sizes of min_size and above); `viral_share` the share of referred readers (generation
    1 or deeper in `generation_counts`, generation -> readers) at generation 2 or deeper, a
    count-based view of person-to-person spread; `most_viral` the top cascades by virality
    (ties: larger first, then root id).
    """
    rows = [
        (structural_virality(n, w) or 0.0, n, r, g)
        for r, (n, w, g) in cascades.items()
        if n >= max(min_size, 2)
    ]
    values = [v for v, _n, _r, _g in rows]
    bands = []
    for lo, hi in VIRALITY_BANDS:
        if hi is not None and hi <= min_size:
            continue
        in_band = [v for v, n, _r, _g in rows if n >= lo and (hi is None or n < hi)]
        bands.append(
            {
                "from_size": max(lo, min_size),
                "to_size": hi,
                "cascades": len(in_band),
                "mean": statistics.fmean(in_band) if in_band else None,
                "median": statistics.median(in_band) if in_band else None,
            }
        )
    referred = sum(c for g, c in generation_counts.items() if int(g) >= 1)
    deep = sum(c for g, c in generation_counts.items() if int(g) >= 2)
    most = sorted(rows, key=lambda t: (-t[0], -t[1], t[2]))[:top]
    return {
        "min_size": min_size,
        "cascades": len(rows),
        "mean": statistics.fmean(values) if values else None,
        "median": statistics.median(values) if values else None,
        "bands": bands,
        "viral_share": ratio(deep, referred),
        "most_viral": [{"root_id": r, "size": n, "virality": v, "generations": g} for v, n, r, g in most],
    }


def top_referrers(
    direct: Mapping[int, int], downstream: Mapping[int, int], n: int = 10
) -> dict[str, list[dict[str, int]]]:
    """The top n by direct referrals and by whole downstream (ties by id)."""

    def top(counts: Mapping[int, int]) -> list[dict[str, int]]:
        ranked = sorted(((c, s) for s, c in counts.items() if c > 0), key=lambda cs: (-cs[0], cs[1]))[:n]
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


def skok(c0: float, k: float, cycle_days: float, t_days: float) -> float | None:
    """David Skok's viral model C(t) = C0 (K^(t/ct + 1) - 1) / (K - 1); K = 1 grows linearly.

    None when K > 1 and the number of cycles is so large that the value overflows a float.
    """
    cycles = t_days / cycle_days
    if abs(k - 1.0) < 1e-12:
        return c0 * (cycles + 1)
    try:
        return c0 * (k ** (cycles + 1) - 1) / (k - 1)
    except OverflowError:  # K > 1 over a huge number of cycles: no finite answer to give
        return None


SATURATION_EPSILON = 1e-12


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
        # Converged (new readers vanish against the total): later cycles add nothing. This
        # also bounds the loop when the measured cycle time is tiny and `whole` is huge.
        if new <= SATURATION_EPSILON * max(total, 1.0):
            return total
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
            saturating(current, k, cycle_days, t, market) if k is not None and cycle_days and market else None
        )
        out.append({"period": p, "steady": steady, "skok": skok_value, "logistic": logistic})
    return out


def inflow_and_churn(
    confirmed_at: Mapping[int, float],
    unsubscribed_at: Mapping[int, float],
    referred: Container[int],
    now: dt.datetime,
    period_days: float,
    lookback: int = 3,
) -> tuple[float | None, float | None]:
    """Mean non-referred confirmations per period over the last `lookback` whole periods, and
    the share of readers confirmed before the last period who left during it."""
    now_ts = _ts(now)
    span = period_days * DAY
    since = now_ts - lookback * span
    inflow = sum(1 for node, t in confirmed_at.items() if since <= t < now_ts and node not in referred)
    last = now_ts - span
    # base: confirmed before the last period and still there when it began
    gone_before = sum(
        1 for node, t in unsubscribed_at.items() if t < last and confirmed_at.get(node, _NAN) < last
    )
    base = sum(1 for t in confirmed_at.values() if t < last) - gone_before
    left = sum(
        1 for node, t in unsubscribed_at.items() if last <= t < now_ts and confirmed_at.get(node, _NAN) < last
    )
    return (inflow / lookback if confirmed_at else None), ratio(left, base)
