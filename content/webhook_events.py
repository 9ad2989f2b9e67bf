"""The content domain's outgoing webhook events: post.published and send.finished."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from content.models import Post, Send
from growth.models import Delivery, DeliveryState
from growth.outgoing.outbox import emit
from growth.outgoing.payloads import DATE_TIME, NULLABLE_DATE_TIME, iso
from growth.outgoing.registry import register_event_type

POST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "title", "slug", "url", "kind", "audience", "newsletter", "published_at"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "slug": {"type": "string"},
        "url": {"type": "string", "description": "the post on the web archive"},
        "kind": {"enum": ["value", "pitch"]},
        "audience": {"type": "string"},
        "newsletter": {"type": ["string", "null"]},
        "published_at": DATE_TIME,
    },
}
COUNTS = {"type": "integer", "minimum": 0}
SEND_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "post_id", "segment", "kind", "started_at", "finished_at", "deliveries"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "post_id": {"type": "integer"},
        "segment": {"type": "string"},
        "kind": {"enum": ["value", "pitch"]},
        "started_at": NULLABLE_DATE_TIME,
        "finished_at": DATE_TIME,
        "deliveries": {
            "type": "object",
            "description": "recipients by delivery state",
            "additionalProperties": COUNTS,
            "properties": {str(s): COUNTS for s in DeliveryState},
        },
    },
}


def register() -> None:
    """Register the content event types (posts and sending emit them)."""
    register_event_type(
        "post.published",
        "A post went live on the web archive.",
        {
            "type": "object",
            "required": ["post"],
            "additionalProperties": False,
            "properties": {"post": POST_SCHEMA},
        },
    )
    register_event_type(
        "send.finished",
        "A newsletter send finished: every recipient has an outcome.",
        {
            "type": "object",
            "required": ["send"],
            "additionalProperties": False,
            "properties": {"send": SEND_SCHEMA},
        },
    )


def post_published(session: Session, post: Post, now: dt.datetime) -> None:
    """Emit post.published for a post that has just become published."""
    base_url = current_app.config["MASTHEAD"].base_url
    data = {
        "post": {
            "id": post.id,
            "title": post.title,
            "slug": post.slug,
            "url": f"{base_url}/p/{post.slug}",
            "kind": post.kind,
            "audience": post.audience,
            "newsletter": post.newsletter.slug if post.newsletter else None,
            "published_at": iso(post.published_at or now),
        }
    }
    emit(session, "post.published", data, now)


def send_finished(session: Session, send: Send, now: dt.datetime) -> None:
    """Emit send.finished with the recipients' outcomes."""
    rows = session.execute(
        select(Delivery.state, func.count()).where(Delivery.send_id == send.id).group_by(Delivery.state)
    )
    counts = {state: n for state, n in rows}
    data = {
        "send": {
            "id": send.id,
            "post_id": send.post_id,
            "segment": send.segment,
            "kind": send.kind,
            "started_at": iso(send.started_at),
            "finished_at": iso(send.finished_at or now),
            "deliveries": {str(state): int(n) for state, n in counts.items()},
        }
    }
    emit(session, "send.finished", data, now)
