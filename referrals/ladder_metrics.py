"""The reward-ladder comparison: pure functions over plain readers, `now` passed in.

A variant is judged only on its readers assigned at least `horizon_days` before `now`, each
over the same stretch: referrals counted and rewards granted in the `horizon_days` after their
assignment. Younger readers have not had the time and would read low; they are `waiting`.
Every figure comes with a 95% interval (z = 1.96); a figure with nothing under it is None, and
an interval that cannot be estimated (too few readers) has None bounds.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Z95 = 1.959964  # the two-sided 95% normal quantile
DAY = 86400.0


@dataclass(frozen=True)
class Variant:
    """A ladder variant as the comparison names it."""

    id: int
    name: str
    share: int
    active: bool
    currency: str | None


# Rows of judged readers' activity: (variant id, subscriber id, assigned at, at, value), the value
# whether the referred reader is still engaged (referrals) or the milestone's cost (grants).
Activity = Iterable[tuple[int, int, float, float, Any]]


def interval(value: float | None, low: float | None, high: float | None) -> dict[str, float | None]:
    return {"value": value, "low": low, "high": high}


def wilson(successes: int, n: int, z: float = Z95) -> dict[str, float | None]:
    """The share successes/n with its Wilson score interval:

    (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n), p = successes/n.
    Unlike p ± z·√(p(1−p)/n) it stays inside [0, 1] and is not zero-width at 0 or n.
    """
    if n <= 0:
        return interval(None, None, None)
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return interval(p, max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(values: Sequence[float], z: float = Z95) -> dict[str, float | None]:
    """The mean with the normal interval mean ± z·s/√n, s the sample standard deviation
    (n − 1 under it); bounds None below two values."""
    return mean_interval_of_sums(len(values), sum(values), sum(v * v for v in values), z)


def mean_interval_of_sums(n: int, total: float, total_sq: float, z: float = Z95) -> dict[str, float | None]:
    """mean_interval from n, Σv and Σv² (readers with 0 add only to n)."""
    if n <= 0:
        return interval(None, None, None)
    mean = total / n
    if n < 2:
        return interval(mean, None, None)
    sd = math.sqrt(max(0.0, total_sq - total * total / n) / (n - 1))
    half = z * sd / math.sqrt(n)
    return interval(mean, mean - half, mean + half)


def ratio_interval(
    numerators: Sequence[float], denominators: Sequence[float], z: float = Z95
) -> dict[str, float | None]:
    """R = Σy / Σx over readers (y their reward cost, x their counted referrals) with the delta
    method's interval R ± z·SE, SE = √(Σ(yᵢ − R·xᵢ)² / (n − 1) / n) / x̄ — the standard error of
    a ratio estimator, readers being the sampled unit. The low bound is kept at 0 or above (a cost
    is not negative). None when no referral was counted; bounds None below two readers."""
    pairs = list(zip(numerators, denominators, strict=True))
    return ratio_interval_of_sums(
        len(pairs),
        sum(y for y, _x in pairs),
        sum(x for _y, x in pairs),
        sum(y * y for y, _x in pairs),
        sum(y * x for y, x in pairs),
        sum(x * x for _y, x in pairs),
        z,
    )


def ratio_interval_of_sums(
    n: int, sy: float, sx: float, syy: float, sxy: float, sxx: float, z: float = Z95
) -> dict[str, float | None]:
    """ratio_interval from n and the sums Σy, Σx, Σy², Σxy, Σx²:
    Σ(yᵢ − R·xᵢ)² = Σy² − 2R·Σxy + R²·Σx² (readers with y = x = 0 add only to n)."""
    if n <= 0 or sx == 0:
        return interval(None, None, None)
    r = sy / sx
    if n < 2:
        return interval(r, None, None)
    residual = max(0.0, syy - 2 * r * sxy + r * r * sxx)
    se = math.sqrt(residual / (n - 1) / n) / (sx / n)
    return interval(r, max(0.0, r - z * se), r + z * se)


def count_readers(
    assignments: Iterable[tuple[int, float]], now: dt.datetime, horizon_days: int
) -> dict[int, tuple[int, int]]:
    """(assigned, judged) per variant from (variant id, assigned at) pairs: judged are readers
    assigned at least `horizon_days` before `now`; the others are waiting. (The report counts the
    same in SQL, over the index on variant and assignment time.)"""
    cutoff = now.timestamp() - horizon_days * DAY
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for vid, t in assignments:
        out[vid][0] += 1
        out[vid][1] += t <= cutoff
    return {vid: (a, j) for vid, (a, j) in out.items()}


def compare(
    variants: Sequence[Variant],
    readers: Mapping[int, tuple[int, int]],
    referrals: Activity,
    grants: Activity,
    now: dt.datetime,
    horizon_days: int,
) -> list[dict[str, Any]]:
    """Every variant's figures over its readers past the horizon, in id order.

    `readers`: (assigned, judged) per variant (count_readers). `referrals`: counted referrals
    of assigned readers as (variant, referrer, assigned at, counted at, whether the referred
    reader is still active and engaged now); `grants`: (variant, reader, assigned at, granted
    at, the milestone's cost in cents). Times in epoch seconds. Rows of readers assigned less
    than `horizon_days` before `now` are ignored. For each judged reader i, over [assigned_at,
    assigned_at + horizon]: cᵢ counted referrals, qᵢ of them still engaged, yᵢ the reward cost;
    readers without any count 0 in all three.
      engaged_referrer_share = #{i: qᵢ ≥ 1} / n, Wilson interval;
      quality_k = mean of qᵢ (engaged counted referrals per reader), normal interval;
      cost_per_referral_cents = Σyᵢ / Σcᵢ, delta-method interval (ratio_interval).
    """
    horizon = horizon_days * DAY
    cutoff = now.timestamp() - horizon
    variant_of: dict[int, int] = {}
    engaged: Counter[int] = Counter()
    counted: Counter[int] = Counter()
    cost: Counter[int] = Counter()
    for vid, sid, start, t, is_engaged in referrals:
        if start <= cutoff and start <= t <= start + horizon:
            variant_of[sid] = vid
            counted[sid] += 1
            engaged[sid] += bool(is_engaged)
    for vid, sid, start, t, cents in grants:
        if start <= cutoff and start <= t <= start + horizon:
            variant_of[sid] = vid
            cost[sid] += cents
    # per variant: readers with q >= 1, Σq, Σq², Σy, Σc, Σy², Σyc, Σc²
    sums: dict[int, list[float]] = defaultdict(lambda: [0.0] * 8)
    for sid, vid in variant_of.items():
        q, c, y = engaged[sid], counted[sid], cost[sid]
        row = sums[vid]
        row[0] += q >= 1
        row[1] += q
        row[2] += q * q
        row[3] += y
        row[4] += c
        row[5] += y * y
        row[6] += y * c
        row[7] += c * c
    out = []
    for v in sorted(variants, key=lambda item: item.id):
        assigned, n = readers.get(v.id, (0, 0))
        ones, sq, sqq, sy, sc, syy, syc, scc = sums.get(v.id, [0.0] * 8)
        out.append(
            {
                "id": v.id,
                "name": v.name,
                "share": v.share,
                "active": v.active,
                "assigned": assigned,
                "judged": n,
                "waiting": assigned - n,
                "currency": v.currency,
                "engaged_referrer_share": wilson(int(ones), n),
                "quality_k": mean_interval_of_sums(n, sq, sqq),
                "cost_per_referral_cents": ratio_interval_of_sums(n, sy, sc, syy, syc, scc),
            }
        )
    return out
