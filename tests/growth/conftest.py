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
