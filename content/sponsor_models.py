"""Sponsorships of sends: the sponsors, and their bookings of a slot in a newsletter's send on a day."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from growth.db import Base, UTCDateTime, utcnow
from growth.models import Newsletter


class Slot(enum.StrEnum):
    """Where a sponsor's creative sits in the email and on the web page."""

    TOP = "top"
    MIDDLE = "middle"
    BOTTOM = "bottom"


class Pricing(enum.StrEnum):
    """How a booking is priced (content.sponsor_metrics.earned_cents)."""

    FLAT = "flat"
    PER_CLICK = "per_click"  # per unique human click on the sponsor's link (scanners left out)
    PER_THOUSAND = "per_thousand"  # per thousand delivered


class Sponsor(Base):
    """An advertiser who books slots."""

    __tablename__ = "sponsors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    contact_email: Mapped[str] = mapped_column(String(320))
    website: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Booking(Base):
    """A slot of a newsletter's send on a day, sold to a sponsor.

    (newsletter, day, slot) is unique: two bookings of the same slot cannot both be stored, even
    when two operators book at the same moment. The send of that day is joined when it is
    created (or at booking, when it already exists and has not started).
    """

    __tablename__ = "sponsor_bookings"
    __table_args__ = (
        UniqueConstraint("newsletter_id", "run_on", "slot"),
        Index("ix_sponsor_bookings_send_id", "send_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("sponsors.id", ondelete="RESTRICT"), index=True)
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="RESTRICT"))
    run_on: Mapped[dt.date] = mapped_column(Date)
    slot: Mapped[str] = mapped_column(String(16))
    creative_markdown: Mapped[str] = mapped_column(Text)
    creative_html: Mapped[str] = mapped_column(Text)  # sanitised like a post's body
    pricing: Mapped[str] = mapped_column(String(16))
    price_cents: Mapped[int]  # the flat price, per click, or per thousand delivered
    currency: Mapped[str] = mapped_column(String(3))
    send_id: Mapped[int | None] = mapped_column(ForeignKey("sends.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    sponsor: Mapped[Sponsor] = relationship()
    newsletter: Mapped[Newsletter] = relationship()


class Rate(Base):
    """A line of the rate card the media kit shows: a slot at a price, by one pricing, in a currency."""

    __tablename__ = "sponsor_rates"
    __table_args__ = (UniqueConstraint("slot", "pricing", "currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slot: Mapped[str] = mapped_column(String(16))
    pricing: Mapped[str] = mapped_column(String(16))
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
