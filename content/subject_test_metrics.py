"""Subject-line tests, judged honestly: pure functions over (successes, trials) per variant.

A variant's rate is human opens (or clicks without scanner clicks) over delivered emails. A
variant wins only when the interval of its difference from *every* other variant excludes zero:
Newcombe's hybrid score interval for a difference of two proportions (Newcombe 1998, method
10, built from two Wilson intervals), at a confidence widened by Bonferroni over every pair
compared, so that with four variants the chance of declaring a winner when all are equal stays
under 5%. Otherwise there is "no clear winner", and the rest of the audience still gets the
variant with the higher observed rate (a coin toss costs nothing more than the status quo).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

CONFIDENCE = 0.95
POWER = 0.80


def pairs(k: int) -> int:
    """How many pairwise comparisons k variants make (the Bonferroni divisor)."""
    return k * (k - 1) // 2


def z_for(k: int, confidence: float = CONFIDENCE) -> float:
    """The two-sided normal quantile for one comparison of k variants, Bonferroni-adjusted."""
    alpha = (1 - confidence) / max(1, pairs(k))
    return NormalDist().inv_cdf(1 - alpha / 2)


def wilson(successes: int, trials: int, z: float) -> tuple[float, float]:
    """Wilson's score interval for a proportion; (0, 1) when nothing was tried."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float) -> tuple[float, float, float]:
    """(difference, low, high) of p1 - p2 by Newcombe's hybrid score method."""
    p1 = x1 / n1 if n1 else 0.0
    p2 = x2 / n2 if n2 else 0.0
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


@dataclass(frozen=True)
class Comparison:
    """Variant `a` against variant `b`: the difference of their rates and its interval."""

    a: int
    b: int
    difference: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class Decision:
    """What a test concluded: `winner` only when clear; `chosen` is what the rest receive."""

    rates: list[float | None]
    comparisons: list[Comparison]
    winner: int | None
    chosen: int
    confidence: float
    z: float

    @property
    def clear(self) -> bool:
        return self.winner is not None


def decide(results: list[tuple[int, int]], confidence: float = CONFIDENCE) -> Decision:
    """Judge variants from [(successes, trials), ...] in the order the creator listed them.

    The winner is the variant whose difference from every other has an interval above zero;
    there can be at most one. Without one, `chosen` is the highest observed rate (the first
    listed on a tie, and the first when nothing was measured).
    """
    if len(results) < 2:
        raise ValueError("a test compares at least two variants")
    for x, n in results:
        if n < 0 or x < 0 or x > n:
            raise ValueError("successes must lie between 0 and trials")
    k = len(results)
    z = z_for(k, confidence)
    rates = [x / n if n else None for x, n in results]
    comparisons = []
    for a in range(k):
        for b in range(a + 1, k):
            (xa, na), (xb, nb) = results[a], results[b]
            d, low, high = newcombe(xa, na, xb, nb, z)
            comparisons.append(Comparison(a, b, d, low, high))
    winner = None
    for i in range(k):
        if results[i][1] > 0 and all(_beats(i, j, comparisons) for j in range(k) if j != i):
            winner = i
            break
    observed = [r if r is not None else -1.0 for r in rates]
    chosen = winner if winner is not None else max(range(k), key=lambda i: (observed[i], -i))
    return Decision(rates, comparisons, winner, chosen, confidence, z)


def _beats(i: int, j: int, comparisons: list[Comparison]) -> bool:
    for c in comparisons:
        if (c.a, c.b) == (i, j):
            return c.low > 0
        if (c.a, c.b) == (j, i):
            return c.high < 0
    return False


def detectable_lift(
    per_variant: int,
    k: int,
    baseline: float,
    confidence: float = CONFIDENCE,
    power: float = POWER,
) -> float | None:
    """The smallest difference in rate (absolute, 0.03 = 3 points) the samples detect at `power`.

    The normal approximation for two equal samples at the baseline rate, at the Bonferroni-
    adjusted level the decision uses: (z_alpha + z_power) * sqrt(2 p (1 - p) / n). None when
    a variant would get nobody.
    """
    if per_variant <= 0 or k < 2:
        return None
    p = min(max(baseline, 0.0), 1.0)
    z_power = NormalDist().inv_cdf(power)
    return (z_for(k, confidence) + z_power) * math.sqrt(2 * p * (1 - p) / per_variant)


def sample_sizes(audience: int, k: int, share: float) -> int:
    """Readers per variant: `share` of the audience in all, split equally (floor)."""
    if audience <= 0 or k < 2:
        return 0
    return int(audience * share) // k
