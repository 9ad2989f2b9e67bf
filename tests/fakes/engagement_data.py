"""Builders of subscribers, deliveries and events for the engagement tests (no HTTP)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.orm import Session

from growth.models import (
    Delivery,
    DeliveryKind,
    DeliveryState,
    EmailEvent,
    Membership,
    Newsletter,
    Subscriber,
)
from growth.subscribers import default_newsletter, new_referral_code

T0 = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
LINKS = ("https://example.com/story", "https://example.com/other", "http://masthead.test/me/tok")


def make_subscriber(
    session: Session,
    email: str = "reader@example.com",
    *,
    status: str = "active",
    stage: str = "confirmed",
    confirmed_at: dt.datetime = T0,
    newsletters: list[Newsletter] | None = None,
) -> Subscriber:
    """A confirmed subscriber on the default newsletter (or the ones given)."""
    subscriber = Subscriber(
        email=email,
        email_normalized=email.lower(),
        status=status,
        stage=stage,
        referral_code=new_referral_code(),
        created_at=confirmed_at,
        confirmed_at=confirmed_at,
        status_changed_at=confirmed_at,
        stage_changed_at=confirmed_at,
    )
    session.add(subscriber)
    session.flush()
    for newsletter in newsletters or [default_newsletter(session)]:
        subscriber.memberships.append(
            Membership(
                subscriber_id=subscriber.id,
                newsletter_id=newsletter.id,
                status="active",
                created_at=confirmed_at,
            )
        )
    session.flush()
    return subscriber


def make_delivery(
    session: Session,
    subscriber: Subscriber,
    sent_at: dt.datetime,
    *,
    kind: str = DeliveryKind.VALUE,
    newsletter: Newsletter | None = None,
    links: tuple[str, ...] = LINKS,
    state: str = DeliveryState.SENT,
) -> Delivery:
    """A delivery already sent, whose HTML holds `links`."""
    html = "".join(f'<p><a href="{u}">link {i}</a></p>' for i, u in enumerate(links))
    delivery = Delivery(
        subscriber_id=subscriber.id,
        newsletter_id=newsletter.id if newsletter else None,
        kind=kind,
        template="post",
        state=state,
        to_email=subscriber.email,
        subject="Issue",
        message={"text": "\n".join(links), "html": html, "headers": {}},
        provider="sendgrid",
        sent_at=sent_at if state == DeliveryState.SENT else None,
        created_at=sent_at,
    )
    session.add(delivery)
    session.flush()
    return delivery


def make_event(
    session: Session,
    subscriber: Subscriber,
    kind: str,
    at: dt.datetime,
    *,
    delivery: Delivery | None = None,
    **fields: Any,
) -> EmailEvent:
    """A stored event, as if the webhook had brought it."""
    row = EmailEvent(
        event_id=uuid.uuid4().hex,
        type=kind,
        subscriber_id=subscriber.id,
        delivery_id=delivery.id if delivery else None,
        email=subscriber.email,
        at=at,
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def custom_args(delivery: Delivery) -> dict[str, str]:
    """What our mailer sends as SendGrid custom_args (they come back as top-level keys)."""
    return {
        "delivery_id": str(delivery.id),
        "subscriber_id": str(delivery.subscriber_id),
        "kind": delivery.kind,
        "template": delivery.template,
    }
