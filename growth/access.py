"""Who pays for what, asked of whichever domain knows (billing registers itself here).

Content gates posts by tier without importing billing; billing answers through this hook.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.orm import Session

# (session, subscriber_ids or None for all) -> {subscriber_id: tier_id} for subscribers paying now
TierLookup = Callable[[Session, Iterable[int] | None], dict[int, int]]
_tier_lookup: TierLookup | None = None


def register_tier_lookup(lookup: TierLookup) -> None:
    """Billing calls this in its init_app."""
    global _tier_lookup
    _tier_lookup = lookup


def paying_tiers(session: Session, subscriber_ids: Iterable[int] | None = None) -> dict[int, int]:
    """{subscriber_id: tier_id} of subscribers with a paid tier now; empty without billing."""
    if _tier_lookup is None:
        return {}
    return _tier_lookup(session, subscriber_ids)


# Same shape: tiers given without payment (comps, redeemed gifts), live now
_grant_lookup: TierLookup | None = None


def register_grant_lookup(lookup: TierLookup) -> None:
    """Billing calls this in its init_app."""
    global _grant_lookup
    _grant_lookup = lookup


def reading_tiers(session: Session, subscriber_ids: Iterable[int] | None = None) -> dict[int, int]:
    """{subscriber_id: tier_id} of who may read a tier's posts now: paying, or given the tier.

    For paywalls only: a given tier is not paying (never counted in revenue or the funnel).
    A paid tier wins over a given one.
    """
    ids = list(subscriber_ids) if subscriber_ids is not None else None
    granted = _grant_lookup(session, ids) if _grant_lookup is not None else {}
    return {**granted, **paying_tiers(session, ids)}


# (session) -> {subscriber_id: {currency: paid cents}} from the revenue ledger
RevenueLookup = Callable[[Session], dict[int, dict[str, int]]]
_revenue_lookup: RevenueLookup | None = None


def register_revenue_lookup(lookup: RevenueLookup) -> None:
    """Billing calls this in its init_app."""
    global _revenue_lookup
    _revenue_lookup = lookup


def revenue_by_subscriber(session: Session) -> dict[int, dict[str, int]]:
    """Paid revenue per subscriber and currency; empty without billing."""
    if _revenue_lookup is None:
        return {}
    return _revenue_lookup(session)


def has_billing() -> bool:
    """Whether a billing domain answers the lookups."""
    return _revenue_lookup is not None


# (session) -> {tier_id: name} of every tier, for filters and labels
TierNames = Callable[[Session], dict[int, str]]
# (session) -> [(tier id, name)] of the tiers on offer, for pickers
TiersOnOffer = Callable[[Session], list[tuple[int, str]]]
_tier_names: TierNames | None = None


def register_tier_names(lookup: TierNames) -> None:
    """Billing calls this in its init_app."""
    global _tier_names
    _tier_names = lookup


def tier_names(session: Session) -> dict[int, str]:
    """{tier_id: name}; empty without billing."""
    if _tier_names is None:
        return {}
    return _tier_names(session)


_tiers_on_offer: TiersOnOffer | None = None


def register_tiers_on_offer(lookup: TiersOnOffer) -> None:
    """Billing says which tiers are on offer (active), for content's audience pickers."""
    global _tiers_on_offer
    _tiers_on_offer = lookup


def tiers_on_offer(session: Session) -> list[tuple[int, str]]:
    """The tiers on offer as (id, name); empty without billing."""
    if _tiers_on_offer is None:
        return []
    return _tiers_on_offer(session)


# (session, subscriber_id) -> the subscriber's live given tiers, for their admin page:
# [{"id", "tier", "kind", "ends_at"}]
GrantsOf = Callable[[Session, int], list[dict[str, object]]]
_grants_of: GrantsOf | None = None


def register_grants_of(lookup: GrantsOf) -> None:
    """Billing says which tiers a subscriber was given (comps, gifts), for the admin page."""
    global _grants_of
    _grants_of = lookup


def grants_of(session: Session, subscriber_id: int) -> list[dict[str, object]]:
    """The subscriber's live given tiers; empty without billing."""
    if _grants_of is None:
        return []
    return _grants_of(session, subscriber_id)


# (session) -> {subscriber_id: [(paid_at, currency, net cents)]}: dated net cash per subscriber
CashLookup = Callable[[Session], dict[int, list[tuple[dt.datetime, str, int]]]]
_cash_lookup: CashLookup | None = None


def register_cash_lookup(lookup: CashLookup) -> None:
    """Billing calls this in its init_app."""
    global _cash_lookup
    _cash_lookup = lookup


def cash_by_subscriber(session: Session) -> dict[int, list[tuple[dt.datetime, str, int]]]:
    """Each subscriber's dated net cash (subscriptions), for acquisition credit; {} without billing."""
    if _cash_lookup is None:
        return {}
    return _cash_lookup(session)


# (session, view, now) -> one view of the attribution of paid conversions (billing.attribution):
# {"by", "at", "currencies", "rows": [{"key", "label", "revenue_cents": {currency: cents},
#   "conversions"}], "total_revenue_cents", "conversions", "rules"} (+ "influence" for referrer)
AttributionLookup = Callable[[Session, str, dt.datetime], dict[str, Any]]
ATTRIBUTION_VIEWS = ("post", "source", "campaign", "referrer")
_attribution: AttributionLookup | None = None


def register_attribution(lookup: AttributionLookup) -> None:
    """Billing calls this in its init_app."""
    global _attribution
    _attribution = lookup


def attribution(session: Session, by: str, now: dt.datetime) -> dict[str, Any] | None:
    """Revenue credited by `by` (one of ATTRIBUTION_VIEWS), rows summing to the total per
    currency; None without billing. Every report that credits revenue reads it here."""
    if by not in ATTRIBUTION_VIEWS:
        raise ValueError(f"by must be one of {', '.join(ATTRIBUTION_VIEWS)}")
    if _attribution is None:
        return None
    return _attribution(session, by, now)
