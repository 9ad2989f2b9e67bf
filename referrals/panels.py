"""The referral charts, for the desk (growth.panels' registry) and the referral report page."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from growth.db import ids_in
from growth.models import Subscriber
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
        drawn=1,  # K alone on its axis; sizes and referrals are the table's
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


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def in_words(result: dict[str, Any]) -> list[str]:
    """The report's main numbers as sentences an operator reads without a glossary."""
    k, horizon = result["k_factor"], result["horizon_days"]
    mature = [c for c in result["cohort_k"] if c["mature"]]
    lines = []
    if mature:
        latest = mature[-1]
        lines.append(
            f"Readers who joined in {dt.date.fromisoformat(latest['cohort']).strftime('%B %Y')} brought "
            f"{latest['k']:.2f} friends each within {horizon} days (cohort K, "
            f"{latest['referrals']} referrals by {latest['size']} readers). Above 1.00 the list would "
            "grow by itself."
        )
    else:
        lines.append(f"No month of readers has had its {horizon} days to refer yet: no cohort K so far.")
    if k is not None:
        lines.append(
            f"Over all time, {k:.2f} counted referrals per confirmed reader; "
            f"{_share(result['share_rate'])} of readers shared their link and "
            f"{_share(result['conversion_rate'])} of link visits became a confirmed reader."
        )
    lines.append(
        f"{_share(result['referred_share'])} of readers came by a friend's link (the referred share)."
    )
    if result["amplification"] is not None:
        lines.append(
            f"Every reader who found us by themselves brings {result['amplification']:.2f} readers in "
            "all, counting friends of friends; the largest cascade has "
            f"{result['cascades']['largest_cascade']} readers."
        )
    cycle = result["viral_cycle_time_days"]
    if cycle is not None:
        lines.append(f"A referred friend joins a median {cycle:.1f} days after the reader who brought them.")
    return lines


def referrer_rows(session: Session, result: dict[str, Any]) -> list[dict[str, Any]]:
    """The top referrers by downstream readers, named by name and email instead of id."""
    rows = result["top_referrers"]["by_downstream"]
    ids = [r["subscriber_id"] for r in rows]
    people = (
        {s.id: s for s in session.scalars(select(Subscriber).where(ids_in(Subscriber.id, ids)))}
        if ids
        else {}
    )
    out = []
    for r in rows:
        person = people.get(r["subscriber_id"])
        out.append(
            {
                **r,
                "name": (person.name or "") if person else "",
                "email": person.email if person else "(gone)",
            }
        )
    return out


def report_page(session: Session, now: dt.datetime) -> dict[str, Any]:
    """What the referral report page shows: words, five charts, the top referrers."""
    result = report.referral_report(session, now, horizon_days=horizon_days())
    data = report.load(session, None, None)
    return {
        "result": result,
        "words": in_words(result),
        "panels": [
            cohort_k_panel(result),
            forecast_panel(result),
            generations_panel(result),
            cascade_panel(cascade_sizes(data)),
        ],
        "referrers": referrer_rows(session, result),
    }
