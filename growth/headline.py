"""The desk's headline: what a media business lives on, each figure beside its previous period.

The core's figures come from the reports it already has (the growth and funnel reports, the
rollup's facts, the `mrr` and `paid_history` series billing fills). Other domains add theirs
with `register_headline_figures` in their init_app (referrals adds K), since the core cannot
import them. Definitions are in growth.headline_metrics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from growth import report_figures, reports, rollup_series
from growth import report_metrics as rm
from growth import report_service as service
from growth.db import ids_in
from growth.engagement import HUMAN_ENGAGEMENT, MACHINE_OPEN
from growth.headline_metrics import PERIOD_DAYS, Audience, Figure, audience_at, count_between
from growth.models import EmailEvent, Subscriber
from growth.rollup_models import ReportFacts, ReportSeries

# (session, now, period_days) -> the domain's figures, each with its previous period's value
HeadlineProvider = Callable[[Session, dt.datetime, int], list[Figure]]
_providers: dict[str, HeadlineProvider] = {}


def register_headline_figures(name: str, provider: HeadlineProvider) -> None:
    """A domain adds figures to the headline (its init_app calls this once, under its own name)."""
    _providers[name] = provider


@dataclass(frozen=True)
class Periods:
    """This period and the one before it, as instants and as the report's inclusive days."""

    now: dt.datetime
    days: int

    @property
    def then(self) -> dt.datetime:
        return self.now - dt.timedelta(days=self.days)

    @property
    def before(self) -> dt.datetime:
        return self.now - dt.timedelta(days=2 * self.days)

    def dates(self, previous: bool = False) -> tuple[dt.date, dt.date]:
        """The period's days [first, last] as the rollup counts them (UTC dates)."""
        last = (self.then if previous else self.now).date()
        return last - dt.timedelta(days=self.days - 1), last


def _aware(moment: dt.datetime | str) -> dt.datetime:
    """SQLite hands back max() of a datetime column as naive (or as text): read it as UTC."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _latest(condition: Any, since: dt.datetime, until: dt.datetime) -> Any:
    """A reader's last event matching `condition` in [since, until], through the (subscriber, at) index."""
    e = EmailEvent
    return (
        select(func.max(e.at))
        .where(e.subscriber_id == ReportFacts.subscriber_id, condition, e.at >= since, e.at <= until)
        .correlate(ReportFacts)
        .scalar_subquery()
    )


def _moments(p: Periods, window_days: int) -> dict[dt.datetime, tuple[Any, Any]]:
    """Per instant, SQL for each reader's last human engagement and machine open at or before it.

    Now: the rollup's facts (as the reports' reachable readers read them). A period ago: the same
    when it came before then; only readers seen since are looked up in the events.
    """
    f = ReportFacts
    since = p.then - dt.timedelta(days=window_days)

    def before_then(last: Any, condition: Any) -> Any:
        return case((last <= p.then, last), else_=_latest(condition, since, p.then))

    return {
        p.now: (f.last_human_at, f.last_machine_at),
        p.then: (
            before_then(f.last_human_at, HUMAN_ENGAGEMENT),
            before_then(f.last_machine_at, MACHINE_OPEN),
        ),
    }


def _counts(
    session: Session, at: dt.datetime, human: Any, machine: Any, window_days: int
) -> tuple[int, int, int]:
    """(on the list, engaged, unknown) at `at`, counted in the database as audience_at defines them."""
    f = ReportFacts
    since = at - dt.timedelta(days=window_days)
    listed = and_(f.confirmed_at <= at, or_(f.left_at.is_(None), f.left_at > at))
    seen = and_(human >= since, human <= at)
    engaged = and_(listed, seen)
    unknown = and_(listed, or_(human.is_(None), human < since, human > at), machine >= since, machine <= at)
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((engaged, 1), else_=0)), 0),
            func.coalesce(func.sum(case((unknown, 1), else_=0)), 0),
        ).where(listed)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def _paying(session: Session, at_moments: Collection[dt.datetime]) -> dict[dt.datetime, set[int]]:
    """Who was paying at each moment, from billing's paid history of everyone who ever paid."""
    payers = list(session.scalars(select(ReportFacts.subscriber_id).where(ReportFacts.paid_at.is_not(None))))
    history = reports.paid_history(session, payers) if payers else {}
    return {at: {sid for sid, h in history.items() if rm.paying_at(h.intervals, at)} for at in at_moments}


def audiences(session: Session, p: Periods, window_days: int) -> tuple[Audience, Audience, dict[str, int]]:
    """The list now and a period ago, split by engagement; and who pays at each instant.

    The counts are made in the database; the payers (a few) are read out and split by
    growth.headline_metrics.audience_at, the definition the counts follow, to tell how many of
    them are reachable only by paying.
    """
    f = ReportFacts
    paying = _paying(session, (p.now, p.then))
    payers = sorted(paying[p.now] | paying[p.then])
    moments = _moments(p, window_days)
    result = []
    for at, (human, machine) in moments.items():
        listed, engaged, unknown = _counts(session, at, human, machine, window_days)
        rows = (
            session.execute(
                select(f.subscriber_id, f.confirmed_at, f.left_at, human, machine).where(
                    ids_in(f.subscriber_id, payers)
                )
            ).all()
            if payers
            else []
        )
        paid = audience_at(
            {sid: (confirmed, left) for sid, confirmed, left, _, _ in rows},
            {sid: _aware(h) for sid, _, _, h, _ in rows if h is not None},
            {sid: _aware(m) for sid, _, _, _, m in rows if m is not None},
            paying[at],
            at,
            window_days,
        )
        result.append(
            Audience(
                on_list=listed,
                engaged=engaged,
                unknown=unknown,
                disengaged=listed - engaged - unknown,
                # the disengaged who pay are reachable too
                reachable=engaged + unknown + paid.reachable - paid.engaged - paid.unknown,
            )
        )
    return result[0], result[1], {"now": len(paying[p.now]), "then": len(paying[p.then])}


def _confirmation(session: Session, first: dt.date, last: dt.date) -> tuple[int, float | None]:
    """The period's confirmations (growth report) and its signups' confirmation rate (funnel)."""
    growth = report_figures.growth_days(
        service.growth_rows(session, service.Filters(first, last)), first, last
    )
    funnel = service.funnel_report(session, service.Filters(first, last))
    confirmed_step = next(s for s in funnel["steps"] if s["step"] == "confirmed")
    return sum(d["confirmations"] for d in growth), confirmed_step["conversion"]


def core_figures(session: Session, now: dt.datetime, window_days: int, period_days: int) -> list[Figure]:
    """The core's headline: signups and their confirmation, the list's reading, nurture, payers, MRR."""
    p = Periods(now, period_days)
    confirmed, rate = _confirmation(session, *p.dates())
    confirmed_before, rate_before = _confirmation(session, *p.dates(previous=True))
    current, earlier, paying = audiences(session, p, window_days)
    nurtured_at = list(
        session.scalars(select(ReportFacts.nurtured_at).where(ReportFacts.nurtured_at >= p.before))
    )
    presumed_at = list(
        session.scalars(select(ReportFacts.presumed_at).where(ReportFacts.presumed_at >= p.before))
    )
    w = window_days
    figures = [
        Figure(
            "confirmed_signups",
            "Confirmed signups",
            confirmed,
            confirmed_before,
            "count",
            f"Readers who clicked the confirmation link in the last {period_days} days: new readers "
            "come before new revenue.",
        ),
        Figure(
            "confirmation_rate",
            "Confirmation rate",
            rate,
            rate_before,
            "share",
            f"Of those who signed up in the last {period_days} days, the share who have confirmed "
            "(the latest may still do).",
        ),
        Figure(
            "engaged",
            "Engaged readers",
            current.engaged,
            earlier.engaged,
            "count",
            f"On the list and seen reading (a real open, a click, a visit) in the last {w} days.",
            endpoint="people.subscriber_list",
            args={"status": "active", "engagement": "engaged"},
        ),
        Figure(
            "unknown",
            "Unknown",
            current.unknown,
            earlier.unknown,
            "count",
            f"Only their mail app opened our emails in the last {w} days (Apple Mail does it for "
            "everyone): perhaps reading, we cannot tell.",
            endpoint="people.subscriber_list",
            args={"status": "active", "engagement": "unknown"},
        ),
        Figure(
            "disengaged",
            "Disengaged",
            current.disengaged,
            earlier.disengaged,
            "count",
            f"No sign of reading in {w} days. Engaged, unknown and disengaged add up to the "
            f"{current.on_list:,} readers on the list.",
            note=f"{current.on_list:,} on the list ({earlier.on_list:,} a period ago)",
            endpoint="people.subscriber_list",
            args={"status": "active", "engagement": "disengaged"},
        ),
        Figure(
            "nurtured",
            "Newly nurtured",
            count_between(nurtured_at, p.then, p.now),
            count_between(nurtured_at, p.before, p.then),
            "count",
            f"Readers who, in the last {period_days} days, engaged with enough value emails to be "
            "ready for an offer.",
            endpoint="people.subscriber_list",
            args={"stage": "nurtured"},
        ),
        Figure(
            "presumed",
            "Newly presumed nurtured",
            count_between(presumed_at, p.then, p.now),
            count_between(presumed_at, p.before, p.then),
            "count",
            "Readers whose opens Apple Mail hides, who received enough value emails over 30 days "
            "without leaving or complaining: presumed ready for an offer, counted apart from the "
            "nurtured.",
            endpoint="people.subscriber_list",
            args={"stage": "presumed"},
        ),
        Figure(
            "paying",
            "Paying readers",
            paying["now"],
            paying["then"],
            "count",
            "Readers with a paid subscription running today.",
            endpoint="people.subscriber_list",
            args={"stage": "paying"},
        ),
    ]
    mrr_now, mrr_then = reports.mrr(session, p.now), reports.mrr(session, p.then)
    per_now = report_figures.revenue_per_reachable_reader(mrr_now, current.reachable)
    per_then = {
        b["currency"]: b["revenue_per_reachable_reader_cents"]
        for b in report_figures.revenue_per_reachable_reader(mrr_then, earlier.reachable)
    }
    for currency in sorted(set(mrr_now) | set(mrr_then)):
        figures.append(
            Figure(
                f"mrr:{currency}",
                f"MRR ({currency.upper()})",
                mrr_now.get(currency, 0),
                mrr_then.get(currency),
                "cents",
                "Monthly recurring revenue: what the running subscriptions bring in a month, "
                "after discounts.",
                currency=currency,
                revenue=True,
                endpoint="billing_admin.revenue",
            )
        )
    for block in per_now:
        currency = block["currency"]
        figures.append(
            Figure(
                f"revenue_per_reader:{currency}",
                f"Revenue per reachable reader ({currency.upper()})",
                block["revenue_per_reachable_reader_cents"],
                per_then.get(currency),
                "cents",
                "MRR over the readers we can reach (engaged, unknown or paying): what each reader "
                "we reach is worth a month.",
                currency=currency,
                revenue=True,
                note=f"{current.reachable:,} reachable readers",
            )
        )
    return figures


def headline(
    session: Session, now: dt.datetime, window_days: int, period_days: int = PERIOD_DAYS
) -> list[Figure]:
    """Every headline figure: the core's, then each registered domain's."""
    figures = core_figures(session, now, window_days, period_days)
    for provider in _providers.values():
        figures.extend(provider(session, now, period_days))
    return figures


CACHE = "headline"
MAX_AGE = dt.timedelta(minutes=5)


def cache_headline(
    session: Session, now: dt.datetime, window_days: int, read: Session | None = None
) -> list[Figure]:
    """Compute the headline (through `read`, the reports session, when given) and keep it
    (report_series, through `session`) for the next views of the desk."""
    figures = headline(read or session, now, window_days)
    payload = {"window_days": window_days, "figures": [asdict(f) for f in figures]}
    rollup_series.keep_series(session, CACHE, now, payload)
    return figures


def current_headline(
    session: Session, now: dt.datetime, window_days: int, read: Session | None = None
) -> tuple[list[Figure], dt.datetime]:
    """The kept headline while at most MAX_AGE old (and for the same window), else computed and kept.

    `read`: the session the figures are computed through (a read replica's); the kept copy is
    read and written through `session`, the primary's.

    Kept, not computed by the tick: a tick (and seed-demo's simulated ticks) would compute it
    whether anyone looks or not.
    """
    row = session.get(ReportSeries, CACHE, populate_existing=True)
    if row is not None and now - row.computed_at <= MAX_AGE and row.payload.get("window_days") == window_days:
        return [Figure(**f) for f in row.payload["figures"]], row.computed_at
    return cache_headline(session, now, window_days, read), now


def total_subscribers(session: Session) -> int:
    """Every subscriber row, whatever the status: context, not a goal."""
    return int(session.scalar(select(func.count()).select_from(Subscriber)) or 0)
