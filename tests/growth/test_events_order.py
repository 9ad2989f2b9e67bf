"""Late events: what brings a reader back never undoes a later change; suppressions always apply."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from growth.db import utcnow
from growth.models import Delivery, Subscriber, SubscriberEvent
from tests.fakes.engagement_data import LINKS, custom_args, make_delivery, make_subscriber
from tests.fakes.sendgrid_webhook import WebhookSigner, event


@pytest.fixture
def post(app_factory):  # type: ignore[no-untyped-def]
    signer = WebhookSigner()
    client = app_factory(sendgrid_webhook_public_key=signer.public_key).test_client()

    def send(*events: dict) -> None:
        body, headers = signer.signed(list(events))
        assert client.post("/webhooks/sendgrid", data=body, headers=headers).status_code == 200

    return send


def sunset_reader(session, email: str, days_ago: int) -> Subscriber:  # type: ignore[no-untyped-def]
    """A reader the sunset set inactive `days_ago` days ago, mailed a week before that."""
    now = utcnow()
    sub = make_subscriber(session, email, status="inactive", confirmed_at=now - dt.timedelta(days=300))
    sub.status_changed_at = now - dt.timedelta(days=days_ago)
    make_delivery(session, sub, now - dt.timedelta(days=days_ago + 7))
    session.flush()
    return sub


def status_of(session, sub: Subscriber) -> str:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get(Subscriber, sub.id).status


def ts(days_ago: float) -> int:
    return int((utcnow() - dt.timedelta(days=days_ago)).timestamp())


@pytest.mark.parametrize("kind", ["click", "open"])
def test_an_event_older_than_the_sunset_does_not_bring_the_reader_back(post, session, kind):
    sub = sunset_reader(session, "sleepy@example.com", days_ago=1)
    delivery = session.scalars(select(Delivery)).one()
    post(event(kind, "sleepy@example.com", ts(3), url=LINKS[0], **custom_args(delivery)))
    assert status_of(session, sub) == "inactive"
    post(event(kind, "sleepy@example.com", ts(0.5), url=LINKS[0], **custom_args(delivery)))
    assert status_of(session, sub) == "active"
    reasons = session.scalars(
        select(SubscriberEvent.reason).where(
            SubscriberEvent.subscriber_id == sub.id, SubscriberEvent.field == "status"
        )
    ).all()
    assert reasons == [kind]


def test_a_machine_open_never_brings_a_reader_back(post, session):
    sub = sunset_reader(session, "apple@example.com", days_ago=1)
    post(event("open", "apple@example.com", ts(0.5), sg_machine_open=True))
    assert status_of(session, sub) == "inactive"


@pytest.mark.parametrize(
    ("kind", "extra", "status"),
    [
        ("bounce", {"type": "bounce"}, "bounced"),
        ("spamreport", {}, "complained"),
        ("dropped", {"reason": "Bounced Address"}, "bounced"),
        ("unsubscribe", {}, "unsubscribed"),
    ],
)
def test_suppressions_and_unsubscribes_apply_whatever_their_timestamp(post, session, kind, extra, status):
    sub = make_subscriber(session, "late@example.com", confirmed_at=utcnow() - dt.timedelta(days=1))
    post(event(kind, "late@example.com", ts(3), **extra))  # older than the confirmation
    assert status_of(session, sub) == status
