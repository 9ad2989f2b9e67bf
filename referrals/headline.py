"""The referral figures of the desk's headline: cohort K, the viral cycle time, the referred share.

K on the desk is the cohort K (referrals each month's new readers brought within the horizon,
per reader) of the latest cohort whose horizon has passed, beside the cohort before it: a K
over a recent window reads low while its readers are still referring. The window's share of
confirmations that came by referral is shown as the referred share, never as K.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy.orm import Session

from growth.headline_metrics import Figure
from referrals import metrics, report


def _month(label: str) -> str:
    return dt.date.fromisoformat(label).strftime("%B %Y")


def headline_figures(session: Session, now: dt.datetime, period_days: int) -> list[Figure]:
    """Cohort K (latest mature cohort, previous cohort), cycle time and referred share."""
    horizon = int(current_app.config["MASTHEAD"].referral_horizon_days)
    data = report.load(session, None, None)
    cohorts = [c for c in metrics.cohort_k(data.edges, data.confirmed_at, now, horizon) if c["mature"]]
    latest = cohorts[-1] if cohorts else None
    previous = cohorts[-2] if len(cohorts) > 1 else None
    end, then = now.timestamp(), (now - dt.timedelta(days=period_days)).timestamp()
    before = then - period_days * metrics.DAY

    def cycle(start: float, stop: float) -> float | None:
        return metrics.viral_cycle_time(data.edges, data.confirmed_at, now, horizon, "month", start, stop)[
            "median"
        ]

    def referred_share(start: float, stop: float) -> float | None:
        depths = (data.depth.get(sid, 0) for sid, t in data.confirmed_at.items() if start <= t < stop)
        return metrics.generations(depths)["referred_share"]  # type: ignore[no-any-return]

    if latest is None:
        k_note = f"no cohort is {horizon} days past its month yet"
    else:
        k_note = f"{_month(latest['cohort'])}: {latest['referrals']} referrals by {latest['size']} readers"
    return [
        Figure(
            "cohort_k",
            "K (cohort)",
            latest["k"] if latest else None,
            previous["k"] if previous else None,
            "ratio",
            f"New readers each reader brought within {horizon} days of joining, for the latest month "
            "of readers that has had the time; above 1 the list grows by itself.",
            note=k_note,
            endpoint="referrals.report_page",
            previous_label=f"{_month(previous['cohort'])} cohort" if previous else "the cohort before",
        ),
        Figure(
            "viral_cycle_time",
            "Viral cycle time",
            cycle(then, end),
            cycle(before, then),
            "days",
            f"The median time from a reader joining to a friend they referred joining, over the "
            f"last {period_days} days' referred readers.",
            endpoint="referrals.report_page",
        ),
        Figure(
            "referred_share",
            "Referred share",
            referred_share(then, end),
            referred_share(before, then),
            "share",
            f"Of the readers who confirmed in the last {period_days} days, the share who came by a "
            "friend's link (not K: it says nothing of how many each reader brings).",
            endpoint="referrals.report_page",
        ),
    ]
