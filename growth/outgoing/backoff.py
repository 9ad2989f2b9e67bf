"""When to try a failed delivery again: exponential backoff with jitter, for up to three days."""

from __future__ import annotations

import datetime as dt
import random

FIRST_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(hours=8)
RETRY_WINDOW = dt.timedelta(days=3)
JITTER = 0.25  # each delay is drawn within ±25% so endpoints that failed together spread out


def retry_delay(attempts: int, rng: random.Random) -> dt.timedelta:
    """The wait after the `attempts`-th failed attempt: 30 s doubling (capped at 8 h), ±25%.

    Without jitter: 30 s, 1 min, 2 min, 4 min ... 256 min, then 8 h; about twenty attempts fit
    in three days.
    """
    if attempts < 1:
        raise ValueError("attempts counts failed attempts, from 1")
    base = min(FIRST_DELAY * (2 ** min(attempts - 1, 30)), MAX_DELAY)
    return base * (1 - JITTER + 2 * JITTER * rng.random())


def next_attempt(
    retry_from: dt.datetime, attempts: int, now: dt.datetime, rng: random.Random
) -> dt.datetime | None:
    """When to try again after a retryable failure at `now`, or None once three days have passed.

    The last try is at the end of the window itself, so no delay lets the window slip by untried.
    """
    deadline = retry_from + RETRY_WINDOW
    if now >= deadline:
        return None
    return min(now + retry_delay(attempts, rng), deadline)
