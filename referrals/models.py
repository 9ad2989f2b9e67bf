"""Models of the referrals domain: visits, referrals, the precomputed tree, milestones, grants."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from growth.db import Base, UTCDateTime, utcnow


class ReferralStatus(enum.StrEnum):
    """Where a referral stands: it counts only once the referred reader confirms and passes."""

    PENDING = "pending"  # the referred reader has not confirmed yet
    HELD = "held"  # passed the rules, waits for an operator (REFERRAL_HOLD_DAYS > 0)
    COUNTED = "counted"
    REJECTED = "rejected"


class RejectReason(enum.StrEnum):
    """Why a referral did not count; kept on the row."""

    SELF = "self_referral"
    DISPOSABLE = "disposable_domain"
    RETURNING = "previously_subscribed"
    IP_LIMIT = "ip_daily_limit"
    OPERATOR = "operator"


# The reason kept on a referral held because it belongs to a possible ring (REFERRAL_RING_ACTION=hold).
RING_HOLD_REASON = "possible_ring"


class GrantStatus(enum.StrEnum):
    """A reward on its way to the reader."""

    GRANTED = "granted"
    FULFILLED = "fulfilled"
    FLAGGED = "flagged"  # a referral behind it was rejected later: an operator should look


class ReferralVisit(Base):
    """One visit to /r/<code>; bots and the referrer's own visits are kept but not counted."""

    __tablename__ = "referral_visits"
    __table_args__ = (Index("ix_referral_visits_referrer_counted_at", "referrer_id", "counted", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    is_bot: Mapped[bool] = mapped_column(default=False)
    is_self: Mapped[bool] = mapped_column(default=False)
    counted: Mapped[bool] = mapped_column(default=True)
    # The post whose share link (/p/<slug>?ref=) brought the visit; None for /r/<code>.
    post_id: Mapped[int | None] = mapped_column(index=True)
    # The referral ask whose link brought the visit (growth.referral_asks.PLACEMENTS), if any.
    placement: Mapped[str | None] = mapped_column(String(16))


class Referral(Base):
    """A reader signed up through someone's link; one referrer per referred reader."""

    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("referred_id"),
        UniqueConstraint("referrer_id", "referred_id"),
        Index("ix_referrals_referrer_status", "referrer_id", "status"),
        Index("ix_referrals_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    referred_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=ReferralStatus.PENDING)
    reason: Mapped[str | None] = mapped_column(String(32))
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    # Ring signals of the referred reader, keyed hashes (referrals.rings): the signup and
    # confirmation networks (an IPv6 /64 as one), user agents, and the address's pattern.
    # The exact ip_hash above stays what the self-referral check and the per-IP limit read.
    signup_net_hash: Mapped[str | None] = mapped_column(String(64))
    signup_agent_hash: Mapped[str | None] = mapped_column(String(64))
    address_pattern_hash: Mapped[str | None] = mapped_column(String(64))
    confirm_net_hash: Mapped[str | None] = mapped_column(String(64))
    confirm_agent_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    hold_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    counted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(320))
    # The referral ask the referred reader came through (growth.referral_asks.PLACEMENTS), if any.
    placement: Mapped[str | None] = mapped_column(String(16))


class ReferralNode(Base):
    """A subscriber's place in the counted-referral forest, kept current as referrals count.

    Subscribers without a row are roots of a one-node tree. `downstream_count` is the number of
    counted descendants, so the report at a million subscribers reads it instead of walking trees.
    """

    __tablename__ = "referral_nodes"
    __table_args__ = (
        Index("ix_referral_nodes_parent", "parent_id"),
        Index("ix_referral_nodes_downstream", "downstream_count"),
        Index("ix_referral_nodes_root", "root_id"),  # a cascade's readers, for its picture
    )

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"))
    root_id: Mapped[int] = mapped_column()
    depth: Mapped[int] = mapped_column(default=0)
    direct_count: Mapped[int] = mapped_column(default=0)
    downstream_count: Mapped[int] = mapped_column(default=0)
    leaderboard_opt_in: Mapped[bool] = mapped_column(default=False)


class AddressKey(Base):
    """A keyed hash of each subscriber's folded address, so aliases of past readers are known."""

    __tablename__ = "referral_address_keys"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    key: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LadderVariant(Base):
    """A reward ladder under test: its own milestones, given to new readers in a fixed share.

    `share` is a positive weight: a variant of share 2 beside one of share 1 gets two new readers
    in three. Changing it changes only who is assigned from then on, never an assignment made.
    """

    __tablename__ = "referral_ladder_variants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    share: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LadderAssignment(Base):
    """The ladder a reader was given at signup; once, kept for good (the unique subscriber)."""

    __tablename__ = "referral_ladder_assignments"
    __table_args__ = (Index("ix_referral_ladder_assignments_variant_assigned", "variant_id", "assigned_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), unique=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("referral_ladder_variants.id", ondelete="CASCADE"))
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Milestone(Base):
    """A reward for reaching a number of counted referrals, on the default ladder (no variant)
    or on a variant's; one milestone per referral count on each ladder."""

    __tablename__ = "referral_milestones"
    __table_args__ = (
        UniqueConstraint("variant_id", "referrals_required"),
        # NULLs are distinct in a unique constraint: the default ladder needs its own index.
        Index(
            "uq_referral_milestones_default_required",
            "referrals_required",
            unique=True,
            sqlite_where=text("variant_id IS NULL"),
            postgresql_where=text("variant_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int | None] = mapped_column(
        ForeignKey("referral_ladder_variants.id", ondelete="CASCADE"), index=True
    )
    referrals_required: Mapped[int] = mapped_column()
    reward_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    fulfilment_note: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What one grant of it costs the publication (the ladders' cost per referral); 0 = unpriced.
    cost_cents: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3), default="usd")


class RewardGrant(Base):
    """A milestone reached by one referrer: granted once, enforced by the unique constraint."""

    __tablename__ = "referral_reward_grants"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "milestone_id"),
        Index("ix_referral_reward_grants_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    milestone_id: Mapped[int] = mapped_column(ForeignKey("referral_milestones.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=GrantStatus.GRANTED)
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    fulfilled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    flag_reason: Mapped[str | None] = mapped_column(String(200))

    milestone: Mapped[Milestone] = relationship()


class AskEventKind(enum.StrEnum):
    """What a reader did with a referral ask."""

    VIEW = "view"  # the ask was shown (a page rendered with it, a welcome email sent with it)
    CLICK = "click"  # a share button of the ask was pressed


class ReferralAskEvent(Base):
    """A view of a referral ask, or a click on one of its share buttons, once per reader a day.

    The unique constraint is the de-duplication: a reload, a retry or a second click the same
    day adds nothing. `post_id` is 0 when the ask was about no post; `target` is "" for views.
    """

    __tablename__ = "referral_ask_events"
    __table_args__ = (
        UniqueConstraint("kind", "placement", "subscriber_id", "post_id", "target", "day"),
        Index("ix_referral_ask_events_day", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    placement: Mapped[str] = mapped_column(String(16))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), index=True)
    post_id: Mapped[int] = mapped_column(default=0)
    target: Mapped[str] = mapped_column(String(16), default="")
    day: Mapped[dt.date] = mapped_column(Date)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
