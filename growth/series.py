"""Daily series for charts: pure functions over timestamps, days cut in the publication's zone."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Series:
    """Named rows of numbers over the same labels (one chart, one table, one CSV)."""

    labels: list[str]
    columns: Mapping[str, Sequence[float | None]]

    def rows(self) -> list[list[str | float | None]]:
        """Label first, then one value per column: what the table and the CSV show."""
        return [
            [label, *(values[i] for values in self.columns.values())] for i, label in enumerate(self.labels)
        ]

    def chart(self, kind: str = "line") -> dict[str, object]:
        """The JSON static/charts.js draws."""
        return {
            "type": kind,
            "labels": self.labels,
            "series": [{"label": name, "data": values} for name, values in self.columns.items()],
        }


def last_days(now: dt.datetime, days: int, tz: str) -> list[dt.date]:
    """The `days` local dates ending today (in zone `tz`), oldest first."""
    today = now.astimezone(ZoneInfo(tz)).date()
    return [today - dt.timedelta(days=days - 1 - i) for i in range(days)]


def daily_counts(
    moments: Mapping[str, Iterable[dt.datetime | None]], now: dt.datetime, days: int, tz: str
) -> Series:
    """Per local day of the last `days` (today included), how many moments of each name fell on it.

    Moments outside the window and None are left out; a moment counts on its date in `tz`.
    """
    dates = last_days(now, days, tz)
    zone = ZoneInfo(tz)
    columns: dict[str, list[int]] = {}
    for name, values in moments.items():
        per_day = Counter(m.astimezone(zone).date() for m in values if m is not None)
        columns[name] = [per_day.get(d, 0) for d in dates]
    return Series([d.isoformat() for d in dates], columns)
