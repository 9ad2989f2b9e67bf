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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Z95 = 1.959964  # the two-sided 95% normal quantile


@dataclass
class LadderReader:
    """A reader on a variant: when assigned, their counted referrals and their rewards."""

    subscriber_id: int
    assigned_at: dt.datetime
    # (counted at, whether the referred reader is still active and engaged now)
    referrals: list[tuple[dt.datetime, bool]] = field(default_factory=list)
    # (granted at, the milestone's cost in cents)
    grants: list[tuple[dt.datetime, int]] = field(default_factory=list)


@dataclass
class Ladder:
    """A variant and its assigned readers."""

    id: int
    name: str
    share: int
    active: bool
    currency: str | None
    readers: list[LadderReader]


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
    n = len(values)
    if n == 0:
        return interval(None, None, None)
    mean = sum(values) / n
    if n < 2:
        return interval(mean, None, None)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = z * sd / math.sqrt(n)
    return interval(mean, mean - half, mean + half)


def ratio_interval(
    numerators: Sequence[float], denominators: Sequence[float], z: float = Z95
) -> dict[str, float | None]:
    """R = Σy / Σx over readers (y their reward cost, x their counted referrals) with the delta
    method's interval R ± z·SE, SE = √(Σ(yᵢ − R·xᵢ)² / (n − 1) / n) / x̄ — the standard error of
    a ratio estimator, readers being the sampled unit. The low bound is kept at 0 or above (a cost
    is not negative). None when no referral was counted; bounds None below two readers."""
    n = len(numerators)
    total_x = sum(denominators)
    if n == 0 or total_x == 0:
        return interval(None, None, None)
    r = sum(numerators) / total_x
    if n < 2:
        return interval(r, None, None)
    mean_x = total_x / n
    residual = sum((y - r * x) ** 2 for y, x in zip(numerators, denominators, strict=True))
    se = math.sqrt(residual / (n - 1) / n) / mean_x
    return interval(r, max(0.0, r - z * se), r + z * se)


def judge(ladder: Ladder, now: dt.datetime, horizon_days: int) -> dict[str, Any]:
    """One variant's figures over its readers past the horizon.

    For each judged reader i, over [assigned_at, assigned_at + horizon]: cᵢ counted referrals,
    qᵢ of them whose referred reader is still engaged, yᵢ the cost of the rewards granted.
      engaged_referrer_share = #{i: qᵢ ≥ 1} / n, Wilson interval;
      quality_k = mean of qᵢ (engaged counted referrals per reader), normal interval;
      cost_per_referral_cents = Σyᵢ / Σcᵢ, delta-method interval (ratio_interval).
    """
    horizon = dt.timedelta(days=horizon_days)
    cutoff = now - horizon
    judged = [r for r in ladder.readers if r.assigned_at <= cutoff]
    engaged, costs, counted = [], [], []
    for reader in judged:
        end = reader.assigned_at + horizon
        inside = [ok for at, ok in reader.referrals if reader.assigned_at <= at <= end]
        engaged.append(sum(inside))
        counted.append(len(inside))
        costs.append(sum(cost for at, cost in reader.grants if reader.assigned_at <= at <= end))
    return {
        "id": ladder.id,
        "name": ladder.name,
        "share": ladder.share,
        "active": ladder.active,
        "assigned": len(ladder.readers),
        "judged": len(judged),
        "waiting": len(ladder.readers) - len(judged),
        "currency": ladder.currency,
        "engaged_referrer_share": wilson(sum(1 for q in engaged if q >= 1), len(judged)),
        "quality_k": mean_interval([float(q) for q in engaged]),
        "cost_per_referral_cents": ratio_interval([float(y) for y in costs], [float(c) for c in counted]),
    }


def compare(ladders: Sequence[Ladder], now: dt.datetime, horizon_days: int) -> list[dict[str, Any]]:
    """judge() of every variant, in id order."""
    return [judge(ladder, now, horizon_days) for ladder in sorted(ladders, key=lambda item: item.id)]
