"""Core models: newsletters, subscribers, their memberships, events, consent, deliveries, operators."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from growth.db import Base, UTCDateTime, utcnow


class Status(enum.StrEnum):
    """May we email them? Only ACTIVE receives list mail."""

    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    INACTIVE = "inactive"
    ERASED = "erased"


SUPPRESSED_STATUSES = frozenset({Status.BOUNCED, Status.COMPLAINED})


class Stage(enum.StrEnum):
    """Where a subscriber is in the funnel."""

    SIGNED_UP = "signed_up"
    CONFIRMED = "confirmed"
    ENGAGED = "engaged"
    NURTURED = "nurtured"
    PRESUMED = "presumed"  # presumed nurtured: Apple Mail hides their opens (growth.stages)
    PAYING = "paying"
    LAPSED = "lapsed"
    CHURNED = "churned"


class MembershipStatus(enum.StrEnum):
    """A subscriber's standing on one newsletter."""

    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"


class DeliveryKind(enum.StrEnum):
    """What a delivery is, for counting value emails against pitches."""

    TRANSACTIONAL = "transactional"
    VALUE = "value"
    PITCH = "pitch"


class DeliveryState(enum.StrEnum):
    """Where a delivery is on its way out."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


def _str_enum(e: type[enum.StrEnum]) -> String:
    return String(max(len(m.value) for m in e) + 4)


class Newsletter(Base):
    """A list a subscriber can join; a publication has one default newsletter."""

    __tablename__ = "newsletters"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    is_default: Mapped[bool] = mapped_column(default=False)
    sender_name: Mapped[str | None] = mapped_column(String(200))
    reply_to: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Archived: offered to nobody (signup, embed, reader's page, the post form); members and history stay.
    archived_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PublicationSettings(Base):
    """The publication's branding (one row, id 1): seeded from PUBLICATION_* once, edited in the admin."""

    __tablename__ = "publication_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    logo_url: Mapped[str] = mapped_column(String(2000), default="")
    brand_color: Mapped[str] = mapped_column(String(7))
    postal_address: Mapped[str] = mapped_column(String(500), default="")
    default_sender: Mapped[str] = mapped_column(String(320))
    timezone: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


SETUP_PENDING = "setup_pending IS NOT NULL"


class Subscriber(Base):
    """A reader; `status` says whether we may email them, `stage` where they are in the funnel."""

    __tablename__ = "subscribers"
    __table_args__ = (
        Index("ix_subscribers_status_stage", "status", "stage"),
        Index("ix_subscribers_created_at", "created_at"),
        # The tick's sweep of signups whose finishing job was lost: a nearly empty index.
        Index(
            "ix_subscribers_setup_pending",
            "created_at",
            postgresql_where=text(SETUP_PENDING),
            sqlite_where=text(SETUP_PENDING),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    # Normalised (email-validator, then lower-cased): the identity two signups collide on.
    email_normalized: Mapped[str | None] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(_str_enum(Status), default=Status.PENDING)
    stage: Mapped[str] = mapped_column(_str_enum(Stage), default=Stage.SIGNED_UP)
    referral_code: Mapped[str] = mapped_column(String(32), unique=True)
    referrer_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str | None] = mapped_column(String(100))
    utm_source: Mapped[str | None] = mapped_column(String(200))
    utm_medium: Mapped[str | None] = mapped_column(String(200))
    utm_campaign: Mapped[str | None] = mapped_column(String(200))
    referrer_url: Mapped[str | None] = mapped_column(String(2000))
    landing_url: Mapped[str | None] = mapped_column(String(2000))
    signup_ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    confirmation_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paused_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    stage_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A signup answered after its INSERT keeps here what its finishing job needs (consent text,
    # newsletters, referral ask, partner, custom fields); None once finished (growth.signup_setup).
    # None is SQL NULL, not JSON null: the sweep and its partial index look for IS NOT NULL.
    setup_pending: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Subscriber {self.id} {self.status}/{self.stage}>"


class Membership(Base):
    """A subscriber on one newsletter."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("subscriber_id", "newsletter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(_str_enum(MembershipStatus), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    subscriber: Mapped[Subscriber] = relationship(back_populates="memberships")
    newsletter: Mapped[Newsletter] = relationship()


class SubscriberEvent(Base):
    """One change of a subscriber's status or stage: the history reports are built from."""

    __tablename__ = "subscriber_events"
    __table_args__ = (Index("ix_subscriber_events_subscriber_at", "subscriber_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(16))  # "status" or "stage"
    from_value: Mapped[str | None] = mapped_column(String(32))
    to_value: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str | None] = mapped_column(String(200))


class Consent(Base):
    """Proof of opt-in: who agreed, when, from where, through which form."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))  # signup, confirm, resubscribe
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    form: Mapped[str | None] = mapped_column(String(100))
    newsletter_ids: Mapped[list[int]] = mapped_column(JSON, default=list)


TRANSACTIONAL_QUEUED = "kind = 'transactional' AND state = 'queued'"


class Delivery(Base):
    """One message to one subscriber; (send, subscriber) is unique so a retry cannot double it."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("send_id", "subscriber_id"),
        Index("ix_deliveries_subscriber_kind", "subscriber_id", "kind"),
        # The tick's retry of queued transactional mail (growth.redelivery): a nearly empty index.
        Index(
            "ix_deliveries_transactional_queued",
            "created_at",
            postgresql_where=text(TRANSACTIONAL_QUEUED),
            sqlite_where=text(TRANSACTIONAL_QUEUED),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    newsletter_id: Mapped[int | None] = mapped_column(ForeignKey("newsletters.id", ondelete="SET NULL"))
    # A bulk send of a post (content domain); NULL for one-off messages.
    send_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(_str_enum(DeliveryKind))
    template: Mapped[str] = mapped_column(String(64))  # confirmation, welcome, post, ...
    state: Mapped[str] = mapped_column(_str_enum(DeliveryState), default=DeliveryState.QUEUED)
    to_email: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500), default="")
    message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Operator(Base):
    """Someone who runs the publication: an admin or a creator."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="admin")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A bearer token for the operator API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    operator: Mapped[Operator] = relationship()


class OperatorSession(Base):
    """A login on one browser; the cookie carries its secret, only the secret's SHA-256 is stored.

    Logging out deletes the row, so a copy of the cookie taken before stops working; a password
    change or "sign out everywhere" deletes all of the operator's rows.
    """

    __tablename__ = "operator_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    operator: Mapped[Operator] = relationship()


class EmailEventType(enum.StrEnum):
    """SendGrid Event Webhook types we store."""

    PROCESSED = "processed"
    DELIVERED = "delivered"
    DEFERRED = "deferred"
    OPEN = "open"
    CLICK = "click"
    BOUNCE = "bounce"
    DROPPED = "dropped"
    SPAMREPORT = "spamreport"
    UNSUBSCRIBE = "unsubscribe"
    GROUP_UNSUBSCRIBE = "group_unsubscribe"
    GROUP_RESUBSCRIBE = "group_resubscribe"
    WEB_VISIT = "web_visit"  # a visit through one of the subscriber's signed links
    POLL_ANSWER = "poll_answer"  # a reader's one-click poll answer (never a scanner's: content.polls)


class EmailEvent(Base):
    """One provider event (or web visit), stored once; engagement is computed from these."""

    __tablename__ = "email_events"
    __table_args__ = (
        Index("ix_email_events_subscriber_at", "subscriber_id", "at"),
        Index("ix_email_events_delivery", "delivery_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # SendGrid's sg_event_id (or our own id for web visits): a redelivered batch changes nothing.
    event_id: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    email: Mapped[str | None] = mapped_column(String(320))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    url: Mapped[str | None] = mapped_column(String(2000))
    reason: Mapped[str | None] = mapped_column(Text)
    bounce_type: Mapped[str | None] = mapped_column(String(32))
    # Apple Mail Privacy Protection opens, security-scanner clicks: kept, never engagement.
    is_machine: Mapped[bool] = mapped_column(default=False)
    is_scanner: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SunsetNotice(Base):
    """The one re-engagement email of a silent spell (unique per spell: a rerun sends no second)."""

    __tablename__ = "sunset_notices"
    __table_args__ = (UniqueConstraint("subscriber_id", "disengaged_since"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    # When the silent spell began (see growth.stages): identifies the spell.
    disengaged_since: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    kept_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    inactivated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)


class ScheduledTask(Base):
    """A piece of scheduled work: when it last ran; the row named `tick` is the tick's lease."""

    __tablename__ = "scheduled_tasks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Who holds the lease and until when; an expired lease is free (its holder was killed).
    lease_holder: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_outcome: Mapped[str | None] = mapped_column(Text)


class ErasedAddress(Base):
    """The SHA-256 of an erased reader's normalised address: never imported or mailed again.

    Only the hash is kept (no address, no link to the anonymous row), so the reader stays
    forgotten while an import, which carries no consent of its own, cannot bring them back.
    """

    __tablename__ = "erased_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)
    erased_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FieldKind(enum.StrEnum):
    """What a custom field holds (growth.custom_fields validates each)."""

    TEXT = "text"
    NUMBER = "number"
    CHOICE = "choice"
    DATE = "date"


class CustomField(Base):
    """A field the operator defines about readers (role, company size, birthday...)."""

    __tablename__ = "custom_fields"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The name segments, CSV columns and the API use: [a-z][a-z0-9_]*, never renamed.
    name: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    on_signup: Mapped[bool] = mapped_column(default=False)  # asked on the signup form (and API)
    reader_editable: Mapped[bool] = mapped_column(default=False)  # shown on the reader's page
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class FieldValue(Base):
    """One reader's value of one field; (subscriber, field) is unique, so a retry replaces it."""

    __tablename__ = "field_values"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "field_id"),
        Index("ix_field_values_field_value", "field_id", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    field_id: Mapped[int] = mapped_column(ForeignKey("custom_fields.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(String(500))  # canonical text of the kind's value
    source: Mapped[str] = mapped_column(String(16))  # signup | api | import | reader | poll | admin
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
