"""What each post did: its sends' deliveries and events, and what other domains credit it with."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, select
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


def _flag(condition: Any, column: Any) -> Any:
    return func.count(func.distinct(case((condition, column))))


def _email_figures(session: Session, group: Any, send_ids: list[int]) -> dict[int, dict[str, int]]:
    """post_metrics.tally's figures per `group` (a post's or a send's id), counted in the database.

    One grouped query however many events: a post sent to 100,000 readers never loads its events.
    """
    if not send_ids:
        return {}
    e = EmailEvent
    human_open = (e.type == "open") & e.is_machine.is_(False)
    human_click = (e.type == "click") & e.is_scanner.is_(False)
    columns = {
        "delivered": _flag(e.type == "delivered", e.delivery_id),
        "human_opens": _flag(human_open, e.delivery_id),
        "machine_opens": _flag((e.type == "open") & e.is_machine.is_(True), e.delivery_id),
        "clicks": _flag(human_click, e.delivery_id),
        "scanner_clicks": _flag((e.type == "click") & e.is_scanner.is_(True), e.delivery_id),
        "unsubscribes": _flag(e.type.in_(["unsubscribe", "group_unsubscribe"]), e.subscriber_id),
        "complaints": _flag(e.type == "spamreport", e.subscriber_id),
        "web_reads": _flag(e.type == "web_visit", e.subscriber_id),
        "engaged_readers": _flag(human_open | human_click | (e.type == "web_visit"), e.subscriber_id),
    }
    rows = session.execute(
        select(group, *columns.values())
        .select_from(EmailEvent)
        .join(Delivery, Delivery.id == EmailEvent.delivery_id)
        .join(Send, Send.id == Delivery.send_id)
        .where(ids_in(Send.id, send_ids))
        .group_by(group)
    )
    return {int(row[0]): dict(zip(columns, (int(v) for v in row[1:]), strict=True)) for row in rows}


def _row(
    post: Post, sends: list[Send], sent: dict[int, int], figures: dict[str, int] | None
) -> dict[str, Any]:
    figures = figures or post_metrics.tally([])
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
    sent = _sent_by_send(session, send_ids)
    figures = _email_figures(session, Send.post_id, send_ids)
    by_post: dict[int, list[Send]] = defaultdict(list)
    for send in sends:
        by_post[send.post_id].append(send)
    others = post_figures.post_figures(session, ids)
    rows = []
    for post in posts:
        row = _row(post, by_post.get(post.id, []), sent, figures.get(post.id))
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
    sent = _sent_by_send(session, send_ids)
    figures = _email_figures(session, Send.id, send_ids)
    out = []
    for send in sends:
        row = _row(post, [send], sent, figures.get(send.id))
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


def send_figures(session: Session, send: Send) -> dict[str, Any]:
    """What one send did (its deliveries' events), and the referral visits and signups its post's
    share links brought (those are the post's: a link carries the post, not the send)."""
    sent = _sent_by_send(session, [send.id])
    figures = _email_figures(session, Send.id, [send.id]).get(send.id) or post_metrics.tally([])
    recipients = sent.get(send.id, 0)
    credited = post_figures.post_figures(session, [send.post_id]).get(send.post_id, {})
    return {
        "recipients": recipients,
        **figures,
        "open_rate": post_metrics.rate(figures["human_opens"], figures["delivered"] or recipients),
        "click_rate": post_metrics.rate(figures["clicks"], figures["delivered"] or recipients),
        "shared_sends": len(_sends(session, [send.post_id])),
        **{name: credited.get(name, 0) for name in DOMAIN_FIGURES},
        "referrals_known": post_figures.has_post_figures("referrals"),
    }
