"""Models of the content domain: posts, their sends to a segment, and the batches of a send."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, LargeBinary, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from growth.db import Base, UTCDateTime, utcnow
from growth.models import Membership, Newsletter


class PostStatus(enum.StrEnum):
    """Where a post is on its way to readers."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"


class SendState(enum.StrEnum):
    """A send of a post to a segment."""

    SCHEDULED = "scheduled"
    TESTING = "testing"  # a subject test's samples went out; the rest wait for its decision
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class BatchState(enum.StrEnum):
    """One provider request of up to SEND_BATCH_SIZE recipients."""

    QUEUED = "queued"
    IN_FLIGHT = "in_flight"  # committed before the request: a crash leaves it here
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the request may or may not have gone out: never resent by itself


class Post(Base):
    """A post written in Markdown; the sanitised HTML is kept next to its source."""

    __tablename__ = "posts"
    __table_args__ = (Index("ix_posts_status_published_at", "status", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    excerpt: Mapped[str] = mapped_column(Text, default="")
    preview_text: Mapped[str] = mapped_column(String(300), default="")
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    teaser_html: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="value")  # value | pitch
    audience: Mapped[str] = mapped_column(String(40), default="public")  # public|free|paid|tier:<id>
    status: Mapped[str] = mapped_column(String(16), default=PostStatus.DRAFT)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Case-folded title and body text: one LIKE finds words case-insensitively on any database
    # (SQLite's lower() folds ASCII only).
    search_text: Mapped[str] = mapped_column(Text, default="")

    newsletter: Mapped[Newsletter] = relationship()
    topics: Mapped[list[Topic]] = relationship(
        secondary=lambda: post_topics, order_by=lambda: Topic.slug, lazy="selectin"
    )


class Topic(Base):
    """A subject the publication writes about; posts carry any number of them."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


post_topics: Table = Table(
    "post_topics",
    Base.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class PostImage(Base):
    """An uploaded image, re-encoded; its bytes live here or, with S3 configured, under `storage_key`."""

    __tablename__ = "post_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The public name in /images/<token>.<ext>: unguessable, so drafts' images stay private.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"), index=True)
    alt: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    size: Mapped[int]
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    storage_key: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Send(Base):
    """A post sent to a segment; recipients are resolved when it runs, a page at a time."""

    __tablename__ = "sends"
    __table_args__ = (Index("ix_sends_state_scheduled_at", "state", "scheduled_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="RESTRICT"))
    segment: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))  # value | pitch, copied from the post
    state: Mapped[str] = mapped_column(String(16), default=SendState.SCHEDULED)
    scheduled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Keyset cursor of recipient resolution: every subscriber id <= this has its delivery row.
    resolved_through: Mapped[int] = mapped_column(default=0)
    resolved: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    post: Mapped[Post] = relationship()


class SubjectTest(Base):
    """Two to four subject lines for one send: equal random samples first, the rest after.

    The decision is read once, at `decide_at`, and kept in `result`; late events never change it.
    """

    __tablename__ = "subject_tests"

    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id", ondelete="CASCADE"), primary_key=True)
    subjects: Mapped[list[str]] = mapped_column(JSON)
    share: Mapped[float]  # of the audience in all, split equally between the subjects
    metric: Mapped[str] = mapped_column(String(16))  # opens | clicks
    wait_minutes: Mapped[int]
    seed: Mapped[int | None] = mapped_column(default=None)  # of the draw, kept to explain it
    per_variant: Mapped[int | None] = mapped_column(default=None)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decide_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    chosen: Mapped[int | None] = mapped_column(default=None)  # index into subjects: what the rest get
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class RelatedClick(Base):
    """A click on a "more like this" link: from the post it ended, to the post it offered."""

    __tablename__ = "related_clicks"
    __table_args__ = (Index("ix_related_clicks_from_post", "from_post_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    from_post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    to_post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(8))  # web | email
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SendBatch(Base):
    """One provider request: the delivery ids it carries, fixed when the batch is planned."""

    __tablename__ = "send_batches"
    __table_args__ = (
        UniqueConstraint("send_id", "number"),
        Index("ix_send_batches_send_state", "send_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id", ondelete="CASCADE"))
    number: Mapped[int]
    delivery_ids: Mapped[list[int]] = mapped_column(JSON)
    size: Mapped[int]
    state: Mapped[str] = mapped_column(String(16), default=BatchState.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# Sends walk a newsletter's active members in subscriber order, a page at a time.
Index(
    "ix_memberships_newsletter_status_subscriber",
    Membership.newsletter_id,
    Membership.status,
    Membership.subscriber_id,
)


class SendRate(Base):
    """A newsletter's send-rate cap: at most `per_hour` post emails an hour (a new domain warms up)."""

    __tablename__ = "send_rates"

    newsletter_id: Mapped[int] = mapped_column(
        ForeignKey("newsletters.id", ondelete="CASCADE"), primary_key=True
    )
    per_hour: Mapped[int]
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
