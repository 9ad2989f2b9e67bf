"""Engagement read from email events: what counts as a reader, per subscriber.

A human engagement is a click that is not a security scanner's, an open that is not a machine
open, or a web visit through the subscriber's signed links.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from growth.models import Delivery, DeliveryKind, EmailEvent, EmailEventType

HUMAN_ENGAGEMENT = or_(
    and_(EmailEvent.type == EmailEventType.CLICK, EmailEvent.is_scanner.is_(False)),
    and_(EmailEvent.type == EmailEventType.OPEN, EmailEvent.is_machine.is_(False)),
    EmailEvent.type == EmailEventType.WEB_VISIT,
)


def engaged_value_counts(session: Session, subscriber_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Per subscriber: how many value emails they engaged with (received is not read)."""
    query = (
        select(Delivery.subscriber_id, func.count(func.distinct(Delivery.id)))
        .join(EmailEvent, EmailEvent.delivery_id == Delivery.id)
        .where(Delivery.kind == DeliveryKind.VALUE, HUMAN_ENGAGEMENT)
        .group_by(Delivery.subscriber_id)
    )
    if subscriber_ids is not None:
        ids = list(subscriber_ids)
        if not ids:
            return {}
        query = query.where(Delivery.subscriber_id.in_(ids))
    return {sid: n for sid, n in session.execute(query)}


def record_web_visit(
    session: Session, subscriber_id: int, url: str, now: dt.datetime, delivery_id: int | None = None
) -> EmailEvent:
    """A visit through one of the subscriber's signed links: human engagement."""
    import uuid

    event = EmailEvent(
        event_id=f"web-{uuid.uuid4().hex}",
        type=EmailEventType.WEB_VISIT,
        subscriber_id=subscriber_id,
        delivery_id=delivery_id,
        at=now,
        url=url[:2000],
    )
    session.add(event)
    session.flush()
    return event
