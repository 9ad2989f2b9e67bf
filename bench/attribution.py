"""Benchmark: the attribution rules (billing.attribution.attribute) over plain data.

ATTRIBUTION_PAYERS paying subscribers (default 100,000), each with ATTRIBUTION_TOUCHES touches
(default 10: web reads and clicks over the month before paying, a paywall start for one in
five) and a referral chain: every third payer referred by an earlier one. Prints the time of
one pass (every view and the influence) and the peak memory.

    .venv/bin/python bench/attribution.py
"""

from __future__ import annotations

import datetime as dt
import os
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from billing.attribution import VIEWS, Acquisition, Conversion, attribute  # noqa: E402
from growth.attribution_touches import EMAIL_CLICK, PAYWALL_START, WEB_READ, Touch  # noqa: E402

PAYERS = int(os.environ.get("ATTRIBUTION_PAYERS", "100000"))
TOUCHES = int(os.environ.get("ATTRIBUTION_TOUCHES", "10"))


def main() -> None:
    rng = random.Random(18)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    conversions, touches, acquisitions = [], [], {}
    for sid in range(1, PAYERS + 1):
        at = start + dt.timedelta(minutes=rng.randrange(525_600))
        conversions.append(Conversion(sid, at, (("usd", rng.choice((500, 5000))),)))
        for _ in range(TOUCHES):
            kind = rng.choice((WEB_READ, EMAIL_CLICK))
            touches.append(
                Touch(sid, at - dt.timedelta(minutes=rng.randrange(43_200)), kind, rng.randrange(1, 500))
            )
        if sid % 5 == 0:
            touches.append(Touch(sid, at, PAYWALL_START, rng.randrange(1, 500)))
        referrer = rng.randrange(1, sid) if sid % 3 == 0 and sid > 1 else None
        acquisitions[sid] = Acquisition(sid, "referral" if referrer else "direct", "", referrer)
    began = time.perf_counter()
    result = attribute(conversions, touches, acquisitions)
    took = time.perf_counter() - began
    total = result.total.revenue["usd"]
    for view in VIEWS:
        assert sum(c.revenue.get("usd", 0) for c in result.views[view].values()) == total
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{PAYERS:,} payers, {len(touches):,} touches: attribute() {took:.2f} s, peak RSS {peak:.0f} MB")
    posts = len(result.views["post"]) - 1
    print(f"posts credited: {posts}, referrers with influence: {len(result.influence):,}")


if __name__ == "__main__":
    main()
