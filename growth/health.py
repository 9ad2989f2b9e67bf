"""Readiness: can this process serve? The database answers, Redis (when configured) answers,
and the database's schema is the one the code expects (migrations at head).

Each check returns None when fine, or a short sentence for the operator; exception details go
to the log, not to the (public) answer.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 2.0


@functools.cache
def code_heads() -> frozenset[str]:
    """The migration heads this code ships (read once per process)."""
    from alembic.script import ScriptDirectory

    from growth.cli import alembic_config

    return frozenset(ScriptDirectory.from_config(alembic_config("")).get_heads())


def check_database(app: Flask) -> tuple[str | None, frozenset[str] | None]:
    """(problem, the revisions the database is at); one connection for both.

    Plain driver statements, outside any transaction: on SQLite every SQLAlchemy transaction
    begins IMMEDIATE (the write lock), and a probe must not queue behind a long send.
    """
    engine = app.extensions["masthead_db"].engine
    try:
        raw = engine.raw_connection()
    except Exception as exc:
        log.warning("readiness: database unreachable: %s", exc)
        return f"the database cannot be reached ({exc.__class__.__name__})", None
    try:
        cursor = raw.cursor()
        try:
            cursor.execute("SELECT 1")
            cursor.fetchall()
        except Exception as exc:
            log.warning("readiness: database does not answer: %s", exc)
            return f"the database does not answer ({exc.__class__.__name__})", None
        try:
            cursor.execute("SELECT version_num FROM alembic_version")
            current = frozenset(str(row[0]) for row in cursor.fetchall())
        except Exception:  # no alembic_version table: nothing was ever applied
            raw.rollback()
            current = frozenset()
        cursor.close()
    finally:
        raw.close()
    return None, current


def check_migrations(current: frozenset[str] | None) -> str | None:
    """None when the database is at every head the code ships."""
    if current is None:
        return "unknown: the database cannot be reached"
    expected = code_heads()
    if current == expected:
        return None
    at = ", ".join(sorted(current)) or "no revision"
    return (
        f"the database is at {at}, the code expects {', '.join(sorted(expected))}: "
        "run `flask --app wsgi db-upgrade`"
    )


def _probe(app: Flask) -> Any:
    # Its own client with short timeouts: a readiness probe must answer even if Redis hangs.
    client = app.extensions.get("masthead_redis_probe")
    if client is None:
        from redis import Redis

        client = Redis.from_url(
            app.config["MASTHEAD"].redis_url,
            socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
            socket_timeout=PROBE_TIMEOUT_SECONDS,
        )
        app.extensions["masthead_redis_probe"] = client
    return client


def check_redis(app: Flask) -> str | None:
    """None when Redis answers a PING (or is not configured)."""
    if not app.config["MASTHEAD"].redis_url:
        return None
    try:
        _probe(app).ping()
    except Exception as exc:
        log.warning("readiness: Redis unreachable: %s", exc)
        return f"Redis cannot be reached ({exc.__class__.__name__})"
    return None


def readiness(app: Flask) -> dict[str, dict[str, Any]]:
    """Every check by name: {"ok": bool, "error": sentence (when not ok)}."""
    database, current = check_database(app)
    results: dict[str, str | None] = {
        "database": database,
        "migrations": check_migrations(current),
    }
    if app.config["MASTHEAD"].redis_url:
        results["redis"] = check_redis(app)
    return {
        name: {"ok": True} if problem is None else {"ok": False, "error": problem}
        for name, problem in results.items()
    }
