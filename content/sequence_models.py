"""Models of sequences: a newsletter's ordered steps, who is enrolled, and each step's claim."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from growth.db import Base, UTCDateTime, utcnow
from growth.models import Delivery


class EnrolmentState(enum.StrEnum):
    """An enrolment is active (it may still receive steps, added ones too) until it is left."""

    ACTIVE = "active"
    LEFT = "left"


class ClaimState(enum.StrEnum):
    """What became of one (enrolment, step)."""

    SENT = "sent"  # a delivery was queued for it (its state tells the outcome)
    WELCOME = "welcome"  # the welcome email at confirmation was this step
    SKIPPED = "skipped"  # its condition failed, or a pitch waited too long: never sent
    HELD_OUT = "held_out"  # a holdout reader's turn: recorded, never emailed


class Sequence(Base):
    """A series of emails a trigger enrols subscribers into."""

    __tablename__ = "sequences"

    id: Mapped[int] = mapped_column(primary_key=True)
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # confirmed | stage:<stage> | upgraded | cancel_scheduled | churned
    trigger: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    archived_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    repeatable: Mapped[bool] = mapped_column(default=False)
    holdout_percent: Mapped[int] = mapped_column(default=5)
    # How long a pitch step may wait for the reader to have had enough value before it is skipped.
    pitch_wait_days: Mapped[int] = mapped_column(default=14)
    # Set on the one welcome sequence of a newsletter (unique: two racing creations make one).
    welcome_newsletter_id: Mapped[int | None] = mapped_column(
        ForeignKey("newsletters.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    steps: Mapped[list[SequenceStep]] = relationship(
        back_populates="sequence", order_by="SequenceStep.position", cascade="all, delete-orphan"
    )

    @property
    def live_steps(self) -> list[SequenceStep]:
        """The steps in their current order, removed ones left out."""
        return sorted((s for s in self.steps if s.removed_at is None), key=lambda s: (s.position, s.id or 0))


class SequenceStep(Base):
    """One email of a sequence; removed steps stay (their claims and figures refer to them)."""

    __tablename__ = "sequence_steps"
    __table_args__ = (Index("ix_sequence_steps_sequence_position", "sequence_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))
    position: Mapped[int]
    subject: Mapped[str] = mapped_column(String(300))
    preview: Mapped[str] = mapped_column(String(300), default="")
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    delay_minutes: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(16), default="value")  # value | pitch
    # Send window in the publication's time zone: ISO weekdays (1 = Monday) and hours [start, end).
    window_days: Mapped[list[int] | None] = mapped_column(JSON)
    window_start_hour: Mapped[int | None]
    window_end_hour: Mapped[int | None]
    condition: Mapped[str | None] = mapped_column(String(120))  # a segment expression
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    sequence: Mapped[Sequence] = relationship(back_populates="steps")


class Enrolment(Base):
    """A subscriber in a sequence; `next_due_at` (indexed, NULL when nothing waits) drives the tick."""

    __tablename__ = "sequence_enrolments"
    __table_args__ = (
        UniqueConstraint("sequence_id", "subscriber_id", "number"),
        Index("ix_sequence_enrolments_next_due_at", "next_due_at"),
        Index("ix_sequence_enrolments_subscriber_state", "subscriber_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(default=1)  # 2, 3, ... when the sequence may repeat
    state: Mapped[str] = mapped_column(String(16), default=EnrolmentState.ACTIVE)
    holdout: Mapped[bool] = mapped_column(default=False)  # drawn at enrolment, kept for analysis
    trigger: Mapped[str] = mapped_column(String(64))
    enrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The last step received (or skipped): the next step's delay counts from here.
    last_step_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    next_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    waiting_reason: Mapped[str | None] = mapped_column(String(64))
    waiting_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    left_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    left_reason: Mapped[str | None] = mapped_column(String(64))


class StepClaim(Base):
    """(enrolment, step) claimed once, before any email is queued: the unique pair is the guard."""

    __tablename__ = "sequence_step_claims"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "step_id"),
        Index("ix_sequence_step_claims_subscriber_at", "subscriber_id", "at"),
        Index("ix_sequence_step_claims_step_state", "step_id", "state"),
        Index("ix_sequence_step_claims_delivery_id", "delivery_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("sequence_enrolments.id", ondelete="CASCADE"))
    step_id: Mapped[int] = mapped_column(ForeignKey("sequence_steps.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The tick that claimed it (a random token): how a tick tells its claims from another's.
    claimed_by: Mapped[str | None] = mapped_column(String(32))


# The tick's recovery looks only at sequence deliveries still on their way: a small partial index.
_OPEN = "template = 'sequence' AND state IN ('queued', 'sending')"
Index(
    "ix_deliveries_sequence_open",
    Delivery.created_at,
    postgresql_where=text(_OPEN),
    sqlite_where=text(_OPEN),
)
