"""The desk's panels: charts with their table and CSV, from the core's reports and the domains'.

A panel is a Series (growth.series) drawn by static/charts.js, or a heat grid. The core makes the
funnel, cohort, daily-growth and MRR-movement panels from its reports; a domain adds its own
with `register_panels` in its init_app (referrals adds cohort K and the forecast). Each panel's
CSV is served at /admin/panels/<id>.csv from the same numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from growth import report_service as service
from growth import rollup_series
from growth.report_metrics import month_start
from growth.rollup_models import ReportSeries
from growth.series import Series

GROWTH_DAYS = 90
MOVEMENTS = ("new_cents", "expansion_cents", "reactivation_cents", "contraction_cents", "churned_cents")
MOVEMENT_NAMES = {
    "new_cents": "New",
    "expansion_cents": "Expansion",
    "reactivation_cents": "Reactivation",
    "contraction_cents": "Contraction",
    "churned_cents": "Churned",
}
# Shares of a cohort drawn as a heat grid: these columns of the cohort report.
HEAT_SHARES = {"active_engaged_share": "Active and engaged", "paying_share": "Paying"}


@dataclass(frozen=True)
class Panel:
    """One chart of the desk: `series` for charts.js (kind line, bar or heat), words beside it."""

    id: str
    title: str
    series: Series
    kind: str = "line"
    stacked: bool = False
    revenue: bool = False  # admins only
    label: str = "Day"  # what the rows of the table are
    caption: str = ""  # one plain line under the title
    highlight: str | None = None  # the label of the row the chart marks (the biggest drop)
    drawn: int | None = None  # the chart draws only the first columns; the table has them all
    extra: dict[str, Any] = field(default_factory=dict)

    def chart(self) -> dict[str, Any]:
        """The JSON static/charts.js draws."""
        spec = self.series.chart(self.kind)
        if self.drawn is not None:
            spec["series"] = spec["series"][: self.drawn]  # type: ignore[index]
        spec["stacked"] = self.stacked
        if self.highlight is not None:
            spec["highlight"] = self.highlight
        return spec


PanelProvider = Callable[[Session, dt.datetime], list[Panel]]
_providers: dict[str, PanelProvider] = {}


def register_panels(name: str, provider: PanelProvider) -> None:
    """A domain adds panels to the desk (its init_app calls this once, under its own name)."""
    _providers[name] = provider


def biggest_drop(steps: Sequence[dict[str, Any]]) -> str | None:
    """The funnel step with the lowest conversion from the step before (first of equals); None if none."""
    measured = [s for s in steps if s.get("conversion") is not None]
    if not measured:
        return None
    return str(min(measured, key=lambda s: s["conversion"])["step"])


def funnel_panel(report: dict[str, Any]) -> Panel:
    """Readers at each step, the step that loses most marked."""
    steps = report["steps"]
    names = [s["step"].replace("_", " ") for s in steps]
    series = Series(
        names,
        {
            "Readers": [s["count"] for s in steps],
            "Conversion from the step before (%)": [
                None if s["conversion"] is None else round(s["conversion"] * 100, 1) for s in steps
            ],
        },
    )
    drop = biggest_drop(steps)
    caption = "Every reader who ever signed up, by the furthest step reached."
    if drop is not None:
        step = next(s for s in steps if s["step"] == drop)
        caption += (
            f" The biggest drop is into “{drop.replace('_', ' ')}”: only "
            f"{step['conversion'] * 100:.0f}% of the step before get there."
        )
    return Panel(
        "funnel",
        "The funnel",
        series,
        kind="funnel",
        drawn=1,  # the readers as bars; the conversions are the table's
        label="Step",
        caption=caption,
        highlight=drop.replace("_", " ") if drop else None,
    )


def heat_panels(report: dict[str, Any]) -> list[Panel]:
    """One heat grid per share: a row per signup cohort, a column per month since signup."""
    cohorts = report["cohorts"]
    width = max((len(c["months"]) for c in cohorts), default=0)
    panels = []
    for key, name in HEAT_SHARES.items():
        columns: dict[str, list[float | None]] = {"Signups": [c["signups"] for c in cohorts]}
        for k in range(width):
            columns[f"Month {k}"] = [
                None
                if k >= len(c["months"]) or c["months"][k][key] is None
                else round(c["months"][k][key] * 100, 1)
                for c in cohorts
            ]
        panels.append(
            Panel(
                f"cohorts-{key.removesuffix('_share').replace('_', '-')}",
                f"{name}, by signup month (%)",
                Series([c["cohort"] for c in cohorts], columns),  # type: ignore[arg-type]
                kind="heat",
                label="Cohort",
                caption=f"Each row is the readers who signed up that month; each cell the share "
                f"{name.lower()} so many months later. Darker is more.",
                revenue=key == "paying_share",
            )
        )
    return panels


def growth_panel(report: dict[str, Any]) -> Panel:
    """Signups, confirmations and unsubscribes per day."""
    days = report["days"]
    return Panel(
        "daily-growth",
        f"Daily growth, last {GROWTH_DAYS} days",
        Series(
            [d["date"] for d in days],
            {
                "Signups": [d["signups"] for d in days],
                "Confirmations": [d["confirmations"] for d in days],
                "Unsubscribes": [d["unsubscribes"] for d in days],
                "Net growth": [d["net_growth"] for d in days],
            },
        ),
        caption="Net growth is confirmations less unsubscribes.",
    )


def movement_panels(movements: list[dict[str, Any]]) -> list[Panel]:
    """Per currency: MRR movements by month, stacked (losses below zero)."""
    panels = []
    for block in movements:
        months = block["months"]
        while len(months) > 1 and not any(months[0][m] for m in MOVEMENTS):
            months = months[1:]  # from the first month anything moved
        columns = {
            MOVEMENT_NAMES[m]: [
                (-1 if m in ("contraction_cents", "churned_cents") else 1) * month[m] / 100
                for month in months
            ]
            for m in MOVEMENTS
        }
        currency = block["currency"]
        panels.append(
            Panel(
                f"mrr-movements-{currency}",
                f"MRR movements by month ({currency.upper()})",
                Series([m["month"] for m in months], columns),  # type: ignore[arg-type]
                kind="bar",
                stacked=True,
                revenue=True,
                label="Month",
                caption="New, expansion and reactivation add MRR; contraction and churn take it away.",
            )
        )
    return panels


VALUE_PITCH_DAYS = 90
PITCH_ROWS = {"0": "1st pitch", "1": "2nd pitch", "2+": "3rd or later pitch"}
VALUE_ROWS = {"0": "Value, before any pitch", "1": "Value, after 1 pitch", "2+": "Value, after 2 or more"}


def value_pitch_panel(report: dict[str, Any]) -> Panel:
    """Unsubscribes and complaints per 1,000 emails within 48 hours, value against pitch."""
    rows = [r for r in report["rows"] if r["pitches_before"] != "all"]
    rows.sort(key=lambda r: (r["kind"] != "value", r["pitches_before"]))

    def per_thousand(rate: float | None) -> float | None:
        return None if rate is None else round(rate * 1000, 2)

    names = {"value": VALUE_ROWS, "pitch": PITCH_ROWS}
    return Panel(
        "value-pitch",
        f"Value and pitch: who leaves within {report['hours']} hours, last {VALUE_PITCH_DAYS} days",
        Series(
            [names[r["kind"]][r["pitches_before"]] for r in rows],
            {
                "Unsubscribes per 1,000 emails": [per_thousand(r["unsubscribe_rate"]) for r in rows],
                "Complaints per 1,000 emails": [per_thousand(r["complaint_rate"]) for r in rows],
                "Emails": [r["emails"] for r in rows],
                "Unsubscribes": [r["unsubscribes"] for r in rows],
                "Complaints": [r["complaints"] for r in rows],
            },
        ),
        kind="bar",
        drawn=2,
        label="Emails",
        caption="How readers answer value emails and pitches, by how often they had been pitched "
        "before: the audience's resistance to pitching. Gmail asks for complaints under 1 per 1,000.",
    )


def core_panels(session: Session, now: dt.datetime, window_days: int) -> list[Panel]:
    """The core's panels, from its funnel, cohort and growth reports."""
    start = (now - dt.timedelta(days=GROWTH_DAYS - 1)).date()
    growth = service.growth_report(session, service.Filters(start, now.date()), now, window_days)
    year_ago = month_start(now, -11)
    movements = service.mrr_movements(session, year_ago, now)
    return [
        funnel_panel(service.funnel_report(session, service.Filters())),
        growth_panel(growth),
        *heat_panels(service.cohort_report(session, service.Filters(start=year_ago.date()), now)),
        *movement_panels(movements),
        value_pitch_panel(
            service.value_pitch_report(
                session, service.Filters(start=(now - dt.timedelta(days=VALUE_PITCH_DAYS)).date()), now
            )
        ),
    ]


def panels(session: Session, now: dt.datetime, window_days: int) -> list[Panel]:
    """Every panel of the desk: the core's, then each registered domain's."""
    result = core_panels(session, now, window_days)
    for provider in _providers.values():
        result.extend(provider(session, now))
    return result


CACHE = "panels"
MAX_AGE = dt.timedelta(minutes=5)


def cache_panels(
    session: Session, now: dt.datetime, window_days: int, read: Session | None = None
) -> list[Panel]:
    """Compute every panel (through `read`, the reports session, when given) and keep them
    (report_series, through `session`) for the next views of the desk."""
    result = panels(read or session, now, window_days)
    payload = {"window_days": window_days, "panels": [asdict(p) for p in result]}
    rollup_series.keep_series(session, CACHE, now, payload)
    return result


def current_panels(
    session: Session, now: dt.datetime, window_days: int, read: Session | None = None
) -> list[Panel]:
    """The kept panels while at most MAX_AGE old (and for the same window), else computed and kept.

    `read`: the session the figures are computed through (a read replica's); the kept copy is
    read and written through `session`, the primary's.
    """
    row = session.get(ReportSeries, CACHE, populate_existing=True)
    if row is not None and now - row.computed_at <= MAX_AGE and row.payload.get("window_days") == window_days:
        return [Panel(**{**p, "series": Series(**p["series"])}) for p in row.payload["panels"]]
    return cache_panels(session, now, window_days, read)
