"""Sponsorships between the domain that sells slots (content) and the one that bills them (billing).

Content knows the bookings and what each earned; billing knows invoices, payment links and what
was paid. Neither imports the other: content registers `charge` (what a booking is owed now),
billing registers `payments` (each booking's invoice or link and whether it was paid).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Charge:
    """What a booking is owed, as the selling domain counts it now."""

    booking_id: int
    sponsor: str
    contact_email: str
    description: str  # e.g. "Top slot, Weekly, 2026-12-09"
    amount_cents: int
    currency: str
    # Whether the amount can no longer change (a flat price, or the send is done): only a
    # final amount is billed.
    final: bool


@dataclass(frozen=True)
class Payment:
    """A booking's bill, as the billing domain knows it."""

    booking_id: int
    method: str  # invoice | payment_link
    status: str  # open | paid | void
    amount_cents: int
    currency: str
    url: str | None
    paid_at: dt.datetime | None


ChargeLookup = Callable[[Session, int], Charge | None]
PaymentsLookup = Callable[[Session, Collection[int] | None], dict[int, Payment]]
_charge: ChargeLookup | None = None
_payments: PaymentsLookup | None = None


def register_charge(lookup: ChargeLookup) -> None:
    """Content calls this in its init_app."""
    global _charge
    _charge = lookup


def register_payments(lookup: PaymentsLookup) -> None:
    """Billing calls this in its init_app."""
    global _payments
    _payments = lookup


def charge(session: Session, booking_id: int) -> Charge | None:
    """What a booking is owed now; None when there is no such booking (or no content domain)."""
    return _charge(session, booking_id) if _charge else None


def payments(session: Session, booking_ids: Collection[int] | None = None) -> dict[int, Payment]:
    """{booking_id: Payment} of these bookings (all when None); {} without billing."""
    return _payments(session, booking_ids) if _payments else {}


def has_billing() -> bool:
    """Whether a billing domain bills bookings."""
    return _payments is not None
