"""The bill of each sponsorship booking: a Stripe invoice or payment link, and when it was paid."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from growth.db import Base, UTCDateTime, utcnow


class SponsorshipBill(Base):
    """One per booking (unique), naming the Stripe object that collects it (unique too).

    Sponsorship money is booked when Stripe says it was paid; it is revenue, never MRR, and
    never a subscriber's invoice in the ledger. The booking lives in the content domain: its id
    is kept here without a foreign key (billing does not reach into content's tables).
    """

    __tablename__ = "billing_sponsorship_bills"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(unique=True)
    method: Mapped[str] = mapped_column(String(16))  # invoice | payment_link
    stripe_object_id: Mapped[str] = mapped_column(String(255), unique=True)  # in_... or plink_...
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    url: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | paid
    paid_cents: Mapped[int | None]
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paid_by_event: Mapped[str | None] = mapped_column(String(255))  # the Stripe object that paid it
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
