"""Pure figures of the referral asks, per placement: from counts to rates (no session, no clock).

A placement's funnel: the ask was seen (views: once per reader, placement, post and day), a
share button pressed (share clicks, once per reader, button and day), the shared link opened
(visits: counted visits, without crawlers and the reader's own), and referrals that counted
(confirmed and not rejected or held) whose link came through the placement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PlacementCounts:
    """One placement's counts over a window."""

    views: int = 0
    share_clicks: int = 0
    visits: int = 0
    counted_referrals: int = 0


def click_through_rate(share_clicks: int, views: int) -> float | None:
    """Share clicks per view (None without views: nothing was asked, so no rate)."""
    return share_clicks / views if views else None


def referrals_per_thousand_views(counted_referrals: int, views: int) -> float | None:
    """Counted referrals per 1,000 views of the ask (None without views)."""
    return 1000 * counted_referrals / views if views else None


def placement_rows(counts: Mapping[str, PlacementCounts], order: Iterable[str]) -> list[dict[str, Any]]:
    """One row per placement in `order` (absent ones at zero), counts and rates, then the total."""
    rows = []
    total = PlacementCounts()
    for placement in order:
        c = counts.get(placement, PlacementCounts())
        rows.append(_row(placement, c))
        total = PlacementCounts(
            total.views + c.views,
            total.share_clicks + c.share_clicks,
            total.visits + c.visits,
            total.counted_referrals + c.counted_referrals,
        )
    rows.append(_row("all", total))
    return rows


def _row(placement: str, c: PlacementCounts) -> dict[str, Any]:
    return {
        "placement": placement,
        "views": c.views,
        "share_clicks": c.share_clicks,
        "visits": c.visits,
        "counted_referrals": c.counted_referrals,
        "click_through_rate": click_through_rate(c.share_clicks, c.views),
        "referrals_per_1000_views": referrals_per_thousand_views(c.counted_referrals, c.views),
    }
