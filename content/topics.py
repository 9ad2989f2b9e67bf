"""Topics: the publication's list of subjects, and the ones each post carries."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from content.models import Post, Topic, post_topics
from growth.errors import ValidationFailed
from growth.fields import Rule

MAX_TOPICS_PER_POST = 10
TOPIC_RULE = Rule.of(Topic.name, "topic")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def topic_slug(name: str) -> str:
    """The URL form of a topic name: ascii, lower case, hyphens; '' when nothing is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:80].strip("-")


def clean_topic_names(names: object) -> list[str]:
    """Topic names from a form or the API: text, one line each, at most MAX_TOPICS_PER_POST."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValidationFailed("topics must be a list of names", code="invalid_topics")
    cleaned: dict[str, str] = {}
    for raw in names:
        name = TOPIC_RULE.clean(raw)
        if not name:
            continue
        slug = topic_slug(name)
        if not slug:
            raise ValidationFailed(f"topic {name!r} needs a letter or digit", code="invalid_topics")
        cleaned.setdefault(slug, name)
    if len(cleaned) > MAX_TOPICS_PER_POST:
        raise ValidationFailed(f"a post has at most {MAX_TOPICS_PER_POST} topics", code="invalid_topics")
    return list(cleaned.values())


def get_or_create_topic(session: Session, name: str) -> Topic:
    """The topic of this name (by slug), created when new; two writers adding it make one."""
    slug = topic_slug(name)
    found = session.scalars(select(Topic).where(Topic.slug == slug)).first()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            topic = Topic(slug=slug, name=name)
            session.add(topic)
        return topic
    except IntegrityError:
        # Another request created it between our look and our insert: use theirs.
        return session.scalars(select(Topic).where(Topic.slug == slug)).one()


def set_post_topics(session: Session, post: Post, names: list[str]) -> None:
    """The post carries exactly these topics (names already cleaned)."""
    post.topics = [get_or_create_topic(session, name) for name in names]


def all_topics(session: Session) -> list[Topic]:
    """The publication's topics by name."""
    return list(session.scalars(select(Topic).order_by(Topic.name)))


def topic_by_slug(session: Session, slug: str) -> Topic | None:
    """A topic by its slug, None when there is none (or the slug cannot be one)."""
    if not _SLUG.fullmatch(slug or "") or len(slug) > 80:
        return None
    return session.scalars(select(Topic).where(Topic.slug == slug)).first()


def topic_post_counts(session: Session) -> dict[int, int]:
    """{topic_id: posts carrying it}."""
    rows = session.execute(select(post_topics.c.topic_id, func.count()).group_by(post_topics.c.topic_id))
    return {topic_id: int(n) for topic_id, n in rows}
