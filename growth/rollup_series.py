"""Series of other domains computed ahead by the tick, so that no report waits for them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from growth import report_metrics as rm
from growth import reports
from growth.rollup_models import ReportSeries

MOVEMENT_MONTHS = 24  # months of MRR movements computed ahead


def cache_billing_series(
    session: Session, now: dt.datetime, window_days: int | None = None
) -> dict[str, int]:
    """Compute billing's MRR now and its movements of the last 24 months, for the reports to read,
    with the readers reachable at the same instant (counting a million facts rows is the tick's
    work, not a report's)."""
    from growth.report_service import reachable_readers

    if window_days is None:
        window_days = int(current_app.config["MASTHEAD"].engaged_window_days)
    start = rm.month_start(now, -(MOVEMENT_MONTHS - 1))
    payload = {
        "from": start.isoformat(),
        "mrr": reports.mrr(session, now),
        "movements": reports.mrr_movements(session, start, now),
        "reachable": {"window_days": window_days, "readers": reachable_readers(session, now, window_days)},
    }
    row = session.get(ReportSeries, "billing")
    if row is None:
        session.add(ReportSeries(name="billing", computed_at=now, payload=payload))
    else:
        row.computed_at, row.payload = now, payload
    session.flush()
    return {"currencies": len(payload["mrr"])}


def billing_series_work(session: Session, now: dt.datetime) -> dict[str, int]:
    """Tick, every 5 minutes: billing's series, ahead of the reports."""
    from growth.db import commit

    result = cache_billing_series(session, now)
    commit()
    return result


def keep_series(session: Session, name: str, computed_at: dt.datetime, payload: dict[str, Any]) -> None:
    """Store a computed series under `name`, replacing the one before (two at once: the last wins)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt: Any = dialect.insert(ReportSeries).values(name=name, computed_at=computed_at, payload=payload)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"computed_at": stmt.excluded.computed_at, "payload": stmt.excluded.payload},
    )
    session.execute(stmt)
