"""Pure figures of what each post did: readers, not raw opens, counted once per reader or delivery."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

EMAIL_FIGURES = (
    "delivered",
    "human_opens",
    "machine_opens",
    "clicks",
    "scanner_clicks",
    "unsubscribes",
    "complaints",
    "web_reads",
    "engaged_readers",
)
REVENUE_FIELDS = ("paid_conversions", "revenue", "revenue_note")
REVENUE_NOTE = (
    "Not attributed: paid conversions and revenue per post come from billing's payment "
    "attribution, and no billing domain is installed; these are null."
)
SORTS = ("engaged_readers", "referral_signups", "referral_visits", "revenue", "published_at")
_UNSUBSCRIBES = ("unsubscribe", "group_unsubscribe")


@dataclass(frozen=True)
class EventRow:
    """One stored event of a post's delivery."""

    delivery_id: int
    subscriber_id: int | None
    type: str
    is_machine: bool = False
    is_scanner: bool = False


def tally(events: Iterable[EventRow]) -> dict[str, int]:
    """The email figures of a set of deliveries' events (content.post_report counts the same in SQL).

    delivered: deliveries with a `delivered` event. human_opens: deliveries opened by a person;
    machine_opens apart: deliveries with an Apple MPP or other machine open. clicks: deliveries
    with a click that is not a security scanner's; scanner_clicks: deliveries a scanner clicked.
    unsubscribes, complaints, web_reads (visits through the email's signed links): readers.
    engaged_readers: readers who opened (a person), clicked (a person) or read on the web, each
    reader once however many sends.
    """
    sets: dict[str, set[int]] = {name: set() for name in EMAIL_FIGURES}
    machine_opened: set[int] = set()
    scanner_clicked: set[int] = set()
    for e in events:
        reader = e.subscriber_id
        if e.type == "delivered":
            sets["delivered"].add(e.delivery_id)
        elif e.type == "open":
            if e.is_machine:
                machine_opened.add(e.delivery_id)
            else:
                sets["human_opens"].add(e.delivery_id)
                if reader is not None:
                    sets["engaged_readers"].add(reader)
        elif e.type == "click":
            if e.is_scanner:
                scanner_clicked.add(e.delivery_id)
            else:
                sets["clicks"].add(e.delivery_id)
                if reader is not None:
                    sets["engaged_readers"].add(reader)
        elif reader is not None and e.type in _UNSUBSCRIBES:
            sets["unsubscribes"].add(reader)
        elif reader is not None and e.type == "spamreport":
            sets["complaints"].add(reader)
        elif reader is not None and e.type == "web_visit":
            sets["web_reads"].add(reader)
            sets["engaged_readers"].add(reader)
    sets["machine_opens"] = machine_opened
    sets["scanner_clicks"] = scanner_clicked
    return {name: len(members) for name, members in sets.items()}


def rate(part: int, whole: int) -> float | None:
    """part / whole, None when there is no whole."""
    return part / whole if whole else None


def revenue_columns(billing: Mapping[str, Any] | None) -> dict[str, Any]:
    """Paid conversions and revenue as billing credits them, or null with the reason."""
    if not billing:
        return {"paid_conversions": None, "revenue": None, "revenue_note": REVENUE_NOTE}
    return {
        "paid_conversions": billing.get("paid_conversions"),
        "revenue": billing.get("revenue"),
        "revenue_note": billing.get("revenue_note"),
    }


def revenue_total(revenue: Mapping[str, int] | None) -> int | None:
    """Cents over every currency (sorting only: currencies are never added for display)."""
    return sum(revenue.values()) if revenue else None


def sort_rows(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Rows by `key`, largest first, unknown (null) last; ties newest first, then by id."""
    if key not in SORTS:
        raise ValueError(key)

    def value(row: dict[str, Any]) -> float:
        if key == "published_at":
            at = row.get("published_at")
            return at.timestamp() if isinstance(at, dt.datetime) else float("-inf")
        raw = revenue_total(row.get("revenue")) if key == "revenue" else row.get(key)
        return float("-inf") if raw is None else float(raw)

    def published(row: dict[str, Any]) -> float:
        at = row.get("published_at")
        return at.timestamp() if isinstance(at, dt.datetime) else float("-inf")

    return sorted(rows, key=lambda r: (value(r), published(r), r["id"]), reverse=True)
