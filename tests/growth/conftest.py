"""Fixtures of the growth tests: a signed SendGrid Event Webhook, an app that trusts its key, apps
with a database of their own (a closed port: the database down)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from growth.app import create_app
from growth.db import db
from tests.conftest import make_config
from tests.fakes.sendgrid_webhook import WebhookSigner


@pytest.fixture
def signer() -> WebhookSigner:
    return WebhookSigner()


@pytest.fixture
def hook(app_factory, signer):  # type: ignore[no-untyped-def]
    """A client of an app that trusts the test's public key."""
    return app_factory(sendgrid_webhook_public_key=signer.public_key).test_client()


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def own_app(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    """Build apps with their own database; the shared engine and sessions come back after."""
    engine, factory = db.engine, db.session_factory

    def build(**overrides: object):  # type: ignore[no-untyped-def]
        app = create_app(make_config(overrides.pop("database_url"), tmp_path / "inst", **overrides))  # type: ignore[arg-type]
        app.config["TESTING"] = True
        return app

    yield build
    db.engine, db.session_factory = engine, factory
