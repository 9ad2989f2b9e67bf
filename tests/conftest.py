"""Shared fixtures: one migrated database per run, each test inside a rolled-back transaction.

SQLite in a temporary file by default; PostgreSQL when TEST_DATABASE_URL is set; Redis (rate
limits, RQ) when REDIS_URL is set.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from growth.app import create_app
from growth.cli import upgrade_database
from growth.config import Config, normalise_database_url
from growth.db import db, make_engine
from tests.fakes.sendgrid import FakeSendGrid

USING_POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))
REDIS_URL = os.environ.get("REDIS_URL") or None


def _reset_database(url: str) -> None:
    if url.startswith("postgresql"):
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade_database(url)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    url = normalise_database_url(url) if url else f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    _reset_database(url)
    return url


class HeldWebhooks:
    """Stands in for the webhook dispatcher: keeps what would go to workers until a test delivers it."""

    def __init__(self) -> None:
        self.groups: list[dict[int, list[int]]] = []

    def __call__(self, _app: Flask, groups: dict[int, list[int]]) -> None:
        self.groups.append({k: list(v) for k, v in groups.items()})

    def take(self) -> list[list[int]]:
        """The held groups of delivery ids (one per endpoint and hand-over), forgotten here."""
        out = [ids for groups in self.groups for ids in groups.values()]
        self.groups.clear()
        return out


def hold_webhooks(app: Flask) -> HeldWebhooks:
    """No thread or job delivers webhooks in this app: tests deliver what is held, in their transaction."""
    held = HeldWebhooks()
    app.extensions["masthead_webhooks"].dispatch = held
    return held


def make_config(database_url: str, instance: Path, **overrides: object) -> Config:
    """A test config: fresh instance folder, Redis only when the environment has it."""
    values: dict[str, object] = dict(
        database_url=database_url,
        instance_path=instance,
        secret_key="test-secret-key",
        base_url="http://masthead.test",
        outbox_dir=instance / "outbox",
        redis_url=REDIS_URL,
        queue_async=False,  # RQ runs each job at once, still through Redis
        signup_rate_limit="1000/minute",
        webhooks_allow_private=True,  # the test endpoints listen on 127.0.0.1
        extra={"ratelimit_prefix": f"test-{uuid.uuid4().hex[:8]}"},
    )
    values.update(overrides)
    if values.get("env") == "production":  # refused there; tests of production reach no endpoint
        values.pop("webhooks_allow_private")
    return Config.from_env({}, **values)


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def app(database_url: str, instance_dir: Path) -> Flask:
    app = create_app(make_config(database_url, instance_dir))
    app.config["TESTING"] = True
    app.config["WTF_CSRF_ENABLED"] = True
    hold_webhooks(app)
    return app


@pytest.fixture
def app_factory(database_url: str, tmp_path: Path, connection):  # type: ignore[no-untyped-def]
    """Build another app (other settings) bound to the same rolled-back transaction."""

    def build(**overrides: object) -> Flask:
        other = create_app(make_config(database_url, tmp_path / uuid.uuid4().hex[:6], **overrides))
        other.config["TESTING"] = True
        hold_webhooks(other)
        db.bind_to(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        )
        return other

    return build


@pytest.fixture
def connection(app: Flask) -> Iterator[object]:
    """An outer transaction every session of the test joins with SAVEPOINTs, rolled back after."""
    engine = db.engine
    assert engine is not None
    conn = engine.connect()
    outer = conn.begin()
    original = db.session_factory
    db.bind_to(sessionmaker(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False))
    try:
        yield conn
    finally:
        db.bind_to(original)  # type: ignore[arg-type]
        outer.rollback()
        conn.close()


@pytest.fixture
def outbox(app: Flask) -> Iterator[Path]:
    directory = Path(app.config["MASTHEAD"].outbox_dir)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    yield directory


@pytest.fixture
def client(app: Flask, connection: object, outbox: Path):  # type: ignore[no-untyped-def]
    from growth.extensions import limiter
    from growth.throttle import login_throttle

    limiter.reset()
    with app.app_context():
        login_throttle().reset()
    return app.test_client()


@pytest.fixture
def session(app: Flask, connection: object) -> Iterator[Session]:
    with app.app_context():
        yield db.session


@pytest.fixture(scope="session")
def sendgrid_fake() -> Iterator[FakeSendGrid]:
    fake = FakeSendGrid().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_sendgrid(sendgrid_fake: FakeSendGrid) -> FakeSendGrid:
    sendgrid_fake.reset()
    return sendgrid_fake


def read_outbox(directory: Path) -> list[email.message.EmailMessage]:
    """Every message in the outbox, oldest first."""
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted(directory.glob("*.eml"))
    ]


def text_of(message: email.message.EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return body.get_content()  # type: ignore[no-any-return]


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now):  # type: ignore[no-untyped-def]
        self.now = now

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now

    def advance(self, **delta: float) -> None:
        import datetime as dt

        self.now += dt.timedelta(**delta)


@pytest.fixture(scope="session")
def receiver_server():  # type: ignore[no-untyped-def]
    from tests.fakes.webhook_receiver import WebhookReceiver

    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def receiver(receiver_server):  # type: ignore[no-untyped-def]
    """A local endpoint that records requests; script its answers with `.script` / `.default`."""
    receiver_server.reset()
    return receiver_server


class Webhooks:
    """The test's handle on webhook delivery: a fake clock, seeded jitter, held hand-overs."""

    def __init__(self, app, session, clock):  # type: ignore[no-untyped-def]
        self.app, self.session, self.clock = app, session, clock
        self.runtime = app.extensions["masthead_webhooks"]

    def deliver(self) -> list[str]:
        """Attempt every delivery handed over since the last call, as a worker would."""
        from growth.outgoing.delivery import attempt

        return [attempt(self.session, i) for ids in self.runtime.dispatch.take() for i in ids]

    def tick(self) -> list[str]:
        """The tick's retry pass at the clock's time, then the attempts it handed over."""
        from growth.outgoing.workers import run_due

        run_due(self.session, self.clock())
        return self.deliver()


@pytest.fixture
def webhooks(app, session):  # type: ignore[no-untyped-def]
    import datetime as dt
    import random

    rt = app.extensions["masthead_webhooks"]
    saved = (rt.clock, rt.rng)
    # a little ahead of the real time the changes are stamped with, so what they emit is due
    clock = FakeClock(dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=5))
    rt.clock, rt.rng = clock, random.Random(7)
    rt.dispatch.take()
    yield Webhooks(app, session, clock)
    rt.clock, rt.rng = saved
    rt.dispatch.take()


@pytest.fixture
def admin_token(session) -> str:  # type: ignore[no-untyped-def]
    """A bearer token of an admin."""
    from growth import auth

    operator = auth.create_operator(session, "hook-admin@example.com", "a long password here", role="admin")
    token = auth.create_token(session, operator)
    session.commit()
    return token


class EmittedEvents:
    """Every webhook event emitted in the test, for an endpoint subscribed to all types."""

    def __init__(self, session):  # type: ignore[no-untyped-def]
        self.session = session

    def of(self, type_name: str) -> list[dict]:
        """The payloads of that type, oldest first, each checked against its documented schema."""
        from jsonschema import Draft202012Validator, FormatChecker
        from sqlalchemy import select

        from growth.outgoing.models import WebhookEvent
        from growth.outgoing.registry import schema_for

        rows = self.session.scalars(
            select(WebhookEvent).where(WebhookEvent.type == type_name).order_by(WebhookEvent.id)
        ).all()
        validator = Draft202012Validator(schema_for(type_name), format_checker=FormatChecker())
        for row in rows:
            validator.validate(row.payload)
        return [row.payload for row in rows]


def watch_all_events(session) -> EmittedEvents:  # type: ignore[no-untyped-def]
    """Register an endpoint that wants every event type (in an app context); read them back."""
    from growth.db import utcnow
    from growth.outgoing import registry, service

    names = [t.name for t in registry.event_types()]
    service.create_endpoint(session, {"url": "http://127.0.0.1:9/all", "events": names}, utcnow())
    session.flush()
    return EmittedEvents(session)


@pytest.fixture
def emitted(session):  # type: ignore[no-untyped-def]
    """An endpoint that wants every event type; read what was emitted with `.of(type)`."""
    return watch_all_events(session)


@pytest.fixture
def own_app(tmp_path: Path) -> Iterator[object]:
    """Build apps on another database (committing for real); the shared `db` is restored after."""
    from growth.extensions import limiter

    saved = (db.engine, db.session_factory)
    # flask-limiter keeps one storage per instance, replaced by every init_app: the shared app's
    # must come back, or later tests count against a Redis these apps stopped.
    saved_limiter = (limiter._storage, limiter._limiter)
    built: list[Flask] = []

    def build(database_url: str | None = None, **overrides: object) -> Flask:
        database_url = database_url or str(overrides.pop("database_url"))
        overrides.setdefault("redis_url", None)
        app = create_app(make_config(database_url, tmp_path / uuid.uuid4().hex[:6], **overrides))
        app.config["TESTING"] = True
        built.append(app)
        return app

    yield build
    if built:
        assert db.engine is not None
        db.engine.dispose()
    db.engine, db.session_factory = saved  # type: ignore[assignment]
    limiter._storage, limiter._limiter = saved_limiter


@pytest.fixture
def private_postgres() -> Iterator[object]:
    """A throwaway PostgreSQL cluster, migrated (PostgreSQL leg only: it runs initdb)."""
    from tests.services import PrivatePostgres, postgres_bin

    if not USING_POSTGRES:
        pytest.skip("starts a private PostgreSQL: PostgreSQL leg only")
    if postgres_bin() is None:
        pytest.skip("no PostgreSQL server binaries installed")
    cluster = PrivatePostgres()
    try:
        cluster.start()
        upgrade_database(cluster.url)
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def private_redis() -> Iterator[object]:
    """A throwaway redis-server on a free port, for tests that stop it."""
    from tests.services import PrivateRedis

    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server installed")
    server = PrivateRedis()
    try:
        server.start()
        yield server
    finally:
        server.destroy()
