"""Posts: write, update, publish, find; services take the session first and never commit."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from content import rendering, webhook_events
from content.archive import search_text
from content.models import Post, PostStatus, Topic
from content.topics import clean_topic_names, set_post_topics, topic_slug
from growth import links
from growth.errors import Conflict, NotFound, ValidationFailed
from growth.fields import Rule
from growth.models import DeliveryKind, Newsletter
from growth.subscribers import default_newsletter

KINDS = (DeliveryKind.VALUE.value, DeliveryKind.PITCH.value)
AUDIENCES = ("public", "free", "paid")
_SLUG_OK = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TIER_AUDIENCE = re.compile(r"tier:([0-9]{1,9})")
SLUG_LENGTH = 180  # room for the "-2" of a taken slug within the column
# What a post's text fields accept (the form and the API alike; content.schemas documents them).
RULES = {
    "title": Rule.of(Post.title),
    "slug": Rule("slug", SLUG_LENGTH),
    "excerpt": Rule("excerpt", 5000, multiline=True),
    "preview_text": Rule.of(Post.preview_text),
    "body_markdown": Rule("body_markdown", 1_000_000, multiline=True),
    "newsletter": Rule.of(Newsletter.slug, "newsletter"),
}


def slugify(title: str) -> str:
    """A URL slug from a title: ascii, lower case, hyphens."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:180] or "post"


def parse_audience(value: str) -> tuple[str, int | None]:
    """('public'|'free'|'paid'|'tier', tier id); raise ValidationFailed otherwise."""
    if value in AUDIENCES:
        return value, None
    tier = _TIER_AUDIENCE.fullmatch(value)
    if tier:
        return "tier", int(tier.group(1))
    raise ValidationFailed("audience must be public, free, paid or tier:<id>", code="invalid_audience")


@dataclass
class PostInput:
    """Validated fields of a post; None leaves a field as it is on update."""

    title: str | None = None
    slug: str | None = None
    excerpt: str | None = None
    preview_text: str | None = None
    body_markdown: str | None = None
    kind: str | None = None
    audience: str | None = None
    newsletter: str | None = None  # slug
    status: str | None = None
    published_at: dt.datetime | None = None
    topics: list[str] | None = None  # names: existing topics by slug, new ones created


def _check(session: Session, data: PostInput, post: Post | None) -> PostInput:
    """The input with its text fields cleaned by RULES; ValidationFailed or Conflict otherwise."""
    cleaned: dict[str, Any] = {
        name: rule.clean(getattr(data, name))
        for name, rule in RULES.items()
        if getattr(data, name) is not None
    }
    if data.topics is not None:
        cleaned["topics"] = clean_topic_names(data.topics)
    data = replace(data, **cleaned)
    if data.title is not None and not data.title.strip():
        raise ValidationFailed("title must not be empty", code="invalid_title")
    if data.kind is not None and data.kind not in KINDS:
        raise ValidationFailed("kind must be value or pitch", code="invalid_kind")
    body = data.body_markdown if data.body_markdown is not None else (post.body_markdown if post else None)
    if links.announces_offer(body):  # an email announcing an offer is a pitch, whatever was chosen
        data = replace(data, kind="pitch")
    if data.audience is not None:
        parse_audience(data.audience)
    if data.status is not None and data.status not in set(PostStatus):
        raise ValidationFailed("status must be draft, scheduled or published", code="invalid_status")
    if data.slug is not None:
        if not _SLUG_OK.match(data.slug):
            raise ValidationFailed("slug must be lower-case words joined by hyphens", code="invalid_slug")
        other = session.scalars(select(Post).where(Post.slug == data.slug)).first()
        if other is not None and other is not post:
            raise Conflict(f"slug {data.slug!r} is taken", code="slug_taken")
    return data


def _unique_slug(session: Session, base: str) -> str:
    slug, n = base, 1
    while session.scalars(select(Post.id).where(Post.slug == slug)).first() is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _newsletter(session: Session, slug: str | None) -> Newsletter:
    if not slug:
        return default_newsletter(session)
    found = session.scalars(select(Newsletter).where(Newsletter.slug == slug)).first()
    if found is None:
        raise ValidationFailed(f"Unknown newsletter: {slug}", code="unknown_newsletter")
    return found


def _apply(session: Session, post: Post, data: PostInput, now: dt.datetime) -> None:
    for name in ("title", "excerpt", "preview_text", "kind", "audience"):
        value = getattr(data, name)
        if value is not None:
            setattr(post, name, value.strip() if name == "title" else value)
    if data.newsletter is not None or post.newsletter_id is None:
        post.newsletter_id = _newsletter(session, data.newsletter).id
    if data.body_markdown is not None:
        post.body_markdown = data.body_markdown
        post.body_html = rendering.render_markdown(data.body_markdown)
        post.teaser_html = rendering.render_markdown(rendering.teaser_markdown(data.body_markdown))
    if data.slug is not None:
        post.slug = data.slug
    if data.topics is not None:
        set_post_topics(session, post, data.topics)
    post.search_text = search_text(post.title or "", post.body_html or "")
    if data.published_at is not None:
        post.published_at = data.published_at
    if data.status is not None:
        set_status(post, data.status, now)
    post.updated_at = now


def set_status(post: Post, status: str, now: dt.datetime) -> None:
    """Draft, scheduled (needs a future published_at) or published (now unless set)."""
    if status == PostStatus.SCHEDULED and (post.published_at is None or post.published_at <= now):
        raise ValidationFailed("a scheduled post needs a published_at in the future", code="invalid_schedule")
    if status == PostStatus.PUBLISHED and (post.published_at is None or post.published_at > now):
        post.published_at = now
    post.status = status


def create_post(session: Session, data: PostInput, now: dt.datetime, author_id: int | None = None) -> Post:
    """A new post (a draft unless told otherwise); the slug comes from the title when not given."""
    if not data.title:
        raise ValidationFailed("title is required", code="invalid_title")
    data = _check(session, data, None)
    assert data.title is not None
    post = Post(
        title=data.title.strip(),
        slug=data.slug or _unique_slug(session, slugify(data.title)),
        kind=DeliveryKind.VALUE,
        audience="public",
        status=PostStatus.DRAFT,
        author_id=author_id,
        created_at=now,
    )
    _apply(session, post, PostInput(**{**data.__dict__, "slug": None}), now)
    session.add(post)
    session.flush()
    if post.status == PostStatus.PUBLISHED:
        webhook_events.post_published(session, post, now)
    return post


def update_post(session: Session, post: Post, data: PostInput, now: dt.datetime) -> Post:
    """Change a post's fields; its HTML is re-rendered when the Markdown changes."""
    data = _check(session, data, post)
    was = post.status
    _apply(session, post, data, now)
    session.flush()
    if was != PostStatus.PUBLISHED and post.status == PostStatus.PUBLISHED:
        webhook_events.post_published(session, post, now)
    return post


def publish_due(session: Session, now: dt.datetime) -> int:
    """Publish scheduled posts whose time has come; returns how many."""
    due = session.scalars(
        select(Post).where(Post.status == PostStatus.SCHEDULED, Post.published_at <= now)
    ).all()
    for post in due:
        post.status = PostStatus.PUBLISHED
    session.flush()
    for post in due:
        webhook_events.post_published(session, post, now)
    return len(due)


def get_post(session: Session, post_id: int) -> Post:
    """A post by id, or NotFound."""
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound("No such post.", code="post_not_found")
    return post


def published_post(session: Session, slug: str, now: dt.datetime) -> Post:
    """A post readers may see by its slug, or NotFound (drafts and future posts do not exist)."""
    post = session.scalars(select(Post).where(Post.slug == slug)).first()
    if post is None or not is_live(post, now):
        raise NotFound("No such post.", code="post_not_found")
    return post


def is_live(post: Post, now: dt.datetime) -> bool:
    """Published, or scheduled and due (before the scheduler's next run flips it)."""
    if post.published_at is None or post.published_at > now:
        return False
    return post.status in (PostStatus.PUBLISHED, PostStatus.SCHEDULED)


def latest_posts(
    session: Session, now: dt.datetime, limit: int = 20, public_only: bool = False
) -> list[Post]:
    """The newest live posts, newest first."""
    query = select(Post).where(
        Post.status.in_([PostStatus.PUBLISHED, PostStatus.SCHEDULED]),
        Post.published_at.is_not(None),
        Post.published_at <= now,
    )
    if public_only:
        query = query.where(Post.audience == "public")
    return list(session.scalars(query.order_by(Post.published_at.desc(), Post.id.desc()).limit(limit)))


def newsletters(session: Session) -> list[Newsletter]:
    """The newsletters a post may go to (not archived), the default first (created on first use)."""
    from growth.newsletters import active_newsletters

    return active_newsletters(session)


def list_posts(session: Session, limit: int = 200) -> list[Post]:
    """Every post for operators, newest first."""
    return list(session.scalars(select(Post).order_by(Post.id.desc()).limit(limit)))


def post_json(post: Post) -> dict[str, Any]:
    """The API shape of a post."""
    return {
        "id": post.id,
        "title": post.title,
        "slug": post.slug,
        "excerpt": post.excerpt,
        "preview_text": post.preview_text,
        "body_markdown": post.body_markdown,
        "body_html": post.body_html,
        "kind": post.kind,
        "audience": post.audience,
        "newsletter": post.newsletter.slug if post.newsletter else None,
        "status": post.status,
        "topics": [{"slug": t.slug, "name": t.name} for t in sorted(post.topics, key=lambda t: t.slug)],
        "published_at": post.published_at.isoformat() if post.published_at else None,
        "created_at": post.created_at.isoformat(),
        "updated_at": post.updated_at.isoformat(),
    }


def draft_post(session: Session, data: PostInput, base: Post | None, now: dt.datetime) -> Post:
    """A post as the editor's unsaved fields would make it, never added to the session (previews).

    Checked by the same rules as a save; topics are shown by name without being created.
    """
    data = _check(session, replace(data, slug=None), base)
    post = Post(
        id=base.id if base else None,
        title=(data.title or (base.title if base else "")).strip() or "Untitled",
        slug=base.slug if base else "preview",
        excerpt=base.excerpt if base else "",
        preview_text=base.preview_text if base else "",
        kind=base.kind if base else DeliveryKind.VALUE,
        audience=base.audience if base else "public",
        status=base.status if base else PostStatus.DRAFT,
        published_at=(base.published_at if base else None) or now,
        newsletter_id=base.newsletter_id if base else None,
        body_markdown="",
    )
    for name in ("excerpt", "preview_text", "kind", "audience"):
        if getattr(data, name) is not None:
            setattr(post, name, getattr(data, name))
    if data.published_at is not None:
        post.published_at = data.published_at
    post.newsletter = (
        _newsletter(session, data.newsletter)
        if data.newsletter
        else (base.newsletter if base else default_newsletter(session))
    )
    source = data.body_markdown if data.body_markdown is not None else (base.body_markdown if base else "")
    post.body_markdown = source
    post.body_html = rendering.render_markdown(source)
    post.teaser_html = rendering.render_markdown(rendering.teaser_markdown(source))
    names = data.topics if data.topics is not None else [t.name for t in (base.topics if base else [])]
    post.topics = [Topic(slug=topic_slug(n), name=n) for n in names]
    return post
