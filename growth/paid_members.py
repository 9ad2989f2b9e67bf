"""What billing offers the member import, registered from its init_app (the core imports no domain).

Paid members moving in bring a Stripe customer id; billing says who owns a customer already,
whose paying subscriptions unlock no tier, how to link one (reading its subscriptions from
Stripe and mirroring them) and how to give untiered subscriptions a tier.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from growth.models import Subscriber

# (session, customer ids) -> {customer id: subscriber id it is linked to, or None when unlinked}
CustomerOwners = Callable[[Session, list[str]], dict[str, int | None]]
# (session, customer ids) -> those whose paying subscriptions have a price no tier knows
UntieredCustomers = Callable[[Session, list[str]], set[str]]
# (session, subscriber, customer id, now, tier id or None) -> {"subscriptions": n, "untiered": n};
# DomainError when it cannot be linked
CustomerLink = Callable[[Session, Subscriber, str, dt.datetime, int | None], dict[str, int]]
# (session, customer id, tier id, now) -> subscriptions given the tier
CustomerTier = Callable[[Session, str, int, dt.datetime], int]
# () -> why paid members cannot be linked on this installation, or None
PaidReadiness = Callable[[], str | None]


@dataclass(frozen=True)
class PaidMembers:
    """What billing offers the import: who owns a customer, how to link one, and tiers."""

    owners: CustomerOwners
    untiered: UntieredCustomers
    link: CustomerLink
    assign_tier: CustomerTier
    problem: PaidReadiness


_paid: PaidMembers | None = None


def register(paid: PaidMembers) -> None:
    """Billing says who owns a Stripe customer and how to link one (from its init_app)."""
    global _paid
    _paid = paid


def registered() -> PaidMembers | None:
    """What billing registered; None without a billing domain."""
    return _paid
