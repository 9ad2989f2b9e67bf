"""Who pays for what, asked of whichever domain knows (billing registers itself here).

Content gates posts by tier without importing billing; billing answers through this hook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

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
