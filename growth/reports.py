"""The series domains contribute to the core's reports, registered in their init_app.

The core cannot import billing, referrals or content; each fills the slots it knows about:

- `paid_history` (billing): {subscriber_id: PaidHistory} of the given subscribers;
- `mrr` (billing): {currency: MRR cents} at an instant;
- `mrr_movements` (billing): per currency, MRR movements by calendar month over [start, end);
- `referred` (referrals): which of the given subscribers came by a counted referral;
- `landing_posts` (content): {subscriber_id: post slug} from their landing URLs.

Without a domain its slot answers nothing (nobody paid, nobody was referred).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class PaidHistory:
    """When a subscriber paid: [start, end) intervals with MRR (end None: still paying) and invoices."""

    intervals: tuple[tuple[dt.datetime, dt.datetime | None], ...] = ()
    invoices: tuple[tuple[dt.datetime, str, int], ...] = ()  # (paid_at, currency, net cents)


PaidHistoryLookup = Callable[[Session, Collection[int]], dict[int, PaidHistory]]
MrrLookup = Callable[[Session, dt.datetime], dict[str, int]]
# -> [{"currency", "months": [{"month", "new_cents", "expansion_cents", ...}]}]
MovementsLookup = Callable[[Session, dt.datetime, dt.datetime], list[dict[str, Any]]]
ReferredLookup = Callable[[Session, Collection[int]], set[int]]
LandingLookup = Callable[[Session, Mapping[int, str]], dict[int, str]]


@dataclass
class _Slots:
    paid_history: PaidHistoryLookup | None = None
    mrr: MrrLookup | None = None
    mrr_movements: MovementsLookup | None = None
    referred: ReferredLookup | None = None
    landing_posts: LandingLookup | None = None


_slots = _Slots()
SLOTS = ("paid_history", "mrr", "mrr_movements", "referred", "landing_posts")


def register_series(name: str, lookup: Callable[..., Any]) -> None:
    """A domain fills one slot (see the module docstring for what each must return)."""
    if name not in SLOTS:
        raise ValueError(f"unknown report series {name!r}")
    setattr(_slots, name, lookup)


def paid_history(session: Session, subscriber_ids: Collection[int]) -> dict[int, PaidHistory]:
    """Billing's paying intervals and invoices of these subscribers; {} without billing."""
    return _slots.paid_history(session, subscriber_ids) if _slots.paid_history else {}


def mrr(session: Session, at: dt.datetime) -> dict[str, int]:
    """{currency: MRR cents} at `at`; {} without billing."""
    return _slots.mrr(session, at) if _slots.mrr else {}


def mrr_movements(session: Session, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """MRR movements by month per currency over [start, end); [] without billing."""
    return _slots.mrr_movements(session, start, end) if _slots.mrr_movements else []


def referred(session: Session, subscriber_ids: Collection[int]) -> set[int]:
    """Which of these subscribers came by a counted referral; empty without referrals."""
    return _slots.referred(session, subscriber_ids) if _slots.referred else set()


def landing_posts(session: Session, landing_urls: Mapping[int, str]) -> dict[int, str]:
    """{subscriber_id: the slug of the post they landed on}; {} without content."""
    return _slots.landing_posts(session, landing_urls) if _slots.landing_posts else {}
