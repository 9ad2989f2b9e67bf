"""Pure figures of recommendations between publications: the 14-day rule and each partner's numbers.

A signup through a partner counts (and is billable when the partner has a price per subscriber)
only once the reader confirmed and engaged as a person (an open that is not Apple Mail's, a click
that is not a scanner's, a web read) within VERIFY_DAYS of signing up. Until that deadline it is
pending; after it, without both, rejected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

VERIFY_DAYS = 14
PENDING, VERIFIED, REJECTED = "pending", "verified", "rejected"


def signup_state(
    signed_up_at: dt.datetime,
    confirmed_at: dt.datetime | None,
    first_human_at: dt.datetime | None,
    now: dt.datetime,
    days: int = VERIFY_DAYS,
) -> str:
    """verified, pending or rejected under the 14-day rule (the deadline itself still counts).

    `first_human_at`: the reader's first human engagement after signing up (None: none yet).
    """
    deadline = signed_up_at + dt.timedelta(days=days)
    confirmed = confirmed_at is not None and confirmed_at <= deadline
    engaged = first_human_at is not None and signed_up_at <= first_human_at <= deadline
    if confirmed and engaged:
        return VERIFIED
    return REJECTED if now > deadline else PENDING


@dataclass(frozen=True)
class InboundSignup:
    """One signup through a partner, with what the 14-day rule reads."""

    partner_id: int
    signed_up_at: dt.datetime
    confirmed_at: dt.datetime | None
    first_human_at: dt.datetime | None


@dataclass(frozen=True)
class OutboundTick:
    """One reader's tick of a partner (state: opened, queued, subscribed, failed)."""

    partner_id: int
    via: str
    state: str


def partner_rows(
    partners: Iterable[Any],
    inbound: Iterable[InboundSignup],
    outbound: Iterable[OutboundTick],
    now: dt.datetime,
    days: int = VERIFY_DAYS,
) -> list[dict[str, Any]]:
    """Per partner: inbound pending/verified/rejected and billable cents; outbound clicks and subscriptions.

    `partners` carry id, code, name, price_per_subscriber_cents and currency. Billable: verified
    signups x the price (null without a price). Outbound clicks: readers who ticked the partner;
    subscriptions: ticks their signup API accepted (their own double opt-in still follows).
    """
    counts: dict[int, dict[str, int]] = {}

    def row(pid: int) -> dict[str, int]:
        return counts.setdefault(
            pid, {"signups": 0, PENDING: 0, VERIFIED: 0, REJECTED: 0, "clicks": 0, "subscriptions": 0}
        )

    for s in inbound:
        r = row(s.partner_id)
        r["signups"] += 1
        r[signup_state(s.signed_up_at, s.confirmed_at, s.first_human_at, now, days)] += 1
    for t in outbound:
        r = row(t.partner_id)
        r["clicks"] += 1
        r["subscriptions"] += t.state == "subscribed"
    out = []
    for p in partners:
        c = row(p.id)
        price = p.price_per_subscriber_cents
        out.append(
            {
                "partner_id": p.id,
                "code": p.code,
                "name": p.name,
                "signups": c["signups"],
                "pending": c[PENDING],
                "verified": c[VERIFIED],
                "rejected": c[REJECTED],
                "price_per_subscriber_cents": price,
                "currency": p.currency,
                "billable_cents": price * c[VERIFIED] if price is not None else None,
                "clicks": c["clicks"],
                "subscriptions": c["subscriptions"],
            }
        )
    return out
