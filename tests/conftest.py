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
        extra={"ratelimit_prefix": f"test-{uuid.uuid4().hex[:8]}"},
    )
    values.update(overrides)
    return Config.from_env({}, **values)


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def app(database_url: str, instance_dir: Path) -> Flask:
    app = create_app(make_config(database_url, instance_dir))
    app.config["TESTING"] = True
    app.config["WTF_CSRF_ENABLED"] = True
    return app


@pytest.fixture
def app_factory(database_url: str, tmp_path: Path, connection):  # type: ignore[no-untyped-def]
    """Build another app (other settings) bound to the same rolled-back transaction."""

    def build(**overrides: object) -> Flask:
        other = create_app(make_config(database_url, tmp_path / uuid.uuid4().hex[:6], **overrides))
        other.config["TESTING"] = True
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


@pytest.fixture
def own_app(tmp_path: Path) -> Iterator[object]:
    """Build apps on another database (committing for real); the shared `db` is restored after."""
    saved = (db.engine, db.session_factory)
    built: list[Flask] = []

    def build(database_url: str, **overrides: object) -> Flask:
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
