"""The funnel, cohort and growth reports: a few GROUP BY queries over the rollup, then the pure
metrics of growth.report_metrics. Nothing here scans raw events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session

from growth import report_figures as figures
from growth import report_metrics as rm
from growth import reports, resistance
from growth.models import Delivery, DeliveryKind, EmailEvent, Newsletter, SubscriberEvent
from growth.rollup_models import ReportCell, ReportFacts, ReportSeries


@dataclass(frozen=True)
class Filters:
    """What every report takes: signup (or event) days [start, end], a newsletter, a source."""

    start: dt.date | None = None
    end: dt.date | None = None
    newsletter_id: int | None = None
    source: str | None = None


def _filters(f: Filters) -> list[Any]:
    conditions: list[Any] = []
    if f.newsletter_id is not None:
        conditions.append(ReportCell.newsletter_id == f.newsletter_id)
    if f.source is not None:
        conditions.append(ReportCell.source == f.source)
    return conditions


def _days(kind: str, f: Filters, start: dt.date | None = None) -> list[Any]:
    conditions: list[Any] = [ReportCell.kind == kind]
    start = start if start is not None else f.start
    if start is not None:
        conditions.append(ReportCell.day >= start)
    if f.end is not None:
        conditions.append(ReportCell.day <= f.end)
    return conditions + _filters(f)


def _breakdown_filters(f: Filters) -> list[Any]:
    """Campaign and post cells: the newsletter and source asked for, or their sums over all."""
    return [
        ReportCell.newsletter_id == (rm.ANY_NEWSLETTER if f.newsletter_id is None else f.newsletter_id),
        ReportCell.source == (rm.ANY_SOURCE if f.source is None else f.source),
    ]


def _months_and_ends(kind: str, f: Filters) -> list[Any]:
    """Whole months of the window from the month cells, its ragged ends from the day cells."""
    c = ReportCell
    scope = _filters(f) if kind == "f" else _breakdown_filters(f)
    if f.start is None and f.end is None:
        return [c.kind == kind + ":a", *scope]
    first_full = None if f.start is None else rm.month_start(f.start, 0 if f.start.day == 1 else 1).date()
    after_full = None if f.end is None else rm.month_start(f.end + dt.timedelta(days=1)).date()
    months: list[Any] = [c.kind == kind + ":m"]
    if first_full is not None:
        months.append(c.day >= first_full)
    if after_full is not None:
        months.append(c.day < after_full)
    ends: list[Any] = []
    if first_full is not None and f.start is not None:
        ends.append(and_(c.day >= f.start, c.day < first_full))
    if after_full is not None and f.end is not None:
        ends.append(and_(c.day >= after_full, c.day <= f.end))
    if first_full is not None and after_full is not None and first_full >= after_full:
        months = [false()]  # no whole month inside: the days alone
        ends = [and_(c.day >= f.start, c.day <= f.end)]
    days = and_(c.kind == kind + ":d", or_(*ends)) if ends else false()
    return [or_(and_(*months), days), *scope]


def _summed(session: Session, where: list[Any], *columns: Any) -> list[Any]:
    total = func.sum(ReportCell.n)
    stmt = select(*columns, total).where(*where).group_by(*columns).having(total != 0)
    return [tuple(row) for row in session.execute(stmt)]


def newsletter_slugs(session: Session) -> dict[int, str]:
    """{newsletter id: slug}, and 0 for signups on no newsletter."""
    return {0: "none", **dict(session.execute(select(Newsletter.id, Newsletter.slug)).all())}


def funnel_report(session: Session, f: Filters) -> dict:
    """The funnel of readers who signed up in [start, end], overall and by each breakdown."""
    c = ReportCell
    metric = (c.metric, c.bucket)
    slugs = newsletter_slugs(session)
    base = _months_and_ends("f", f)
    # One scan for the overall block and the newsletter and source breakdowns.
    rows = [
        (nl, src, m, b, int(n))
        for nl, src, m, b, n in _summed(session, base, c.newsletter_id, c.source, *metric)
    ]
    overall = [(m, b, n) for _, _, m, b, n in rows]
    groups = {
        "newsletter": [(slugs.get(nl, str(nl)), m, b, n) for nl, _, m, b, n in rows],
        "source": [(src, m, b, n) for _, src, m, b, n in rows],
        "campaign": [
            (v, m, b, int(n))
            for v, m, b, n in _summed(session, _months_and_ends("fc", f), c.campaign, *metric)
        ],
        "post": [
            (v, m, b, int(n)) for v, m, b, n in _summed(session, _months_and_ends("fp", f), c.post, *metric)
        ],
    }
    return {**_window(f), **figures.funnel(overall, groups)}


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
    rows = _summed(session, _days("cohort", f, start), c.day, c.metric, c.bucket, c.currency)
    cells = [(day, m, b, cur, int(n)) for day, m, b, cur, n in rows]
    return {**_window(f), "cohorts": figures.cohorts(cells, now)}


def first_day(session: Session) -> dt.date | None:
    """The first day anything happened in the rollup."""
    return session.scalar(select(func.min(ReportCell.day)).where(ReportCell.kind == "growth"))


def growth_rows(session: Session, f: Filters) -> list[tuple[dt.date, str, int]]:
    """The growth cells of [start, end] summed per (day, metric)."""
    c = ReportCell
    return [(day, m, int(n)) for day, m, n in _summed(session, _days("growth", f), c.day, c.metric)]


def growth_report(session: Session, f: Filters, now: dt.datetime, window_days: int) -> dict:
    """Daily signups, confirmations, unsubscribes and net growth; MRR movements by month."""
    end = f.end or now.date()
    start = f.start or first_day(session) or end
    days = figures.growth_days(
        growth_rows(session, Filters(start, end, f.newsletter_id, f.source)), start, end
    )
    until = min(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC), now)
    since = rm.month_start(start)
    movements = mrr_movements(session, since, until) if since < until else []
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


def mrr_movements(session: Session, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    """Billing's movements by month over [since, until): from the tick's cache when it covers them."""
    cached = session.get(ReportSeries, "billing")
    if cached is None or since < dt.datetime.fromisoformat(cached.payload["from"]):
        return reports.mrr_movements(session, since, until)
    first, last = f"{since:%Y-%m}", f"{until - dt.timedelta(microseconds=1):%Y-%m}"
    return [
        {**block, "months": [m for m in block["months"] if first <= m["month"] <= last]}
        for block in cached.payload["movements"]
    ]


def revenue_per_reachable_reader(session: Session, now: dt.datetime, window_days: int) -> dict:
    """MRR per reachable reader, per currency, both taken at one instant: what every report shows.

    The instant is when the tick last computed billing's MRR and the reachable readers (every 5
    minutes), else `now`; a window other than the tick's is counted here, at that instant.
    """
    cached = session.get(ReportSeries, "billing")
    if cached is None:
        at, mrr, readers = now, reports.mrr(session, now), reachable_readers(session, now, window_days)
    else:
        at, mrr = cached.computed_at, cached.payload["mrr"]
        reach = cached.payload.get("reachable") or {}
        readers = (
            int(reach["readers"])
            if reach.get("window_days") == window_days
            else reachable_readers(session, at, window_days)
        )
    blocks = figures.revenue_per_reachable_reader(mrr, readers)
    return {"at": at.isoformat(), "currencies": blocks}


LEAVE_STATUSES = {"unsubscribed": "unsubscribe", "complained": "complaint"}
LEAVE_EVENTS = {"unsubscribe": "unsubscribe", "group_unsubscribe": "unsubscribe", "spamreport": "complaint"}


def value_pitch_report(session: Session, f: Filters, now: dt.datetime) -> dict:
    """Unsubscribes and complaints within 48 hours of the value and pitch emails sent in [start, end].

    Every earlier pitch is read too (it sets the bucket); leaves come from status changes and
    from the provider's unsubscribe and spam-report events (growth.resistance says how they count).
    """
    start = dt.datetime.combine(f.start, dt.time(), dt.UTC) if f.start else None
    end = dt.datetime.combine(f.end + dt.timedelta(days=1), dt.time(), dt.UTC) if f.end else None
    d = Delivery
    sent: list[Any] = [d.sent_at.is_not(None), d.kind.in_([DeliveryKind.VALUE, DeliveryKind.PITCH])]
    if start is not None:
        sent.append(or_(d.kind == DeliveryKind.PITCH, d.sent_at >= start))
    if end is not None:
        sent.append(d.sent_at < end)
    emails = [
        resistance.Email(sid, kind, at)
        for sid, kind, at in session.execute(select(d.subscriber_id, d.kind, d.sent_at).where(*sent))
        if at is not None
    ]
    since = [] if start is None else [SubscriberEvent.at >= start]
    leaves = [
        resistance.Leave(sid, LEAVE_STATUSES[to], at)
        for sid, to, at in session.execute(
            select(SubscriberEvent.subscriber_id, SubscriberEvent.to_value, SubscriberEvent.at).where(
                SubscriberEvent.field == "status", SubscriberEvent.to_value.in_(list(LEAVE_STATUSES)), *since
            )
        )
    ]
    e = EmailEvent
    since = [] if start is None else [e.at >= start]
    leaves += [
        resistance.Leave(sid, LEAVE_EVENTS[kind], at)
        for sid, kind, at in session.execute(
            select(e.subscriber_id, e.type, e.at).where(
                e.type.in_(list(LEAVE_EVENTS)), e.subscriber_id.is_not(None), *since
            )
        )
        if sid is not None
    ]
    return {
        "from": f.start.isoformat() if f.start else None,
        "to": f.end.isoformat() if f.end else None,
        "hours": resistance.HOURS,
        "rows": resistance.value_and_pitch(emails, leaves, now, start, end),
    }
