"""Fixtures of the content tests: lists of subscribers, posts, creators, a fake tier lookup."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from content import posts
from content.models import Post
from growth import access, auth
from growth.models import (
    Delivery,
    DeliveryKind,
    DeliveryState,
    EmailEvent,
    Membership,
    Newsletter,
    Subscriber,
)
from growth.subscribers import default_newsletter

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def add_subscribers(
    session: Session,
    n: int,
    newsletter: Newsletter | None = None,
    prefix: str | None = None,
    **fields: object,
) -> list[int]:
    """n active subscribers on the newsletter (bulk insert); returns their ids in order."""
    newsletter = newsletter or default_newsletter(session)
    prefix = prefix or uuid.uuid4().hex[:8]
    rows = []
    for i in range(n):
        email = f"{prefix}-{i}@example.com"
        rows.append(
            {
                "email": email,
                "email_normalized": email,
                "name": fields.get("name", f"Reader {i}"),
                "status": fields.get("status", "active"),
                "stage": fields.get("stage", "confirmed"),
                "source": fields.get("source"),
                "paused_until": fields.get("paused_until"),
                "referral_code": f"{prefix}{i:06d}",
                "created_at": NOW - dt.timedelta(days=60),
                "confirmed_at": NOW - dt.timedelta(days=60),
            }
        )
    session.execute(insert(Subscriber), rows)
    ids = list(
        session.scalars(
            select(Subscriber.id).where(Subscriber.email.like(f"{prefix}-%")).order_by(Subscriber.id)
        )
    )
    session.execute(
        insert(Membership),
        [
            {
                "subscriber_id": sid,
                "newsletter_id": newsletter.id,
                "status": "active",
                "created_at": NOW,
            }
            for sid in ids
        ],
    )
    session.flush()
    return ids


def engage(session: Session, subscriber_id: int, value_emails: int, at: dt.datetime = NOW) -> None:
    """Make a subscriber have engaged (human clicks) with `value_emails` value deliveries."""
    for _ in range(value_emails):
        delivery = Delivery(
            subscriber_id=subscriber_id,
            kind=DeliveryKind.VALUE,
            template="post",
            state=DeliveryState.SENT,
            to_email="x@example.com",
            sent_at=at - dt.timedelta(days=20),
            created_at=at - dt.timedelta(days=20),
        )
        session.add(delivery)
        session.flush()
        session.add(
            EmailEvent(
                event_id=f"t-{uuid.uuid4().hex}",
                type="click",
                subscriber_id=subscriber_id,
                delivery_id=delivery.id,
                at=at - dt.timedelta(days=19),
                is_scanner=False,
                is_machine=False,
            )
        )
    session.flush()


def pitched(session: Session, subscriber_id: int, at: dt.datetime) -> None:
    """A pitch that reached the subscriber at `at`."""
    session.add(
        Delivery(
            subscriber_id=subscriber_id,
            kind=DeliveryKind.PITCH,
            template="post",
            state=DeliveryState.SENT,
            to_email="x@example.com",
            sent_at=at,
            created_at=at,
        )
    )
    session.flush()


def make_post(session: Session, title: str = "Hello readers", **fields: object) -> Post:
    """A published post (published a day before NOW unless told)."""
    data = posts.PostInput(
        title=title,
        body_markdown=str(
            fields.pop("body_markdown", "First paragraph.\n\nSecond one.\n\nThe rest, **bold**.")
        ),
        status=str(fields.pop("status", "published")),
        published_at=fields.pop("published_at", NOW - dt.timedelta(days=1)),  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )
    return posts.create_post(session, data, NOW)


@pytest.fixture
def tiers() -> Iterator[dict[int, int]]:
    """A fake billing tier lookup: fill the dict {subscriber_id: tier_id}; restored after."""
    mapping: dict[int, int] = {}
    previous = access._tier_lookup

    def lookup(_session, ids):  # type: ignore[no-untyped-def]
        wanted = None if ids is None else set(ids)
        return {sid: t for sid, t in mapping.items() if wanted is None or sid in wanted}

    access.register_tier_lookup(lookup)
    yield mapping
    access.register_tier_lookup(previous)  # type: ignore[arg-type]


@pytest.fixture
def creator_token(session: Session) -> str:
    operator = auth.create_operator(
        session, f"creator-{uuid.uuid4().hex[:6]}@example.com", "a-long-password", "creator"
    )
    token = auth.create_token(session, operator)
    session.commit()
    return token


@pytest.fixture
def admin_token(session: Session) -> str:
    operator = auth.create_operator(
        session, f"admin-{uuid.uuid4().hex[:6]}@example.com", "a-long-password", "admin"
    )
    token = auth.create_token(session, operator)
    session.commit()
    return token


@pytest.fixture
def sg_app(app_factory, fake_sendgrid):  # type: ignore[no-untyped-def]
    """An app sending through the local SendGrid fake, retries without waiting."""
    return app_factory(
        mail_backend="sendgrid",
        sendgrid_api_key="SG.test",
        sendgrid_api_host=fake_sendgrid.url,
        extra={"send_retry_delays": "0,0,0", "ratelimit": "off"},
    )


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no csrf token in page"
    return found.group(1)
