"""Media in context: a reader's interests, and "more like this" at the end of every post.

A reader has *read* a post when an email of it was opened by them as a person, clicked (scanner
clicks aside) or followed to the web (a signed link's visit); machine opens never count. Their
*interests* are the topics of the posts they clicked or read on the web in the last 90 days
(opens say less about a subject than a click does). "More like this" offers recent posts that
share a topic with the one just read, the most read first, never one the reader has read.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from content.models import Post, PostStatus, RelatedClick, Send, Topic, post_topics
from growth.db import ids_in
from growth.models import Delivery, EmailEvent

INTEREST_WINDOW = dt.timedelta(days=90)
RECENT = dt.timedelta(days=365)  # how far back "more like this" looks
MORE_LIMIT = 3
CANDIDATES = 30  # the newest posts sharing a topic, ranked by readers
CHANNELS = ("web", "email")

_HUMAN_CLICK = (EmailEvent.type == "click") & EmailEvent.is_scanner.is_(False)
_HUMAN_OPEN = (EmailEvent.type == "open") & EmailEvent.is_machine.is_(False)
_WEB = EmailEvent.type == "web_visit"


@dataclass(frozen=True)
class Candidate:
    """A post that might be offered: its topics, when it came out, how many people read it."""

    post_id: int
    topics: frozenset[int]
    published_at: dt.datetime
    readers: int


def choose(
    topics: Iterable[int],
    current_id: int,
    candidates: Iterable[Candidate],
    read: set[int],
    limit: int = MORE_LIMIT,
) -> list[int]:
    """Posts sharing a topic with the current one, not it, not read; most read, then newest first."""
    wanted = set(topics)
    eligible = [
        c for c in candidates if c.post_id != current_id and c.post_id not in read and c.topics & wanted
    ]
    eligible.sort(key=lambda c: (-c.readers, -c.published_at.timestamp(), -c.post_id))
    return [c.post_id for c in eligible[:limit]]


def weigh_interests(topic_hits: Iterable[int]) -> list[tuple[int, int]]:
    """[(topic id, posts read with it)], most first (a topic read about twice outranks once)."""
    return sorted(Counter(topic_hits).items(), key=lambda item: (-item[1], item[0]))


def _reads_query(subscriber_id: int, signals):  # type: ignore[no-untyped-def]
    return (
        select(Send.post_id)
        .select_from(EmailEvent)
        .join(Delivery, Delivery.id == EmailEvent.delivery_id)
        .join(Send, Send.id == Delivery.send_id)
        .where(EmailEvent.subscriber_id == subscriber_id, signals)
        .distinct()
    )


def read_posts(session: Session, subscriber_id: int) -> set[int]:
    """Every post this reader has read (human open, human click or web visit), all time."""
    return set(session.scalars(_reads_query(subscriber_id, or_(_HUMAN_OPEN, _HUMAN_CLICK, _WEB))))


def interests(session: Session, subscriber_id: int, now: dt.datetime) -> list[tuple[str, int]]:
    """[(topic slug, posts read with it)] from clicks and web reads in the last 90 days."""
    recent = _reads_query(subscriber_id, or_(_HUMAN_CLICK, _WEB)).where(
        EmailEvent.at >= now - INTEREST_WINDOW
    )
    post_ids = list(session.scalars(recent))
    if not post_ids:
        return []
    hits = session.scalars(select(post_topics.c.topic_id).where(ids_in(post_topics.c.post_id, post_ids)))
    slugs = dict(session.execute(select(Topic.id, Topic.slug)).all())
    return [(slugs[t], n) for t, n in weigh_interests(hits) if t in slugs]


def interested_subscribers(topic_slug: str, now: dt.datetime):  # type: ignore[no-untyped-def]
    """A subquery of the subscribers with this topic among their interests (for segments)."""
    pairs = interested_subscribers_by_topic(now).where(Topic.slug == topic_slug)
    return pairs.with_only_columns(EmailEvent.subscriber_id)


def interest_counts(session: Session, now: dt.datetime, members, limit: int = 20) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    """[(topic slug, members interested)] for the most followed topics, among `members` (a query)."""
    sub = interested_subscribers_by_topic(now).where(EmailEvent.subscriber_id.in_(members)).subquery()
    rows = session.execute(
        select(sub.c.slug, func.count(func.distinct(sub.c.subscriber_id)))
        .group_by(sub.c.slug)
        .order_by(func.count(func.distinct(sub.c.subscriber_id)).desc(), sub.c.slug)
        .limit(limit)
    ).all()
    return [(slug, int(n)) for slug, n in rows]


def interested_subscribers_by_topic(now: dt.datetime):  # type: ignore[no-untyped-def]
    """(subscriber id, topic slug) for every interest in the window."""
    return (
        select(EmailEvent.subscriber_id, Topic.slug)
        .join(Delivery, Delivery.id == EmailEvent.delivery_id)
        .join(Send, Send.id == Delivery.send_id)
        .join(post_topics, post_topics.c.post_id == Send.post_id)
        .join(Topic, Topic.id == post_topics.c.topic_id)
        .where(EmailEvent.at >= now - INTEREST_WINDOW, or_(_HUMAN_CLICK, _WEB))
    )


def candidates(session: Session, post: Post, now: dt.datetime) -> list[Candidate]:
    """The newest published posts sharing a topic with `post`, with their readers counted."""
    topic_ids = [t.id for t in post.topics]
    if not topic_ids:
        return []
    rows = session.execute(
        select(Post.id, Post.published_at)
        .join(post_topics, post_topics.c.post_id == Post.id)
        .where(
            ids_in(post_topics.c.topic_id, topic_ids),
            Post.id != post.id,
            Post.status == PostStatus.PUBLISHED,
            Post.published_at <= now,
            Post.published_at >= now - RECENT,
        )
        .distinct()
        .order_by(Post.published_at.desc())
        .limit(CANDIDATES)
    ).all()
    ids = [r[0] for r in rows]
    if not ids:
        return []
    readers = dict(
        session.execute(
            select(Send.post_id, func.count(func.distinct(EmailEvent.subscriber_id)))
            .select_from(EmailEvent)
            .join(Delivery, Delivery.id == EmailEvent.delivery_id)
            .join(Send, Send.id == Delivery.send_id)
            .where(ids_in(Send.post_id, ids), or_(_HUMAN_OPEN, _HUMAN_CLICK, _WEB))
            .group_by(Send.post_id)
        ).all()
    )
    topics_of: dict[int, set[int]] = {}
    for pid, tid in session.execute(
        select(post_topics.c.post_id, post_topics.c.topic_id).where(ids_in(post_topics.c.post_id, ids))
    ):
        topics_of.setdefault(pid, set()).add(tid)
    return [
        Candidate(pid, frozenset(topics_of.get(pid, ())), published or now, int(readers.get(pid, 0)))
        for pid, published in rows
    ]


def more_like_this(
    session: Session, post: Post, now: dt.datetime, subscriber_id: int | None = None
) -> list[Post]:
    """Up to three posts to read next; for a known reader, none they have read."""
    read = read_posts(session, subscriber_id) if subscriber_id is not None else set()
    chosen = choose([t.id for t in post.topics], post.id, candidates(session, post, now), read)
    by_id = {p.id: p for p in session.scalars(select(Post).where(ids_in(Post.id, chosen)))} if chosen else {}
    return [by_id[i] for i in chosen if i in by_id]


def record_click(session: Session, from_post_id: int, to_post: Post, channel: str, now: dt.datetime) -> bool:
    """Count a click on a "more like this" link; False (nothing counted) for a forged source."""
    if channel not in CHANNELS or from_post_id == to_post.id or session.get(Post, from_post_id) is None:
        return False
    session.add(RelatedClick(from_post_id=from_post_id, to_post_id=to_post.id, channel=channel, at=now))
    session.flush()
    return True


def click_counts(session: Session, post_id: int) -> dict[str, int]:
    """Clicks on this post's "more like this" block, and clicks that brought readers to it."""
    out = session.execute(
        select(RelatedClick.channel, func.count())
        .where(RelatedClick.from_post_id == post_id)
        .group_by(RelatedClick.channel)
    ).all()
    into = session.scalar(select(func.count()).where(RelatedClick.to_post_id == post_id)) or 0
    counts = {f"from_{channel}": 0 for channel in CHANNELS}
    counts.update({f"from_{channel}": int(n) for channel, n in out})
    counts["into"] = int(into)
    return counts
