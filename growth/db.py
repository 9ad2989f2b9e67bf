"""Database wiring: the declarative base, a UTC datetime type and the per-request session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Flask, current_app, g
from sqlalchemy import (
    Boolean,
    DateTime,
    Engine,
    Integer,
    MetaData,
    any_,
    bindparam,
    create_engine,
    event,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores UTC; always hands back timezone-aware datetimes, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class IdsIn(ColumnElement[bool]):
    """`column IN (ids)` for a long list of integer ids: see `ids_in`."""

    type = Boolean()
    _is_implicitly_boolean = True  # a comparison already: no "= 1" where booleans are ints
    # Not in SQLAlchemy's statement cache: the bind parameter is made at compile time (its type
    # differs by dialect), so a cached statement would keep the first list's ids. Statements
    # with it are compiled each time, which costs far less than the thousand-parameter IN.
    inherit_cache = False

    def __init__(self, column: Any, ids: list[int]):
        self.column = column
        self.ids = ids

    @property
    def _from_objects(self) -> list[Any]:
        return list(self.column._from_objects)  # its table goes into FROM, as with IN


@compiles(IdsIn)
def _ids_in_default(element: IdsIn, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column.in_(element.ids), **kw))


@compiles(IdsIn, "postgresql")
def _ids_in_postgresql(element: IdsIn, compiler: Any, **kw: Any) -> str:
    ids = bindparam(None, element.ids, type_=ARRAY(Integer))
    return str(compiler.process(element.column == any_(ids), **kw))


def ids_in(column: Any, ids: Iterable[int]) -> IdsIn:
    """`column IN (ids)`; on PostgreSQL `column = ANY(%(ids)s)`, one array parameter.

    A bulk send filters by a thousand ids at a time; rendered as IN, that is a thousand
    parameters to expand, send and parse per statement, which cost more than the query.
    """
    return IdsIn(column, [int(i) for i in ids])


class Base(DeclarativeBase):
    """Declarative base of every Masthead model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# A simulated clock (seed-demo replays a past year through the real services); None: real time.
_simulated_clock: Callable[[], dt.datetime] | None = None


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC (the simulated time while one is set)."""
    if _simulated_clock is not None:
        return _simulated_clock()
    return dt.datetime.now(dt.UTC)


def real_utcnow() -> dt.datetime:
    """The wall-clock time, even while a simulated clock is set (leases shared with servers)."""
    return dt.datetime.now(dt.UTC)


@contextmanager
def simulated_clock(clock: Callable[[], dt.datetime]) -> Iterator[None]:
    """Within this block `utcnow()` answers `clock()`: for one process that replays the past."""
    global _simulated_clock
    previous, _simulated_clock = _simulated_clock, clock
    try:
        yield
    finally:
        _simulated_clock = previous


SQLITE_IMMEDIATE = "masthead_sqlite_immediate"


def lock_row(session: Session, model: type[T], ident: Any, *, skip_locked: bool = False) -> T | None:
    """Load a row afresh, locked until the unit of work ends: racing writers take turns.

    PostgreSQL locks the row (SELECT ... FOR UPDATE; a waiter reads the winner's commit).
    SQLite has one lock for the whole file: a transaction that read before it writes fails at
    once ("database is locked") when another wrote meanwhile, so there the unit of work must
    begin with this call, which opens it with BEGIN IMMEDIATE (it waits its turn instead).
    `skip_locked`: on PostgreSQL, None at once when another transaction holds the row (SKIP
    LOCKED), for workers sharing a batch; SQLite waits its turn as always.
    """
    if not session.in_transaction():
        session.connection(execution_options={SQLITE_IMMEDIATE: True})
    query = select(model).where(model.id == ident)  # type: ignore[attr-defined]
    locked = query.with_for_update(skip_locked=skip_locked)
    return session.scalars(locked.execution_options(populate_existing=True)).first()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with SQLite made to honour SAVEPOINTs and foreign keys."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)

        # pysqlite's own transaction handling breaks SAVEPOINT; take it over (SQLAlchemy docs).
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        # Every transaction takes the write lock at BEGIN: the embedded default has the scheduler's
        # thread writing beside requests, and a deferred transaction that read before another
        # one committed cannot write after it (SQLITE_BUSY at once, no waiting); an IMMEDIATE one
        # waits its turn (the 30 s timeout). Readers of the WAL are not blocked by it.
        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Always IMMEDIATE on SQLite, so an explicit SQLITE_IMMEDIATE request is honoured too.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # Pre-ping: a connection the server dropped (a restart) is replaced before use, so the pool
    # recovers by itself; the connect timeout turns an unreachable host into a quick 503.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, **kwargs)


REPORTS_FACTORY = "masthead_reports_sessions"


def make_read_only_engine(url: str) -> Engine:
    """An engine whose every transaction is read-only: for reports on a replica.

    PostgreSQL: each connection's transactions are READ ONLY (a hot standby is read-only anyway;
    a primary's URL given here by mistake still takes no write through it). SQLite:
    `PRAGMA query_only`.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _query_only(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA query_only=ON")

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")  # deferred: a reader takes no write lock

        return engine
    engine = make_engine(url)

    # Per connection, not in connect_args' `options`: that would replace options the URL gives.
    @event.listens_for(engine, "connect")
    def _read_only(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        cursor.close()
        dbapi_connection.commit()

    return engine


class Database:
    """The engine and a session per application context (one unit of work per request)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.session_factory: sessionmaker[Session] | None = None
        self._after_commit: list[Callable[[], None]] = []

    def init_app(self, app: Flask) -> None:
        """Create the engine for the app's DATABASE_URL."""
        url = app.config["MASTHEAD"].database_url
        if url.startswith("sqlite:///"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(url)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        app.extensions["masthead_db"] = self
        reports_url = app.config["MASTHEAD"].reports_database_url
        if reports_url:
            # Per app, not on this shared object: another app in the process may have none.
            factory = sessionmaker(make_read_only_engine(reports_url), expire_on_commit=False)
            app.extensions[REPORTS_FACTORY] = factory
        app.teardown_appcontext(self._close_session)

    def bind_to(self, factory: sessionmaker[Session]) -> None:
        """Use another session factory (tests bind sessions to an outer transaction)."""
        self.session_factory = factory

    @property
    def session(self) -> Session:
        """The session of the current application context."""
        if "db_session" not in g:
            assert self.session_factory is not None, "Database.init_app was not called"
            g.db_session = self.session_factory()
        return g.db_session  # type: ignore[no-any-return]

    def _close_session(self, _exc: BaseException | None) -> None:
        for key in ("db_session", "reports_session"):
            session = g.pop(key, None)
            if session is not None:
                session.close()


def get_db() -> Database:
    """The app's Database."""
    return current_app.extensions["masthead_db"]  # type: ignore[no-any-return]


db = Database()


def session() -> Session:
    """Shortcut for the current request's session."""
    return db.session


def reports_session() -> Session:
    """The session the reports read through: REPORTS_DATABASE_URL's when set, else the request's.

    The request's own writes so far (an API token's `last_used_at`) are committed on the
    primary first: they never go to the replica, and a report that reads for a while holds no
    write transaction open on the primary. Replica lag is fine: the rollups the reports read
    are themselves refreshed by the tick, minutes apart.
    """
    commit()
    factory: sessionmaker[Session] | None = current_app.extensions.get(REPORTS_FACTORY)
    if factory is None:
        return db.session
    if "reports_session" not in g:
        g.reports_session = factory()
    return g.reports_session  # type: ignore[no-any-return]


def commit() -> None:
    """Commit the unit of work, then hand queued jobs to the queue (they must see the rows)."""
    from growth import jobs

    db.session.commit()
    jobs.dispatch_pending()


def reserve_ids(session: Session, table: Any, n: int) -> list[int]:
    """n primary keys for rows about to be inserted, so that they need no RETURNING.

    PostgreSQL draws them from the column's sequence; SQLite counts on from the largest id, which
    is safe because its transactions begin IMMEDIATE (one writer at a time).
    """
    if n <= 0:
        return []
    name = table.name
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        drawn = session.scalars(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": name, "n": n},
        ).all()
        return sorted(int(i) for i in drawn)
    from sqlalchemy import func, select

    start = (session.scalar(select(func.max(table.c.id))) or 0) + 1
    return list(range(start, start + n))


def insert_ignoring_conflicts(table: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for the engine's dialect (PostgreSQL or SQLite)."""
    name = db.engine.dialect.name if db.engine is not None else "sqlite"
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()
