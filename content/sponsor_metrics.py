"""Pure figures of a sponsored send: what the sponsor's slot did and what it earned."""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_HREF = re.compile(r'<a\s[^>]*href="([^"]+)"')


# Said on every sponsor report: opens are counted from a pixel that Apple Mail loads for the
# reader (a machine open), so the human opens we can tell apart are the least there were.
HUMAN_OPENS_NOTE = (
    "Human opens are a floor: Apple Mail Privacy Protection loads every email's images itself, "
    "so its readers' real opens are hidden among the machine opens counted in all opens."
)


@dataclass(frozen=True)
class SponsorFigures:
    """A sponsored send's figures, each counted once per delivery."""

    delivered: int = 0
    human_opens: int = 0
    all_opens: int = 0
    human_clicks: int = 0  # deliveries with a person's click on one of the sponsor's links


@dataclass(frozen=True)
class SponsorEvent:
    """One stored event of a sponsored send's delivery (the URL for clicks)."""

    delivery_id: int
    type: str
    is_machine: bool = False
    is_scanner: bool = False
    url: str | None = None


def sponsor_links(creative_html: str) -> set[str]:
    """The links of a sanitised creative (what a click on the sponsor's slot goes to)."""
    return {html.unescape(m) for m in _HREF.findall(creative_html)}


def sponsor_figures(events: Iterable[SponsorEvent], links: Collection[str]) -> SponsorFigures:
    """Tally a sponsored send's events for its sponsor.

    delivered: deliveries with a `delivered` event; human_opens: deliveries a person opened;
    all_opens: deliveries opened at all (Apple Mail's machine opens included); human_clicks:
    deliveries with a click on one of the sponsor's `links` that was not a security scanner's
    (a reader who clicks three times is one click).
    """
    delivered: set[int] = set()
    human: set[int] = set()
    opened: set[int] = set()
    clicked: set[int] = set()
    wanted = set(links)
    for e in events:
        if e.type == "delivered":
            delivered.add(e.delivery_id)
        elif e.type == "open":
            opened.add(e.delivery_id)
            if not e.is_machine:
                human.add(e.delivery_id)
        elif e.type == "click" and not e.is_scanner and e.url in wanted:
            clicked.add(e.delivery_id)
    return SponsorFigures(len(delivered), len(human), len(opened), len(clicked))


def earned_cents(pricing: str, price_cents: int, figures: SponsorFigures) -> int:
    """What a booking earned: the flat price, price x human clicks, or price per thousand delivered.

    Per thousand is rounded to the nearest cent, half up: 1,234 delivered at 2,500 cents per
    thousand earn 3,085 cents (3,085.0); 1,001 at 999 earn 1,000 (999.999).
    """
    if pricing == "flat":
        return price_cents
    if pricing == "per_click":
        return price_cents * figures.human_clicks
    if pricing == "per_thousand":
        return (price_cents * figures.delivered + 500) // 1000
    raise ValueError(f"unknown pricing {pricing!r}")


def sponsor_totals(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per sponsor (by name): bookings, and earned and paid cents per currency (never added across).

    Rows carry `sponsor`, `currency`, `earned_cents` and `paid_cents`.
    """
    by_sponsor: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = by_sponsor.setdefault(row["sponsor"], {"sponsor": row["sponsor"], "bookings": 0, "money": {}})
        entry["bookings"] += 1
        money = entry["money"].setdefault(row["currency"], {"earned_cents": 0, "paid_cents": 0})
        money["earned_cents"] += row["earned_cents"]
        money["paid_cents"] += row["paid_cents"]
    return [
        {
            "sponsor": name,
            "bookings": entry["bookings"],
            "currencies": [{"currency": c, **entry["money"][c]} for c in sorted(entry["money"])],
        }
        for name, entry in sorted(by_sponsor.items())
    ]


@dataclass(frozen=True)
class AudienceRates:
    """The media kit's rates over a window of post emails: per delivered email, persons only."""

    delivered: int
    human_open_rate: float | None  # deliveries a person opened / delivered
    human_click_rate: float | None  # deliveries a person clicked / delivered (scanners left out)


def audience_rates(delivered: int, human_opened: int, human_clicked: int) -> AudienceRates:
    """Rates of a window's post emails; None when nothing was delivered (no rate to show)."""
    if delivered <= 0:
        return AudienceRates(0, None, None)
    return AudienceRates(delivered, human_opened / delivered, human_clicked / delivered)
