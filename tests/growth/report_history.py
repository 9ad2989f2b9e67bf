"""A hand-built history of five readers whose report figures are worked out by hand in the tests.

now = 2026-06-15. All times UTC.

A  2026-01-10 signup (podcast, campaign spring); confirmed +12 h; human opens 01-13 and 02-05;
   nurtured 01-20; pays from 01-30 on (invoices 01-30 and 02-28, 500 cents each).
B  2026-01-20 signup through a referral; confirmed 01-22; human click 01-27; a machine open
   06-01 (so "unknown" now); never nurtured.
C  2026-02-01 signup (podcast); confirmed 02-02; human click 02-11; nurtured 02-21; paid from
   03-03 to 04-10 (one invoice of 1000 cents on 03-03).
D  2026-02-10 signup (direct), never confirmed (pending).
E  2026-03-01 signup (podcast); confirmed the same minute; unsubscribed 03-05.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def t(month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


NOW = t(6, 15)

READERS: dict[str, dict[str, Any]] = {
    "A": {
        "signed_up_at": t(1, 10),
        "source": "podcast",
        "campaign": "spring",
        "status": "active",
        "confirmed_at": t(1, 10, 12),
        "human_at": [t(1, 13), t(2, 5)],
        "nurtured_at": t(1, 20),
        "paid_intervals": [(t(1, 30), None)],
        "invoices": [(t(1, 30), "usd", 500), (t(2, 28), "usd", 500)],
    },
    "B": {
        "signed_up_at": t(1, 20),
        "source": "referral",
        "status": "active",
        "confirmed_at": t(1, 22),
        "human_at": [t(1, 27)],
        "machine_at": [t(6, 1)],
    },
    "C": {
        "signed_up_at": t(2, 1),
        "source": "podcast",
        "status": "active",
        "confirmed_at": t(2, 2),
        "human_at": [t(2, 11)],
        "nurtured_at": t(2, 21),
        "paid_intervals": [(t(3, 3), t(4, 10))],
        "invoices": [(t(3, 3), "usd", 1000)],
    },
    "D": {"signed_up_at": t(2, 10), "source": "direct", "status": "pending"},
    "E": {
        "signed_up_at": t(3, 1),
        "source": "podcast",
        "status": "unsubscribed",
        "confirmed_at": t(3, 1),
        "left_at": t(3, 5),
    },
}
