"""Pure rules of sequences: which step comes next, send windows, days, holdout comparisons."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

# Why an enrolment waits, or why a step was skipped (shown to the operator).
WAIT_WINDOW = "send_window"
WAIT_DAILY_CAP = "daily_cap"
WAIT_NEWSLETTER_TODAY = "newsletter_today"
WAIT_STEP_PAUSED = "step_paused"
SKIP_CONDITION = "condition_failed"
SKIP_PITCH_WAITED = "pitch_wait_expired"

LABELS = {
    WAIT_WINDOW: "waiting for its send window",
    WAIT_DAILY_CAP: "daily cap reached",
    WAIT_NEWSLETTER_TODAY: "a newsletter went out today",
    WAIT_STEP_PAUSED: "step paused by the complaint guard",
    SKIP_CONDITION: "condition not met",
    SKIP_PITCH_WAITED: "pitch waited too long for value",
    "not_nurtured": "pitch waits: not yet nurtured",
    "pitch_cooldown": "pitch waits: pitched too recently",
}


def next_step(steps: Sequence[tuple[int, int]], received: Iterable[int]) -> int | None:
    """The step an enrolment gets next: the first, in the current order, after every step it got.

    `steps` are (step_id, position) of the live steps, `received` the ids it has a claim for.
    A step inserted before the latest received one is behind the reader: it never reaches them;
    a step added at the end, or placed after their latest, does.
    """
    ordered = sorted(steps, key=lambda s: (s[1], s[0]))
    got = set(received)
    latest = max((i for i, (sid, _) in enumerate(ordered) if sid in got), default=-1)
    for sid, _position in ordered[latest + 1 :]:
        if sid not in got:
            return sid
    return None


def local_day_start(now: dt.datetime, tz: str) -> dt.datetime:
    """Midnight (UTC) of the day `now` falls on in the publication's time zone."""
    local = now.astimezone(ZoneInfo(tz))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


def next_local_day_start(now: dt.datetime, tz: str) -> dt.datetime:
    """Midnight (UTC) of the next day in the publication's time zone."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone).date() + dt.timedelta(days=1)
    return dt.datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(dt.UTC)


def in_window(at: dt.datetime, tz: str, days: list[int] | None, start: int | None, end: int | None) -> bool:
    """Whether `at` lies in the window: ISO weekdays `days` (None: any) and hours [start, end)."""
    local = at.astimezone(ZoneInfo(tz))
    if days and local.isoweekday() not in days:
        return False
    if start is None or end is None:
        return True
    if start <= end:
        return start <= local.hour < end
    return local.hour >= start or local.hour < end  # a window across midnight, e.g. 22 to 6


def next_window_start(
    at: dt.datetime, tz: str, days: list[int] | None, start: int | None, end: int | None
) -> dt.datetime:
    """`at` when it lies in the window, else the first whole hour after it that does."""
    if in_window(at, tz, days, start, end):
        return at
    hour = at.replace(minute=0, second=0, microsecond=0)
    for n in range(1, 8 * 24 + 1):
        candidate = hour + dt.timedelta(hours=n)
        if in_window(candidate, tz, days, start, end):
            return candidate
    raise ValueError("the send window never opens")


def validate_window(days: list[int] | None, start: int | None, end: int | None) -> str | None:
    """What is wrong with a window, or None."""
    if days is not None and (not days or any(not isinstance(d, int) or not 1 <= d <= 7 for d in days)):
        return "window days are ISO weekdays 1 (Monday) to 7 (Sunday)"
    if (start is None) != (end is None):
        return "give both window hours or neither"
    if start is not None and end is not None and (not (0 <= start <= 23 and 1 <= end <= 24) or start == end):
        return "window hours are 0 to 24, start different from end"
    return None


@dataclass(frozen=True)
class Comparison:
    """A rate among readers emailed against the same rate among the holdout."""

    rate: float | None
    holdout_rate: float | None
    difference: float | None
    low: float | None
    high: float | None


def compare_rates(n: int, k: int, holdout_n: int, holdout_k: int, z: float = 1.96) -> Comparison:
    """k of n against holdout_k of holdout_n: the difference with its 95% (Wald) interval.

    None where a side has no reader. The interval is the normal approximation of a difference of
    two proportions; with a handful of readers it is wide, as it should be.
    """
    rate = k / n if n else None
    holdout_rate = holdout_k / holdout_n if holdout_n else None
    if rate is None or holdout_rate is None:
        return Comparison(rate, holdout_rate, None, None, None)
    diff = rate - holdout_rate
    se = math.sqrt(rate * (1 - rate) / n + holdout_rate * (1 - holdout_rate) / holdout_n)
    return Comparison(rate, holdout_rate, diff, diff - z * se, diff + z * se)


def is_held_out(draw: float, holdout_percent: int) -> bool:
    """A uniform draw in [0, 1) holds the reader out with probability holdout_percent / 100."""
    return draw * 100 < holdout_percent


def reached_within(
    claims: Iterable[tuple[int, dt.datetime]], moments: dict[int, list[dt.datetime]], days: int
) -> int:
    """How many (subscriber, step time) saw one of the subscriber's moments within `days` after."""
    horizon = dt.timedelta(days=days)
    return sum(1 for sid, at in claims if any(at <= m <= at + horizon for m in moments.get(sid, ())))
