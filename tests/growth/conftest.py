"""Fixtures of the growth tests: a signed SendGrid Event Webhook and an app that trusts its key."""

from __future__ import annotations

import pytest

from tests.fakes.sendgrid_webhook import WebhookSigner


@pytest.fixture
def signer() -> WebhookSigner:
    return WebhookSigner()


@pytest.fixture
def hook(app_factory, signer):  # type: ignore[no-untyped-def]
    """A client of an app that trusts the test's public key."""
    return app_factory(sendgrid_webhook_public_key=signer.public_key).test_client()
