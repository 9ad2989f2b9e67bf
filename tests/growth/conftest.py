"""Fixtures of the growth tests: a signed SendGrid Event Webhook, an app that trusts its key, apps
with a database of their own (a closed port: the database down)."""

from __future__ import annotations

import socket

import pytest

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
