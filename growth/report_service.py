"""The funnel, cohort and growth reports: a few GROUP BY queries over the rollup, then the pure
metrics of growth.report_metrics. Nothing here scans raw events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from growth import report_metrics as rm
from growth import reports
from growth.models import Newsletter
from growth.rollup_models import ReportCell, ReportFacts


@dataclass(frozen=True)
class Filters:
    """What every report takes: signup (or event) days [start, end], a newsletter, a source."""

    start: dt.date | None = None
    end: dt.date | None = None
    newsletter_id: int | None = None
    source: str | None = None


def _where(kind: str, f: Filters, start: dt.date | None = None) -> list[Any]:
    conditions: list[Any] = [ReportCell.kind == kind]
    start = start if start is not None else f.start
    if start is not None:
        conditions.append(ReportCell.day >= start)
    if f.end is not None:
        conditions.append(ReportCell.day <= f.end)
    if f.newsletter_id is not None:
        conditions.append(ReportCell.newsletter_id == f.newsletter_id)
    if f.source is not None:
        conditions.append(ReportCell.source == f.source)
    return conditions


def _summed(session: Session, kind: str, f: Filters, *columns: Any, where: list[Any] | None = None, start: dt.date | None = None) -> list[Any]:
    total = func.sum(ReportCell.n)
    stmt = (
        select(*columns, total)
        .where(*_where(kind, f, start), *(where or []))
        .group_by(*columns)
        .having(total != 0)
    )
    return [tuple(row) for row in session.execute(stmt)]


def newsletter_slugs(session: Session) -> dict[int, str]:
    """{newsletter id: slug}, and 0 for signups on no newsletter."""
    return {0: "none", **dict(session.execute(select(Newsletter.id, Newsletter.slug)).all())}


def funnel_report(session: Session, f: Filters) -> dict:
    """The funnel of readers who signed up in [start, end], overall and by each breakdown."""
    c = ReportCell
    metric = (c.metric, c.bucket)
    slugs = newsletter_slugs(session)
    overall = [(m, b, int(n)) for m, b, n in _summed(session, "funnel", f, *metric)]
    groups = {
        "newsletter": [
            (slugs.get(nl, str(nl)), m, b, int(n)) for nl, m, b, n in _summed(session, "funnel", f, c.newsletter_id, *metric)
        ],
        "source": [(s, m, b, int(n)) for s, m, b, n in _summed(session, "funnel", f, c.source, *metric)],
        "campaign": [
            (v, m, b, int(n)) for v, m, b, n in _summed(session, "funnel", f, c.campaign, *metric, where=[c.campaign != ""])
        ],
        "post": [(v, m, b, int(n)) for v, m, b, n in _summed(session, "funnel", f, c.post, *metric, where=[c.post != ""])],
    }
    return {**_window(f), **rm.funnel(overall, groups)}


def _window(f: Filters) -> dict[str, Any]:
    return {
        "from": f.start.isoformat() if f.start else None,
        "to": f.end.isoformat() if f.end else None,
        "newsletter": f.newsletter_id,
        "source": f.source,
    }


def cohort_report(session: Session, f: Filters, now: dt.datetime) -> dict:
    """Monthly signup cohorts whose month overlaps [start, end], by months since signup."""
    c = ReportCell
    start = rm.month_start(f.start).date() if f.start else None
    rows = _summed(session, "cohort", f, c.day, c.metric, c.bucket, c.currency, start=start)
    cells = [(day, m, b, cur, int(n)) for day, m, b, cur, n in rows]
    return {**_window(f), "cohorts": rm.cohorts(cells, now)}


def first_day(session: Session) -> dt.date | None:
    """The first day anything happened in the rollup."""
    return session.scalar(select(func.min(ReportCell.day)).where(ReportCell.kind == "growth"))


def growth_report(session: Session, f: Filters, now: dt.datetime, window_days: int) -> dict:
    """Daily signups, confirmations, unsubscribes and net growth; MRR movements by month."""
    c = ReportCell
    end = f.end or now.date()
    start = f.start or first_day(session) or end
    rows = _summed(session, "growth", Filters(start, end, f.newsletter_id, f.source), c.day, c.metric)
    days = rm.growth_days([(day, m, int(n)) for day, m, n in rows], start, end)
    until = min(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC), now)
    since = rm.month_start(start)
    movements = reports.mrr_movements(session, since, until) if since < until else []
    return {
        **_window(Filters(start, end, f.newsletter_id, f.source)),
        "days": days,
        "mrr_movements": movements,
        "revenue_per_reachable_reader": revenue_per_reachable_reader(session, now, window_days),
    }


def reachable_readers(session: Session, now: dt.datetime, window_days: int) -> int:
    """Active subscribers who are engaged, unknown (machine opens only) or paying at `now`."""
    since = now - dt.timedelta(days=window_days)
    f = ReportFacts
    recent = or_(
        f.last_human_at.between(since, now),
        f.last_machine_at.between(since, now),
        f.paying_now.is_(True),
    )
    return int(session.scalar(select(func.count()).where(f.status == "active", recent)) or 0)


def revenue_per_reachable_reader(session: Session, now: dt.datetime, window_days: int) -> dict:
    """MRR per reachable reader at `now`, per currency: what every report that shows it shows."""
    blocks = rm.revenue_per_reachable_reader(reports.mrr(session, now), reachable_readers(session, now, window_days))
    return {"at": now.isoformat(), "currencies": blocks}
