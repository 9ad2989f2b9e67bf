"""The reports' rollups: one facts row per subscriber, summed daily cells, and what to refresh.

`report_cells` holds the sums of `growth.report_metrics.contributions` by key; a subscriber's
facts row remembers what they added, so a refresh takes out their old cells and puts in the new
ones. No foreign keys: an erased or deleted subscriber's figures stay until a rebuild.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from growth.db import Base, UTCDateTime


class ReportFacts(Base):
    """What the reports know of one subscriber (growth.report_metrics.Facts, stored)."""

    __tablename__ = "report_facts"
    __table_args__ = (Index("ix_report_facts_status", "status"),)

    subscriber_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    signed_up_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    newsletter_id: Mapped[int] = mapped_column(default=0)
    source: Mapped[str] = mapped_column(String(100))
    campaign: Mapped[str] = mapped_column(String(200), default="")
    post: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    engaged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    nurtured_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    presumed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paying_90: Mapped[bool | None] = mapped_column()
    left_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # bit k set: engaged (paying) in the k-th calendar month after signup
    engaged_months: Mapped[int] = mapped_column(BigInteger, default=0)
    paying_months: Mapped[int] = mapped_column(BigInteger, default=0)
    revenue: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[k, currency, cents], ...]
    last_human_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_machine_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paying_now: Mapped[bool] = mapped_column(default=False)
    refreshed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ReportCell(Base):
    """A sum of contributions: (kind, day, newsletter, source, campaign, post, metric, bucket, currency)."""

    __tablename__ = "report_cells"
    # A report reads one (newsletter, source) scope of a kind over its days: the key's order
    # (kind, day, ...) would make it walk every scope of every day.
    __table_args__ = (Index("ix_report_cells_scope", "kind", "newsletter_id", "source", "day"),)

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # funnel | cohort | growth
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    newsletter_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(200), primary_key=True)
    post: Mapped[str] = mapped_column(String(300), primary_key=True)
    metric: Mapped[str] = mapped_column(String(24), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class ReportDirty(Base):
    """A subscriber whose facts must be refreshed; `version` grows with every new mark."""

    __tablename__ = "report_dirty"

    subscriber_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=1)


class ReportSeries(Base):
    """A domain series the tick computed ahead (billing's MRR and movements), read by reports."""

    __tablename__ = "report_series"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
