"""Per-subscriber counts of value emails and pitches received (what the ratio is kept from)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from content.metrics import value_to_pitch_ratio
from growth.db import ids_in
from growth.errors import NotFound
from growth.models import Delivery, DeliveryKind, DeliveryState, Subscriber


def value_pitch_counts(
    session: Session, subscriber_ids: Iterable[int] | None = None
) -> dict[int, tuple[int, int]]:
    """{subscriber_id: (value emails sent, pitches sent)} from the delivery rows."""
    query = (
        select(
            Delivery.subscriber_id,
            func.sum(case((Delivery.kind == DeliveryKind.VALUE, 1), else_=0)),
            func.sum(case((Delivery.kind == DeliveryKind.PITCH, 1), else_=0)),
        )
        .where(
            Delivery.state == DeliveryState.SENT,
            Delivery.kind.in_([DeliveryKind.VALUE, DeliveryKind.PITCH]),
        )
        .group_by(Delivery.subscriber_id)
    )
    if subscriber_ids is not None:
        ids = list(subscriber_ids)
        if not ids:
            return {}
        query = query.where(ids_in(Delivery.subscriber_id, ids))
    return {sid: (int(v or 0), int(p or 0)) for sid, v, p in session.execute(query)}


def subscriber_ratio(session: Session, subscriber_id: int) -> dict[str, object]:
    """One subscriber's value, pitch and value-to-pitch ratio."""
    if session.get(Subscriber, subscriber_id) is None:
        raise NotFound("No such subscriber.", code="subscriber_not_found")
    value, pitch = value_pitch_counts(session, [subscriber_id]).get(subscriber_id, (0, 0))
    return {
        "subscriber_id": subscriber_id,
        "value": value,
        "pitch": pitch,
        "ratio": value_to_pitch_ratio(value, pitch),
    }


def most_pitched(session: Session, limit: int = 100) -> list[dict[str, object]]:
    """Subscribers who received pitches, lowest value-to-pitch ratio first (the ones to spare)."""
    counts = value_pitch_counts(session)
    pitched = [(sid, v, p) for sid, (v, p) in counts.items() if p]
    pitched.sort(key=lambda row: (row[1] / row[2], -row[2]))
    top = pitched[:limit]
    emails = dict(
        session.execute(
            select(Subscriber.id, Subscriber.email).where(Subscriber.id.in_([r[0] for r in top]))
        ).all()
    )
    return [
        {
            "subscriber_id": sid,
            "email": emails.get(sid),
            "value": v,
            "pitch": p,
            "ratio": value_to_pitch_ratio(v, p),
        }
        for sid, v, p in top
    ]
