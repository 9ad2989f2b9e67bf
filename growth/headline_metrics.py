"""The desk's headline figures: pure functions over plain data, the instant passed in.

Definitions (W = ENGAGED_WINDOW_DAYS; a period is PERIOD_DAYS days, the previous period the
same number of days before it):

- *On the list at t*: confirmed at or before t and not gone (unsubscribed, bounced, complained,
  sunset, erased) by t.
- *Engaged / unknown / disengaged at t* (growth.stages.classify at t): among those on the list
  at t, a human engagement in [t - W, t]; else a machine open (Apple Mail) in it; else neither.
  The three add up to the list.
- *Reachable at t*: on the list and engaged, unknown or paying at t (growth.report_figures).
- A figure's *change* is its value minus its previous period's; for shares, in points.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field, replace

from growth.stages import Engagement, classify

PERIOD_DAYS = 30


@dataclass(frozen=True)
class Audience:
    """The list at one instant, split by what we know of its reading."""

    on_list: int = 0
    engaged: int = 0
    unknown: int = 0
    disengaged: int = 0
    reachable: int = 0


def on_list(confirmed_at: dt.datetime | None, left_at: dt.datetime | None, at: dt.datetime) -> bool:
    """Confirmed at or before `at` and not gone by then."""
    return confirmed_at is not None and confirmed_at <= at and (left_at is None or left_at > at)


def audience_at(
    readers: Mapping[int, tuple[dt.datetime | None, dt.datetime | None]],
    last_human: Mapping[int, dt.datetime],
    last_machine: Mapping[int, dt.datetime],
    paying: Container[int],
    at: dt.datetime,
    window_days: int,
) -> Audience:
    """The list at `at` split engaged / unknown / disengaged, and how many of it are reachable.

    `readers`: {id: (confirmed_at, left_at)}; `last_human` / `last_machine`: each reader's last
    human engagement / machine open at or before `at` (later moments must not be given);
    `paying`: who was paying at `at`.
    """
    counts = dict.fromkeys(Engagement, 0)
    listed = reachable = 0
    for sid, (confirmed_at, left_at) in readers.items():
        if not on_list(confirmed_at, left_at, at):
            continue
        listed += 1
        engagement = classify(last_human.get(sid), last_machine.get(sid), at, window_days)
        counts[engagement] += 1
        if engagement != Engagement.DISENGAGED or sid in paying:
            reachable += 1
    return Audience(
        on_list=listed,
        engaged=counts[Engagement.ENGAGED],
        unknown=counts[Engagement.UNKNOWN],
        disengaged=counts[Engagement.DISENGAGED],
        reachable=reachable,
    )


def count_between(moments: Iterable[dt.datetime | None], start: dt.datetime, end: dt.datetime) -> int:
    """How many moments fall in [start, end) (None never does)."""
    return sum(1 for m in moments if m is not None and start <= m < end)


@dataclass(frozen=True)
class Figure:
    """One headline number, the same number a period earlier, and what it means in plain words.

    `unit`: count, share (a fraction), cents (with `currency`), days or ratio. `revenue`: shown
    to admins only. `note`: context in small type (e.g. the cohort a K belongs to).
    """

    key: str
    label: str
    value: float | None
    previous: float | None
    unit: str
    explanation: str
    currency: str = ""
    revenue: bool = False
    note: str = ""
    previous_label: str = "previous 30 days"
    endpoint: str = ""  # where the number is drilled into (shown to those who may open it)
    args: dict[str, str] = field(default_factory=dict)

    @property
    def change(self) -> float | None:
        """value - previous; None when either is unknown."""
        return change(self.value, self.previous)

    def as_dict(self) -> dict[str, object]:
        """The figure as JSON (the headline endpoint and the page's table)."""
        return {
            "key": self.key,
            "label": self.label,
            "value": self.value,
            "previous": self.previous,
            "change": self.change,
            "unit": self.unit,
            "currency": self.currency or None,
            "revenue": self.revenue,
            "explanation": self.explanation,
            "note": self.note,
            "previous_label": self.previous_label,
        }

    def drill(self) -> tuple[str, dict[str, str]] | None:
        """(endpoint, query arguments) of the page that lists what the figure counts, if any."""
        return (self.endpoint, self.args) if self.endpoint else None

    def without_previous(self) -> Figure:
        return replace(self, previous=None)


def change(value: float | None, previous: float | None) -> float | None:
    """The change from the previous period: value - previous (None when either is unknown)."""
    if value is None or previous is None:
        return None
    return value - previous


def format_value(value: float | None, unit: str, currency: str = "") -> str:
    """A figure as the page shows it: counts whole, shares as percents, cents as money."""
    if value is None:
        return "—"
    if unit == "share":
        return f"{value * 100:.1f}%"
    if unit == "cents":
        return f"{value / 100:,.2f} {currency.upper()}".strip()
    if unit == "days":
        return f"{value:.1f} days"
    if unit == "ratio":
        return f"{value:.2f}"
    return f"{int(value):,}"


def format_change(value: float | None, unit: str, currency: str = "") -> str:
    """The change with its sign: points for shares ("+2.0 pts"), else the unit's own form."""
    if value is None:
        return "no earlier figure"
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    magnitude = abs(value)
    if unit == "share":
        return f"{sign}{magnitude * 100:.1f} pts"
    return sign + format_value(magnitude, unit, currency)
