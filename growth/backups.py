"""Backups on PostgreSQL: a dump with a manifest of what it holds, and a restore that proves it.

`backup FILE` runs pg_dump (custom format) inside a snapshot this module exports, and writes
`FILE.json` beside it: the row count of every table and the reports' totals, read in that same
snapshot, so they describe exactly what the dump holds. `verify-restore FILE` restores the dump
into a fresh database with pg_restore, reads the same figures there and names every difference
(without a manifest it compares with the live database, which may have moved since the dump).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from growth import report_service, reports
from growth.db import Base, make_engine
from growth.errors import DomainError

MANIFEST_SUFFIX = ".json"


class BackupError(DomainError):
    """A dump or restore that cannot be done (no PostgreSQL, no tools, an existing target)."""

    code = "backup_failed"


def table_counts(session: Session) -> dict[str, int]:
    """Rows in every table the models know, and the migration heads."""
    counts = {
        table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
        for table in Base.metadata.sorted_tables
    }
    counts["alembic_version"] = int(session.scalar(text("SELECT count(*) FROM alembic_version")) or 0)
    return dict(sorted(counts.items()))


def report_totals(session: Session, now: dt.datetime, window_days: int) -> dict[str, Any]:
    """What the reports answer at `now`: funnel, cohorts, growth, MRR and its movements."""
    everything = report_service.Filters()
    totals = {
        "subscribers_by_status": {
            status: int(n)
            for status, n in session.execute(
                text("SELECT status, count(*) FROM subscribers GROUP BY status ORDER BY status")
            )
        },
        "funnel": report_service.funnel_report(session, everything),
        "cohorts": report_service.cohort_report(session, everything, now),
        "growth": report_service.growth_report(session, everything, now, window_days),
        "mrr_cents": reports.mrr(session, now),
    }
    # Through JSON, so a manifest read back compares equal to figures computed afresh.
    return json.loads(json.dumps(totals, default=str, sort_keys=True))  # type: ignore[no-any-return]


def figures(session: Session, now: dt.datetime, window_days: int) -> dict[str, Any]:
    """The manifest: when, row counts, report totals."""
    return {
        "taken_at": now.isoformat(),
        "window_days": window_days,
        "counts": table_counts(session),
        "reports": report_totals(session, now, window_days),
    }


def libpq_url(database_url: str) -> str:
    """The URL pg_dump and pg_restore take (no SQLAlchemy driver name)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise BackupError("Backups need PostgreSQL: on SQLite, copy the file while nothing writes.")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def tool(name: str) -> str:
    """pg_dump or pg_restore: from PG_BIN when set, else the PATH."""
    folder = os.environ.get("PG_BIN")
    found = str(Path(folder) / name) if folder else shutil.which(name)
    if not found or not Path(found).exists():
        raise BackupError(f"{name} is not installed (apt-get install postgresql-client, or set PG_BIN).")
    return found


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-2000:]}")


def backup(database_url: str, path: Path, now: dt.datetime, window_days: int) -> dict[str, Any]:
    """Dump the database to `path` and its figures to `path`.json, both from one snapshot."""
    target = libpq_url(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            snapshot = conn.scalar(text("SELECT pg_export_snapshot()"))
            manifest = figures(Session(bind=conn), now, window_days)
            # pg_dump reads the exported snapshot while this transaction keeps it alive.
            _run([tool("pg_dump"), "--format=custom", f"--snapshot={snapshot}", "--file", str(path), target])
    finally:
        engine.dispose()
    Path(str(path) + MANIFEST_SUFFIX).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


@contextmanager
def scratch_database(database_url: str, name: str, keep: bool) -> Iterator[str]:
    """A new, empty database `name` on the same server; dropped afterwards unless `keep`."""
    url = make_url(database_url)
    if name == url.database:
        raise BackupError("The restore target must not be the database itself.")
    admin = make_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                raise BackupError(f"Database {name!r} exists: pick a fresh name (--into) or drop it.")
            conn.execute(text(f'CREATE DATABASE "{_identifier(name)}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            if not keep:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{_identifier(name)}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _identifier(name: str) -> str:
    if not name or len(name) > 63 or not all(ch.isalnum() or ch == "_" for ch in name):
        raise BackupError("A database name of letters, digits and underscores, up to 63 of them.")
    return name


def differences(expected: dict[str, Any], found: dict[str, Any]) -> list[str]:
    """Every table count and report total that differs (empty: the restore holds the same)."""
    out = []
    for table in sorted(set(expected["counts"]) | set(found["counts"])):
        a, b = expected["counts"].get(table), found["counts"].get(table)
        if a != b:
            out.append(f"{table}: {a} rows in the backup, {b} restored")
    for name in sorted(set(expected["reports"]) | set(found["reports"])):
        if expected["reports"].get(name) != found["reports"].get(name):
            out.append(f"report {name}: the totals differ")
    return out


def verify_restore(
    database_url: str, dump: Path, into: str | None = None, keep: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """Restore `dump` into a fresh database and compare; (restored figures, differences)."""
    libpq_url(database_url)
    if not dump.is_file():
        raise BackupError(f"No dump at {dump}.")
    manifest_path = Path(str(dump) + MANIFEST_SUFFIX)
    expected = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    if expected is None:
        live = make_engine(database_url)
        try:
            with Session(live) as session:
                expected = figures(session, dt.datetime.now(dt.UTC), 30)
        finally:
            live.dispose()
    now = dt.datetime.fromisoformat(expected["taken_at"])
    name = into or f"{make_url(database_url).database}_restore_check"
    with scratch_database(database_url, name, keep) as restored_url:
        _run(
            [
                tool("pg_restore"),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "-d",
                libpq_url(restored_url),
                str(dump),
            ]
        )
        engine = make_engine(restored_url)
        try:
            with Session(engine) as session:
                found = figures(session, now, int(expected["window_days"]))
        finally:
            engine.dispose()
    return found, differences(expected, found)
