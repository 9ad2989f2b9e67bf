"""Acquisition economics: how sources map to paid, owned and earned media, and ad spend by month."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from growth.db import Base, UTCDateTime, utcnow


class AcquisitionRule(Base):
    """One value of a signup's source, utm_medium or utm_source, and the media class it means."""

    __tablename__ = "acquisition_rules"
    __table_args__ = (UniqueConstraint("field", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    field: Mapped[str] = mapped_column(String(16))  # utm_medium | utm_source | source
    value: Mapped[str] = mapped_column(String(200))  # lower-cased
    media_class: Mapped[str] = mapped_column(String(8))  # paid | owned | earned
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AdSpend(Base):
    """What a campaign cost in one calendar month, in one currency (re-entering replaces it)."""

    __tablename__ = "ad_spend"
    __table_args__ = (UniqueConstraint("campaign", "month", "currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign: Mapped[str] = mapped_column(String(200))
    month: Mapped[dt.date] = mapped_column(Date)  # the month's first day
    currency: Mapped[str] = mapped_column(String(3))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
