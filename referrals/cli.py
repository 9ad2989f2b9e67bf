"""Command-line tools of the referrals domain: the report as a table, releasing held referrals."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from growth.db import commit, db, utcnow
from referrals import report, service


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def format_report(data: dict[str, Any]) -> str:
    """The report as aligned text tables."""
    span = f"{data['from'] or 'start'} .. {data['to'] or 'now'}"
    lines = [f"Referral report {span} (cohort: {data['cohort']})", ""]
    headline = [
        "k_factor",
        "share_rate",
        "visits_per_sharer",
        "invite_rate",
        "conversion_rate",
        "quality_k",
        "viral_cycle_time_days",
        "referred_share",
        "max_generation",
        "amplification",
    ]
    for key in headline:
        lines.append(f"  {key:<24}{_fmt(data[key])}")
    cohort = data["cohort_amplification"]
    if not cohort["provisional"]:
        state = "final"
    elif cohort["final_at"]:
        state = f"provisional until {cohort['final_at']}"
    else:
        state = f"provisional until {cohort['horizon_days']} days after the window ends"
    lines.append(
        f"  {'cohort_amplification':<24}{_fmt(cohort['amplification'])}  "
        f"({cohort['roots']} root{'' if cohort['roots'] == 1 else 's'}, "
        f"{cohort['horizon_days']}-day horizon; {state})"
    )
    v = data["structural_virality"]
    lines.append(
        f"  {'structural_virality':<24}{_fmt(v['mean'])}  (mean over {v['cascades']} cascades of "
        f"{v['min_size']}+; median {_fmt(v['median'])}; viral_share {_fmt(v['viral_share'])})"
    )
    c = data["concentration"]
    without = _fmt(c["k_without_top"])
    lines.append(f"  {'top 1% share':<24}{_fmt(c['top_share'])}  (K without them: {without})")
    lines += ["", f"  {'cohort':<12}{'size':>10}{'referrals':>11}{'k':>9}  mature"]
    for row in data["cohort_k"]:
        k = _fmt(row["k"])
        lines.append(f"  {row['cohort']:<12}{row['size']:>10}{row['referrals']:>11}{k:>9}  {row['mature']}")
    lines += ["", "  generation  subscribers"]
    for depth, count in data["generation_counts"].items():
        lines.append(f"  {depth:>10}  {count}")
    lines += [
        "",
        f"  {'top referrers':<16}{'direct':>8}{'downstream':>12}  revenue below (influence, not additive)",
    ]
    for row in data["top_referrers"]["by_downstream"]:
        money = row["downstream_revenue"] or "-"
        lines.append(f"  {row['subscriber_id']:<16}{row['direct']:>8}{row['downstream']:>12}  {money}")
    f = data["forecast"]
    inflow, churn = _fmt(f["inflow_per_period"]), _fmt(f["churn_rate"])
    lines += [
        "",
        f"  forecast per {f['period']}: inflow {inflow}, churn {churn}",
        f"  {'period':<8}{'steady':>14}{'skok':>14}{'logistic':>14}",
    ]
    for row in f["periods"]:
        values = "".join(f"{_fmt(row[key]):>14}" for key in ("steady", "skok", "logistic"))
        lines.append(f"  {row['period']:<8}{values}")
    return "\n".join(lines)


@click.command("referral-report")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="first day, inclusive")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="last day, inclusive")
@click.option("--cohort", type=click.Choice(["week", "month"]), default="month", show_default=True)
@click.option(
    "--market",
    type=click.IntRange(min=1),
    default=None,
    help="market size for the logistic forecast",
)
@with_appcontext
def referral_report(
    start: dt.datetime | None, end: dt.datetime | None, cohort: str, market: int | None
) -> None:
    """Print the referral report (the same figures as GET /api/v1/reports/referrals)."""
    data = report.referral_report(
        db.session,
        utcnow(),
        start.date() if start else None,
        end.date() if end else None,
        cohort,
        current_app.config["MASTHEAD"].referral_horizon_days,
        market,
    )
    click.echo(format_report(data))


def release_work(session, now):  # type: ignore[no-untyped-def]
    """Count held referrals whose hold has passed (the tick runs it hourly). Commits."""
    released = service.release_due(session, now)
    commit()
    return {"released": released}


@click.command("referrals-release")
@with_appcontext
def referrals_release() -> None:
    """Count held referrals whose hold has passed without an operator's decision."""
    released = release_work(db.session, utcnow())["released"]
    click.echo(f"{released} held referrals counted")


commands = [referral_report, referrals_release]
