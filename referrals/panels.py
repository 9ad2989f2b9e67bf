"""The referral charts, for the desk (growth.panels' registry) and the referral report page."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from growth.panels import Panel
from growth.series import Series
from referrals import report


def horizon_days() -> int:
    return int(current_app.config["MASTHEAD"].referral_horizon_days)


def cohort_k_panel(result: dict[str, Any]) -> Panel:
    """K of each monthly cohort (None while its horizon is open), with its size and referrals."""
    cohorts = result["cohort_k"]
    return Panel(
        "cohort-k",
        "K by cohort",
        Series(
            [c["cohort"][:7] for c in cohorts],
            {
                "K": [None if c["k"] is None else round(c["k"], 3) for c in cohorts],
                "Readers": [c["size"] for c in cohorts],
                "Referrals in the horizon": [c["referrals"] for c in cohorts],
            },
        ),
        kind="bar",
        label="Cohort",
        caption=f"Friends each month's new readers brought within {result['horizon_days']} days; "
        "a month whose horizon is still open has no K yet (it would read low).",
    )


def forecast_panel(result: dict[str, Any]) -> Panel:
    """Readers at the end of each coming period, the steady and Skok forecasts."""
    forecast = result["forecast"]
    periods = forecast["periods"]
    columns: dict[str, list[float | None]] = {
        "Steady (inflow, K, churn)": [None if p["steady"] is None else round(p["steady"]) for p in periods],
        "Skok (no churn)": [None if p["skok"] is None else round(p["skok"]) for p in periods],
    }
    if any(p["logistic"] is not None for p in periods):
        columns["With a market ceiling"] = [
            None if p["logistic"] is None else round(p["logistic"]) for p in periods
        ]
    return Panel(
        "referral-forecast",
        f"Forecast: readers by {forecast['period']}",
        Series([f"+{p['period']}" for p in periods], columns),
        label=forecast["period"].capitalize(),
        caption=f"From {forecast['current']:,} readers today. Steady: this {forecast['period']}'s "
        "non-referred inflow times 1/(1−K), less churn. Skok: the viral loop alone, no churn, no ceiling.",
    )


def generations_panel(result: dict[str, Any]) -> Panel:
    """Readers by generation: 0 came by themselves, 1 by a friend of theirs, and so on."""
    counts = result["generation_counts"]
    return Panel(
        "referral-generations",
        "Readers by generation",
        Series(list(counts), {"Readers": list(counts.values())}),
        kind="bar",
        label="Generation",
        caption="Generation 0 found us by themselves; 1 came by their link; 2 by a link of generation 1's.",
    )


def cascade_panel(sizes: Counter[int]) -> Panel:
    """How many cascades (a reader who came by themselves and everyone below) have each size."""
    ordered = sorted(sizes)
    return Panel(
        "referral-cascades",
        "Cascade sizes",
        Series([str(s) for s in ordered], {"Cascades": [sizes[s] for s in ordered]}),
        kind="bar",
        label="Readers in the cascade",
        caption="A cascade is a reader who came by themselves and everyone who came, friend after friend, "
        "through them.",
    )


def cascade_sizes(data: report.ReferralData) -> Counter[int]:
    """{size: how many cascades have it}; a reader nobody came through is a cascade of one."""
    per_root = Counter(data.root.values())
    sizes = Counter(per_root.values())
    alone = len(data.confirmed_at) - sum(per_root.values())
    if alone > 0:
        sizes[1] += alone
    return sizes


def desk_panels(session: Session, now: dt.datetime) -> list[Panel]:
    """The desk's referral panels: cohort K and the forecast."""
    result = report.referral_report(session, now, horizon_days=horizon_days())
    return [cohort_k_panel(result), forecast_panel(result)]
