"""Content's touches for payment attribution (through growth.attribution_touches).

A web read is a `web_visit` event (a visit through the reader's signed link) whose URL is a
post's page; an email click is a click no security scanner made on a delivery of a post's send.
Opens never count: machine opens (Apple MPP) say nothing of a reader, and the rule credits
reading, not loading pixels.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from content.models import Post, Send
from content.report_series import post_slug
from growth.attribution_touches import EMAIL_CLICK, WEB_READ, Touch
from growth.db import ids_in
from growth.models import Delivery, EmailEvent, EmailEventType


def _for(query, column, subscriber_ids: Collection[int] | None):  # type: ignore[no-untyped-def]
    return query if subscriber_ids is None else query.where(ids_in(column, list(subscriber_ids)))


def web_reads(session: Session, subscriber_ids: Collection[int] | None) -> list[Touch]:
    """Visits of a post's page (/p/<slug>) through the reader's signed links."""
    e = EmailEvent
    query = select(e.subscriber_id, e.at, e.url).where(
        e.type == EmailEventType.WEB_VISIT, e.subscriber_id.is_not(None), e.url.is_not(None)
    )
    rows = session.execute(_for(query, e.subscriber_id, subscriber_ids)).all()
    slugs = {slug for _, _, url in rows if (slug := post_slug(url or ""))}
    if not slugs:
        return []
    ids: dict[str, int] = {
        slug: pid for slug, pid in session.execute(select(Post.slug, Post.id).where(Post.slug.in_(slugs)))
    }
    return [
        Touch(int(sid), at, WEB_READ, ids[slug])
        for sid, at, url in rows
        if sid is not None and (slug := post_slug(url or "")) in ids
    ]


def email_clicks(session: Session, subscriber_ids: Collection[int] | None) -> list[Touch]:
    """Clicks (no scanner's) in a post's email: event -> delivery -> the send's post."""
    e = EmailEvent
    query = (
        select(e.subscriber_id, e.at, Send.post_id)
        .join(Delivery, Delivery.id == e.delivery_id)
        .join(Send, Send.id == Delivery.send_id)
        .where(e.type == EmailEventType.CLICK, e.is_scanner.is_(False), e.subscriber_id.is_not(None))
    )
    rows = session.execute(_for(query, e.subscriber_id, subscriber_ids)).all()
    return [Touch(int(sid), at, EMAIL_CLICK, int(post_id)) for sid, at, post_id in rows if sid is not None]


def post_touches(session: Session, subscriber_ids: Collection[int] | None) -> list[Touch]:
    """Web reads and email clicks of posts."""
    return web_reads(session, subscriber_ids) + email_clicks(session, subscriber_ids)


def post_titles(session: Session, post_ids: Sequence[int]) -> dict[int, str]:
    """{post_id: title} of the posts that exist."""
    rows = session.execute(select(Post.id, Post.title).where(ids_in(Post.id, list(post_ids))))
    return {post_id: title for post_id, title in rows}
