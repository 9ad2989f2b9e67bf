"""The web archive: live posts a page at a time, by topic, and found by words."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from content import rendering
from content.models import Post, PostStatus, Topic, post_topics

PAGE_SIZE = 20
MAX_QUERY_LENGTH = 200
MAX_WORDS = 10


def search_text(title: str, body_html: str) -> str:
    """What search looks in: title and body text, case-folded (the migration does the same)."""
    return " ".join(f"{title} {rendering.plain_text(body_html)}".split()).casefold()


def search_words(q: str) -> list[str]:
    """The words of a search, case-folded; a post must contain every one."""
    return q[:MAX_QUERY_LENGTH].casefold().split()[:MAX_WORDS]


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass
class ArchivePage:
    """One page of the archive."""

    posts: list[Post]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def archive_page(
    session: Session,
    now: dt.datetime,
    page: int = 1,
    topic: Topic | None = None,
    q: str = "",
    page_size: int = PAGE_SIZE,
) -> ArchivePage:
    """Live posts newest first, `page_size` a page, narrowed to a topic and to posts with every word."""
    query = select(Post).where(
        Post.status.in_([PostStatus.PUBLISHED, PostStatus.SCHEDULED]),
        Post.published_at.is_not(None),
        Post.published_at <= now,
    )
    if topic is not None:
        query = query.where(
            Post.id.in_(select(post_topics.c.post_id).where(post_topics.c.topic_id == topic.id))
        )
    for word in search_words(q):
        query = query.where(Post.search_text.like(_like(word), escape="\\"))
    rows = list(
        session.scalars(
            query.order_by(Post.published_at.desc(), Post.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size + 1)  # one more tells whether there is a next page
        )
    )
    return ArchivePage(rows[:page_size], page, len(rows) > page_size)
