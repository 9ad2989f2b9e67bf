"""Recommendations between publications: partners, who arrived through them, whom we sent them.

Inbound, a partner's link carries `partner=<code>`: the signup is tagged with the partner (an
earned source, never a referral). Outbound, a reader ticks a recommended partner: their signup API
is called with the reader's address, or their page opened with our referral code there.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from growth.db import Base, UTCDateTime, utcnow


class Partner(Base):
    """A publication we exchange recommendations with."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # what their links carry: partner=<code>
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(500), default="")
    website: Mapped[str] = mapped_column(String(500), default="")
    # Outbound: shown to our readers when recommended; a tick calls their API, else opens their page.
    recommended: Mapped[bool] = mapped_column(default=False)
    signup_api_url: Mapped[str | None] = mapped_column(String(500))
    page_url: Mapped[str | None] = mapped_column(String(500))
    their_code: Mapped[str | None] = mapped_column(String(100))  # our referral/partner code at them
    # Inbound: what we pay them per verified subscriber (none: unpaid exchange).
    price_per_subscriber_cents: Mapped[int | None]
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PartnerSignup(Base):
    """A subscriber who arrived through a partner's link (one partner per subscriber, at signup)."""

    __tablename__ = "partner_signups"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), unique=True)
    signed_up_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    partner: Mapped[Partner] = relationship()


class PartnerRecommendation(Base):
    """A reader ticked a partner: once per (partner, reader), however often they tick it."""

    __tablename__ = "partner_recommendations"
    __table_args__ = (UniqueConstraint("partner_id", "subscriber_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), index=True)
    via: Mapped[str] = mapped_column(String(8))  # api | page
    # page: opened; api: queued, then subscribed (their API took it) or failed
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    clicked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    subscribed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
