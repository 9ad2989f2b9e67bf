"""What each post did: its sends' deliveries and events, and what other domains credit it with."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from content import post_metrics
from content.models import Post, Send
from growth import post_figures
from growth.db import ids_in
from growth.models import Delivery, DeliveryState, EmailEvent

DOMAIN_FIGURES = ("referral_visits", "referral_signups")


def _sends(session: Session, post_ids: Sequence[int]) -> list[Send]:
    return list(session.scalars(select(Send).where(ids_in(Send.post_id, list(post_ids))).order_by(Send.id)))


def _sent_by_send(session: Session, send_ids: list[int]) -> dict[int, int]:
    if not send_ids:
        return {}
    rows = session.execute(
        select(Delivery.send_id, func.count())
        .where(ids_in(Delivery.send_id, send_ids), Delivery.state == DeliveryState.SENT)
        .group_by(Delivery.send_id)
    )
    return {int(send_id or 0): int(n) for send_id, n in rows}


def _events_by_send(session: Session, send_ids: list[int]) -> dict[int, list[post_metrics.EventRow]]:
    out: dict[int, list[post_metrics.EventRow]] = defaultdict(list)
    if not send_ids:
        return out
    rows = session.execute(
        select(
            Delivery.send_id,
            EmailEvent.delivery_id,
            EmailEvent.subscriber_id,
            EmailEvent.type,
            EmailEvent.is_machine,
            EmailEvent.is_scanner,
        )
        .join(Delivery, Delivery.id == EmailEvent.delivery_id)
        .where(ids_in(Delivery.send_id, send_ids))
    )
    for send_id, delivery_id, subscriber_id, kind, machine, scanner in rows:
        out[int(send_id or 0)].append(
            post_metrics.EventRow(int(delivery_id or 0), subscriber_id, kind, bool(machine), bool(scanner))
        )
    return out


def _row(post: Post, sends: list[Send], sent: dict[int, int], events: dict[int, list[Any]]) -> dict[str, Any]:
    figures = post_metrics.tally(e for s in sends for e in events.get(s.id, []))
    recipients = sum(sent.get(s.id, 0) for s in sends)
    return {
        "id": post.id,
        "title": post.title,
        "slug": post.slug,
        "kind": post.kind,
        "audience": post.audience,
        "status": post.status,
        "published_at": post.published_at,
        "sends": len(sends),
        "recipients": recipients,
        **figures,
        "open_rate": post_metrics.rate(figures["human_opens"], figures["delivered"] or recipients),
        "click_rate": post_metrics.rate(figures["clicks"], figures["delivered"] or recipients),
    }


def post_rows(session: Session, posts: Sequence[Post]) -> list[dict[str, Any]]:
    """One row per post (never-sent ones included, with zeros): email, web, referral and money figures."""
    ids = [p.id for p in posts]
    sends = _sends(session, ids)
    send_ids = [s.id for s in sends]
    sent, events = _sent_by_send(session, send_ids), _events_by_send(session, send_ids)
    by_post: dict[int, list[Send]] = defaultdict(list)
    for send in sends:
        by_post[send.post_id].append(send)
    others = post_figures.post_figures(session, ids)
    rows = []
    for post in posts:
        row = _row(post, by_post.get(post.id, []), sent, events)
        credited = others.get(post.id, {})
        row.update({name: credited.get(name, 0) for name in DOMAIN_FIGURES})
        billing = {k: credited[k] for k in ("paid_conversions", "revenue", "revenue_note") if k in credited}
        row.update(post_metrics.revenue_columns(billing or None))  # type: ignore[arg-type]
        rows.append(row)
    return rows


def send_rows(session: Session, post: Post) -> list[dict[str, Any]]:
    """The same email figures for each send of one post, oldest first."""
    sends = _sends(session, [post.id])
    send_ids = [s.id for s in sends]
    sent, events = _sent_by_send(session, send_ids), _events_by_send(session, send_ids)
    out = []
    for send in sends:
        row = _row(post, [send], sent, events)
        row.update(
            {
                "send_id": send.id,
                "segment": send.segment,
                "state": send.state,
                "scheduled_at": send.scheduled_at,
            }
        )
        out.append(row)
    return out


def all_posts(session: Session) -> list[Post]:
    """Every post, newest first (drafts included: a report row for each)."""
    return list(session.scalars(select(Post).order_by(Post.id.desc())))


def without_revenue(row: dict[str, Any]) -> dict[str, Any]:
    """A row for creators: the money columns left out."""
    return {k: v for k, v in row.items() if k not in post_metrics.REVENUE_FIELDS}
