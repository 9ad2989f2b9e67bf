"""Keeping the report rollups current: mark a subscriber dirty as their events arrive, refresh
their facts in the tick, rebuild everything on demand (`flask --app wsgi rebuild-rollups`).

A refresh recomputes a subscriber's facts from the stored history (growth.report_metrics),
takes their old cells out of `report_cells` and puts the new ones in: re-applying an event, or
applying events in another order, ends in the same rows as a rebuild. An erased reader keeps
the facts they had (erasure removes their data, not their place in the figures), in a rebuild
too.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from growth import report_metrics as rm
from growth import reports
from growth.db import ids_in
from growth.models import EmailEvent, Membership, Subscriber, SubscriberEvent
from growth.rollup_models import ReportCell, ReportDirty, ReportFacts

log = logging.getLogger(__name__)

BATCH = 2000
REBUILD_LOCK = 0x6D617374  # PostgreSQL advisory lock: refreshes share it, a rebuild holds it alone
KEY_COLUMNS = ("kind", "day", "newsletter_id", "source", "campaign", "post", "metric", "bucket", "currency")
HUMAN_TYPES = ("web_visit", "reply", "poll_answer")
ERASED = "erased"


def _insert(session: Session, table: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def mark_dirty(session: Session, subscriber_ids: Iterable[int | None]) -> None:
    """Ask the tick to refresh these subscribers' facts (a second mark bumps the version)."""
    ids = sorted({int(i) for i in subscriber_ids if i is not None})
    if not ids:
        return
    stmt = _insert(session, ReportDirty)
    stmt = stmt.on_conflict_do_update(
        index_elements=["subscriber_id"], set_={"version": ReportDirty.version + 1}
    )
    session.execute(stmt, [{"subscriber_id": i, "version": 1} for i in ids])


def on_subscriber_signal(sender: Any, session: Session | None = None, **_: Any) -> None:
    """Signal receiver: the subscriber it is about changed in a way the reports see."""
    if session is not None and getattr(sender, "id", None) is not None:
        mark_dirty(session, [sender.id])


# ---- loading one batch's history -----------------------------------------------------------


def _month_key(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _human() -> Any:
    return or_(
        and_(EmailEvent.type == "click", EmailEvent.is_scanner.is_(False)),
        and_(EmailEvent.type == "open", EmailEvent.is_machine.is_(False)),
        EmailEvent.type.in_(HUMAN_TYPES),
    )


def load_facts(session: Session, subscriber_ids: Collection[int], now: dt.datetime) -> dict[int, rm.Facts]:
    """Each subscriber's Facts at `now`, from their rows, events and the domains' series."""
    ids = sorted(subscriber_ids)
    if not ids:
        return {}
    dialect = session.get_bind().dialect.name
    subs = session.execute(
        select(
            Subscriber.id,
            Subscriber.created_at,
            Subscriber.status,
            Subscriber.source,
            Subscriber.utm_source,
            Subscriber.utm_campaign,
            Subscriber.landing_url,
            Subscriber.confirmed_at,
            Subscriber.status_changed_at,
            Subscriber.unsubscribed_at,
            Subscriber.referrer_id,
        ).where(ids_in(Subscriber.id, ids))
    ).all()
    newsletter: dict[int, int] = {}
    for sid, nl in session.execute(
        select(Membership.subscriber_id, Membership.newsletter_id)
        .where(ids_in(Membership.subscriber_id, ids))
        .order_by(Membership.id.desc())
    ):
        newsletter[sid] = nl  # the oldest membership wins: the newsletter they signed up to
    nurtured, presumed = (
        {
            sid: at
            for sid, at in session.execute(
                select(SubscriberEvent.subscriber_id, func.min(SubscriberEvent.at))
                .where(
                    ids_in(SubscriberEvent.subscriber_id, ids),
                    SubscriberEvent.field == "stage",
                    SubscriberEvent.to_value == stage,
                )
                .group_by(SubscriberEvent.subscriber_id)
            )
        }
        for stage in ("nurtured", "presumed")
    )
    # Per month the first and last human engagement: enough for the first, the last and the months.
    human: dict[int, list[dt.datetime]] = {}
    month = _month_key(EmailEvent.at, dialect)
    for who, first, last in session.execute(
        select(EmailEvent.subscriber_id, func.min(EmailEvent.at), func.max(EmailEvent.at))
        .where(ids_in(EmailEvent.subscriber_id, ids), _human())
        .group_by(EmailEvent.subscriber_id, month)
    ):
        if who is not None:
            human.setdefault(who, []).extend((first, last))
    machine = dict(
        session.execute(
            select(EmailEvent.subscriber_id, func.max(EmailEvent.at))
            .where(
                ids_in(EmailEvent.subscriber_id, ids),
                EmailEvent.type == "open",
                EmailEvent.is_machine.is_(True),
            )
            .group_by(EmailEvent.subscriber_id)
        ).all()
    )
    paid = reports.paid_history(session, ids)
    referred = reports.referred(session, ids)
    posts = reports.landing_posts(session, {s.id: s.landing_url for s in subs if s.landing_url})
    result = {}
    for s in subs:
        history = paid.get(s.id, reports.PaidHistory())
        left = s.status_changed_at or s.unsubscribed_at or s.created_at
        result[s.id] = rm.subscriber_facts(
            subscriber_id=s.id,
            signed_up_at=s.created_at,
            now=now,
            status=s.status,
            newsletter_id=newsletter.get(s.id, 0),
            source=rm.acquisition_source(s.id in referred, s.source, s.utm_source),
            campaign=(s.utm_campaign or "")[:200],
            post=posts.get(s.id, "")[:300],
            confirmed_at=s.confirmed_at,
            left_at=left,
            nurtured_at=nurtured.get(s.id),
            presumed_at=presumed.get(s.id),
            human_at=human.get(s.id, ()),
            machine_at=[machine[s.id]] if s.id in machine else (),
            paid_intervals=history.intervals,
            invoices=history.invoices,
        )
    return result


# ---- facts rows <-> Facts -------------------------------------------------------------------


def _bits(months: Iterable[int]) -> int:
    return sum(1 << k for k in set(months) if 0 <= k < 63)


def _months(bits: int) -> frozenset[int]:
    return frozenset(k for k in range(63) if bits >> k & 1)


def facts_row(facts: rm.Facts, now: dt.datetime) -> dict[str, Any]:
    """The report_facts row of a Facts."""
    return {
        "subscriber_id": facts.subscriber_id,
        "signed_up_at": facts.signed_up_at,
        "newsletter_id": facts.newsletter_id,
        "source": facts.source,
        "campaign": facts.campaign,
        "post": facts.post,
        "status": facts.status,
        "confirmed_at": facts.confirmed_at,
        "engaged_at": facts.engaged_at,
        "nurtured_at": facts.nurtured_at,
        "presumed_at": facts.presumed_at,
        "paid_at": facts.paid_at,
        "paying_90": facts.paying_90,
        "left_at": facts.left_at,
        "engaged_months": _bits(facts.engaged_months),
        "paying_months": _bits(facts.paying_months),
        "revenue": [list(r) for r in facts.revenue],
        "last_human_at": facts.last_human_at,
        "last_machine_at": facts.last_machine_at,
        "paying_now": facts.paying_now,
        "refreshed_at": now,
    }


def stored_facts(row: ReportFacts) -> rm.Facts:
    """The Facts a report_facts row holds."""
    return rm.Facts(
        subscriber_id=row.subscriber_id,
        signed_up_at=row.signed_up_at,
        newsletter_id=row.newsletter_id,
        source=row.source,
        campaign=row.campaign,
        post=row.post,
        status=row.status,
        confirmed_at=row.confirmed_at,
        engaged_at=row.engaged_at,
        nurtured_at=row.nurtured_at,
        presumed_at=row.presumed_at,
        paid_at=row.paid_at,
        paying_90=row.paying_90,
        left_at=row.left_at,
        engaged_months=_months(row.engaged_months),
        paying_months=_months(row.paying_months),
        revenue=tuple((int(k), str(cur), int(c)) for k, cur, c in row.revenue),
        last_human_at=row.last_human_at,
        last_machine_at=row.last_machine_at,
        paying_now=row.paying_now,
    )


def apply_cells(session: Session, cells: Counter[rm.Key]) -> None:
    """Add these (possibly negative) sums to report_cells."""
    rows = [dict(zip(KEY_COLUMNS, key, strict=True), n=n) for key, n in cells.items() if n]
    if not rows:
        return
    table = ReportCell.__table__
    stmt = _insert(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(KEY_COLUMNS), set_={"n": table.c.n + stmt.excluded.n}
    )
    session.execute(stmt, rows)


def insert_facts(session: Session, facts: Iterable[rm.Facts], now: dt.datetime) -> None:
    """report_facts rows for these facts."""
    rows = [facts_row(f, now) for f in facts]
    if rows:
        session.execute(_insert(session, ReportFacts.__table__), rows)


def _copy(session: Session, table: Any, rows: Iterable[dict[str, Any]]) -> bool:
    """COPY rows into an empty table on PostgreSQL (a rebuild writes a million); False elsewhere."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    columns = [c.name for c in table.columns]
    raw: Any = session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as out:
        for row in rows:
            out.write_row([json.dumps(row[c]) if isinstance(row[c], list) else row[c] for c in columns])
    return True


# ---- refresh, rebuild, the tick ---------------------------------------------------------


def refresh(session: Session, subscriber_ids: Collection[int], now: dt.datetime) -> int:
    """Recompute these subscribers' facts and move their cells; returns how many changed."""
    ids = sorted(set(subscriber_ids))
    if not ids:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock_shared(REBUILD_LOCK)))  # not during a rebuild
    old = {
        r.subscriber_id: r
        for r in session.scalars(
            select(ReportFacts).where(ids_in(ReportFacts.subscriber_id, ids)).with_for_update()
        )
    }
    new = load_facts(session, ids, now)
    for sid, facts in list(new.items()):
        if facts.status == ERASED and sid in old:
            new[sid] = stored_facts(old[sid])  # erasure took data away, not the reader's figures
    change: Counter[rm.Key] = Counter()
    changed = 0
    for sid in ids:
        before = stored_facts(old[sid]) if sid in old else None
        after = new.get(sid)
        if before == after:
            continue
        changed += 1
        change.update(rm.delta(before, after))
    apply_cells(session, change)
    if old:
        session.execute(delete(ReportFacts).where(ids_in(ReportFacts.subscriber_id, list(old))))
    insert_facts(session, new.values(), now)
    session.expire_all()
    return changed


def take_marks(session: Session, limit: int = BATCH) -> list[tuple[int, int]]:
    """Up to `limit` marked subscribers with the version of their mark."""
    rows = session.execute(
        select(ReportDirty.subscriber_id, ReportDirty.version)
        .order_by(ReportDirty.subscriber_id)
        .limit(limit)
    )
    return [(int(sid), int(version)) for sid, version in rows]


def clear_marks(session: Session, marks: Iterable[tuple[int, int]]) -> None:
    """Drop the marks refreshed; one re-marked meanwhile (a newer version) stays for the next tick."""
    for sid, version in marks:
        session.execute(
            delete(ReportDirty).where(ReportDirty.subscriber_id == sid, ReportDirty.version == version)
        )


def refresh_dirty(session: Session, now: dt.datetime, limit: int | None = None) -> int:
    """Refresh every marked subscriber, a batch per commit."""
    from growth.db import commit

    done = 0
    while limit is None or done < limit:
        marks = take_marks(session)
        if not marks:
            break
        refresh(session, [sid for sid, _ in marks], now)
        clear_marks(session, marks)
        commit()
        done += len(marks)
    return done


def mark_time_dependent(session: Session) -> None:
    """Mark those whose figures move with the clock alone: paying now, or 90 days not yet told."""
    ids = session.scalars(
        select(ReportFacts.subscriber_id).where(
            or_(
                ReportFacts.paying_now.is_(True),
                and_(ReportFacts.paid_at.is_not(None), ReportFacts.paying_90.is_(None)),
            )
        )
    ).all()
    for chunk in _chunks(list(ids), BATCH):
        mark_dirty(session, chunk)


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def rebuild(session: Session, now: dt.datetime, batch: int = 5000) -> dict[str, int]:
    """Throw the rollups away and recompute them from the whole history (one transaction)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(REBUILD_LOCK)))  # alone: no refresh meanwhile
    kept = {
        row.subscriber_id: stored_facts(row)
        for row in session.scalars(
            select(ReportFacts)
            .join(Subscriber, Subscriber.id == ReportFacts.subscriber_id)
            .where(Subscriber.status == ERASED)
        )
    }
    session.execute(delete(ReportCell))
    session.execute(delete(ReportFacts))
    session.execute(delete(ReportDirty))
    ids = list(session.scalars(select(Subscriber.id).order_by(Subscriber.id)))
    cells: Counter[rm.Key] = Counter()
    for chunk in _chunks(ids, batch):
        facts = load_facts(session, [i for i in chunk if i not in kept], now)
        facts.update({i: kept[i] for i in chunk if i in kept})
        for f in facts.values():
            cells.update(rm.contributions(f))
        if not _copy(session, ReportFacts.__table__, (facts_row(f, now) for f in facts.values())):
            insert_facts(session, facts.values(), now)
    rows = (dict(zip(KEY_COLUMNS, key, strict=True), n=n) for key, n in cells.items() if n)
    if not _copy(session, ReportCell.__table__, rows):
        apply_cells(session, cells)
    return {"subscribers": len(ids), "cells": len(cells)}


def rollup_work(session: Session, now: dt.datetime) -> dict[str, int]:
    """Tick: refresh the subscribers marked since the last tick."""
    return {"refreshed": refresh_dirty(session, now)}


def daily_work(session: Session, now: dt.datetime) -> dict[str, int]:
    """Tick, daily: refresh the figures that move with the clock (paying months, 90-day mark)."""
    from growth.db import commit

    mark_time_dependent(session)
    commit()
    return {"refreshed": refresh_dirty(session, now)}
