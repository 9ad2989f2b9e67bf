"""Outgoing webhooks on the wire: signed, retried with backoff, disabled on 410 or three failing days."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from growth import subscribers
from growth.db import utcnow
from growth.models import Operator
from growth.outgoing import backoff, outbox, service
from growth.outgoing.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.conftest import read_outbox


def endpoint_for(session, url, events=("subscriber.created",)):  # type: ignore[no-untyped-def]
    e = service.create_endpoint(session, {"url": url, "events": list(events)}, utcnow())
    session.commit()
    return e


def signup(session, email="ana@example.com"):  # type: ignore[no-untyped-def]
    result = subscribers.signup(session, subscribers.SignupRequest(email=email), utcnow())
    session.commit()
    return result.subscriber


def test_signed_by_standard_webhooks_and_verifiable(app, session, webhooks, receiver):  # type: ignore[no-untyped-def]
    endpoint = endpoint_for(session, receiver.url)
    sub = signup(session)
    assert webhooks.deliver() == [DeliveryState.DELIVERED]
    [got] = receiver.received
    headers = {k.lower(): v for k, v in got.headers.items()}
    payload = Webhook(endpoint.secret).verify(got.body, headers)
    assert payload["type"] == "subscriber.created"
    assert payload["data"]["subscriber"] == {
        **payload["data"]["subscriber"],
        "id": sub.id,
        "email": sub.email,
    }
    assert headers["webhook-id"].startswith("msg_")
    assert headers["content-type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        Webhook(service.signing.new_secret()).verify(got.body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(got.body.replace(b"ana", b"eve"), headers)


def test_rotation_signs_with_both_secrets_for_24_hours(app, session, webhooks, receiver):  # type: ignore[no-untyped-def]
    endpoint = endpoint_for(session, receiver.url)
    old = endpoint.secret
    new = service.rotate_secret(session, endpoint, utcnow())
    session.commit()
    signup(session)
    webhooks.deliver()
    got = receiver.received[-1]
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(got.body, headers)
    Webhook(new).verify(got.body, headers)
    # a day later only the new secret signs
    endpoint.previous_secret_expires_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    signup(session, "bo@example.com")
    webhooks.deliver()
    headers = {k.lower(): v for k, v in receiver.received[-1].headers.items()}
    assert len(headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(receiver.received[-1].body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(receiver.received[-1].body, headers)


def test_fails_then_succeeds_with_backoff_and_the_same_id(app, session, webhooks, receiver):  # type: ignore[no-untyped-def]
    endpoint_for(session, receiver.url)
    receiver.script = [500, 503, 429]
    signup(session)
    start = webhooks.clock()
    assert webhooks.deliver() == [DeliveryState.PENDING]
    delivery = session.scalars(select(WebhookDelivery)).one()
    first_wait = delivery.next_attempt_at - start
    assert dt.timedelta(seconds=22.5) <= first_wait <= dt.timedelta(seconds=37.5)
    assert webhooks.tick() == []  # not due yet
    waits = [first_wait]
    for _ in range(3):
        webhooks.clock.now = delivery.next_attempt_at
        at = webhooks.clock()
        webhooks.tick()
        session.refresh(delivery)
        if delivery.state == DeliveryState.PENDING:
            waits.append(delivery.next_attempt_at - at)
    assert delivery.state == DeliveryState.DELIVERED
    assert [w.total_seconds() > 0 for w in waits] == [True, True, True]
    assert waits[1] > waits[0] and waits[2] > waits[1]  # doubling outgrows the ±25% jitter
    ids = {r.header("webhook-id") for r in receiver.received}
    assert len(receiver.received) == 4 and len(ids) == 1
    attempts = session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
    assert [a.status_code for a in attempts] == [500, 503, 429, 200]
    assert all(a.duration_ms >= 0 for a in attempts) and '"ok"' in attempts[-1].response_excerpt


def test_gives_up_after_three_days_and_disables_telling_admins(app, session, webhooks, receiver, outbox):  # type: ignore[no-untyped-def]
    session.add(Operator(email="boss@example.com", password_hash="x", role="admin"))
    session.add(Operator(email="writer@example.com", password_hash="x", role="creator"))
    endpoint = endpoint_for(session, receiver.url)
    receiver.default = 502
    signup(session)
    webhooks.deliver()
    delivery = session.scalars(select(WebhookDelivery)).one()
    attempts = 1
    while delivery.state == DeliveryState.PENDING and attempts < 100:
        webhooks.clock.now = delivery.next_attempt_at
        webhooks.tick()
        session.refresh(delivery)
        attempts += 1
    session.refresh(endpoint)
    assert delivery.state == DeliveryState.FAILED  # its last try was at the end of the three days
    assert 15 <= attempts <= 25  # 30 s doubling to 8 h: about twenty tries in three days
    assert endpoint.active is False and endpoint.disabled_reason == "failing for three days"
    mails = [m for m in read_outbox(outbox) if "webhook endpoint disabled" in m["Subject"]]
    assert [m["To"] for m in mails] == ["boss@example.com"]
    assert receiver.url in mails[0].get_content()


def test_410_disables_the_endpoint(app, session, webhooks, receiver):  # type: ignore[no-untyped-def]
    endpoint = endpoint_for(session, receiver.url)
    receiver.script = [410]
    signup(session, "a@example.com")
    signup(session, "b@example.com")
    assert webhooks.deliver() == [DeliveryState.FAILED, "not_claimed"]  # the second was cancelled
    states = session.scalars(select(WebhookDelivery.state).order_by(WebhookDelivery.id)).all()
    assert states == [DeliveryState.FAILED, DeliveryState.CANCELLED]
    session.refresh(endpoint)
    assert endpoint.active is False and "410" in endpoint.disabled_reason
    assert len(receiver.received) == 1
    signup(session, "c@example.com")
    assert webhooks.deliver() == [] and len(receiver.received) == 1


def test_a_4xx_other_than_429_is_not_retried(app, session, webhooks, receiver):  # type: ignore[no-untyped-def]
    endpoint_for(session, receiver.url)
    receiver.script = [400]
    signup(session)
    assert webhooks.deliver() == [DeliveryState.FAILED]


def test_send_again_uses_the_same_id(app, session, webhooks, receiver):  # type: ignore[no-untyped-def]
    endpoint = endpoint_for(session, receiver.url)
    signup(session)
    webhooks.deliver()
    delivery = session.scalars(select(WebhookDelivery)).one()
    service.resend(session, endpoint, delivery.id, webhooks.clock())
    session.commit()
    assert webhooks.deliver() == [DeliveryState.DELIVERED]
    assert len({r.header("webhook-id") for r in receiver.received}) == 1 and len(receiver.received) == 2


def test_a_rolled_back_change_sends_nothing(app, session, webhooks, receiver):  # type: ignore[no-untyped-def]
    endpoint_for(session, receiver.url)
    subscribers.signup(session, subscribers.SignupRequest(email="gone@example.com"), utcnow())
    session.rollback()
    assert webhooks.deliver() == []
    assert session.scalars(select(WebhookDelivery)).all() == []
    assert webhooks.tick() == [] and receiver.received == []


def test_a_lost_hand_over_is_delivered_by_the_tick(app, session, webhooks, receiver):  # type: ignore[no-untyped-def]
    endpoint_for(session, receiver.url)
    signup(session)
    webhooks.runtime.dispatch.take()  # the process died after the commit, before any worker ran
    assert receiver.received == []
    assert webhooks.tick() == [DeliveryState.DELIVERED]
    assert len(receiver.received) == 1


def test_a_claimed_delivery_is_not_sent_twice(app, session, webhooks, receiver):  # type: ignore[no-untyped-def]
    endpoint_for(session, receiver.url)
    signup(session)
    [ids] = webhooks.runtime.dispatch.take()
    from growth.outgoing.delivery import attempt, claim

    assert claim(session, ids[0], webhooks.clock())  # another worker holds it
    assert attempt(session, ids[0]) == "not_claimed"
    webhooks.clock.advance(seconds=61)  # that worker died: its claim lapses
    assert attempt(session, ids[0]) == DeliveryState.DELIVERED
    assert len(receiver.received) == 1


def test_only_subscribed_active_endpoints_get_an_event(app, session, webhooks, receiver):  # type: ignore[no-untyped-def]
    endpoint_for(session, receiver.url, events=("subscriber.confirmed",))
    off = endpoint_for(session, receiver.url)
    service.update_endpoint(session, off, {"active": False}, utcnow())
    session.commit()
    signup(session)
    assert webhooks.deliver() == [] and session.scalars(select(WebhookDelivery)).all() == []


def test_private_addresses_refused_after_resolution(app_factory, receiver):  # type: ignore[no-untyped-def]
    from growth.db import db

    strict = app_factory(webhooks_allow_private=False)
    rt = strict.extensions["masthead_webhooks"]
    with strict.app_context():
        session = db.session
        endpoint = WebhookEndpoint(
            url="http://hooks.example.com/in",
            events=["subscriber.created"],
            secret=service.signing.new_secret(),
        )
        session.add(endpoint)
        session.commit()
        for address in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "::ffff:127.0.0.1", "fd00::1"):
            rt.resolver = lambda host, port, a=address: [a]
            outbox.emit(session, "subscriber.created", {"subscriber": {}}, utcnow())
            session.commit()
            from growth.outgoing.delivery import attempt

            [ids] = rt.dispatch.take()
            assert attempt(session, ids[0]) == DeliveryState.PENDING
            last = session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id.desc())).first()
            assert last.status_code is None and last.error.startswith("refused:") and address in last.error
        assert receiver.received == []


@pytest.mark.parametrize(
    "address, blocked",
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("172.16.5.5", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("::1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("::ffff:10.0.0.1", True),
        ("::ffff:127.0.0.1", True),
        ("2002:7f00:1::", True),
        ("64:ff9b::a00:1", True),
        ("::", True),
        ("93.184.216.34", False),
        ("2606:4700::1111", False),
        ("::ffff:93.184.216.34", False),
    ],
)
def test_blocked_ranges(address, blocked):  # type: ignore[no-untyped-def]
    from growth.outgoing.transport import is_blocked

    assert is_blocked(address) is blocked


def test_a_slow_endpoint_times_out_within_the_budget(receiver):  # type: ignore[no-untyped-def]
    from growth.outgoing.transport import TransportError, post

    receiver.delay = 3  # it would answer 200, but after the budget
    with pytest.raises(TransportError, match="timed out"):
        post(receiver.url, b"{}", {}, allow_private=True, production=False, timeout=0.5)


def test_retry_delays_grow_with_jitter_and_stop_at_three_days():  # type: ignore[no-untyped-def]
    class Fixed(random.Random):
        def __init__(self, value: float):
            super().__init__()
            self.value = value

        def random(self) -> float:
            return self.value

    mid, low, high = Fixed(0.5), Fixed(0.0), Fixed(0.999999)
    assert backoff.retry_delay(1, mid) == dt.timedelta(seconds=30)
    assert backoff.retry_delay(2, mid) == dt.timedelta(seconds=60)
    assert backoff.retry_delay(5, mid) == dt.timedelta(seconds=480)
    assert backoff.retry_delay(30, mid) == dt.timedelta(hours=8)
    assert backoff.retry_delay(1, low) == dt.timedelta(seconds=22.5)
    assert backoff.retry_delay(1, high) < dt.timedelta(seconds=37.5)
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert backoff.next_attempt(t0, 1, t0, mid) == t0 + dt.timedelta(seconds=30)
    late = t0 + dt.timedelta(days=3) - dt.timedelta(minutes=1)
    assert backoff.next_attempt(t0, 20, late, mid) == t0 + dt.timedelta(days=3)
    assert backoff.next_attempt(t0, 21, t0 + dt.timedelta(days=3), mid) is None


def test_payload_body_is_the_stored_event(app, session, webhooks, receiver):  # type: ignore[no-untyped-def]
    endpoint_for(session, receiver.url)
    signup(session)
    webhooks.deliver()
    body = json.loads(receiver.received[0].body)
    assert set(body) == {"type", "timestamp", "data"}
