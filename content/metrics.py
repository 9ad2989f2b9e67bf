"""Pure figures of the content domain: pitch eligibility, send progress, value-to-pitch ratio."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

NOT_NURTURED = "not_nurtured"
PITCH_COOLDOWN = "pitch_cooldown"
NO_LONGER_ACTIVE = "no_longer_active"

SKIP_LABELS = {
    NOT_NURTURED: "not yet nurtured",
    PITCH_COOLDOWN: "pitched too recently",
    NO_LONGER_ACTIVE: "no longer active",
}


def pitch_skip_reason(
    engaged_value: int,
    last_pitch_at: dt.datetime | None,
    now: dt.datetime,
    min_value: int,
    cooldown_days: int,
) -> str | None:
    """Why a pitch must not reach this subscriber now, or None when it may.

    Value earns the right to sell: at least `min_value` value emails engaged with, and no
    other pitch in the last `cooldown_days` days.
    """
    if engaged_value < min_value:
        return NOT_NURTURED
    if last_pitch_at is not None and now - last_pitch_at < dt.timedelta(days=cooldown_days):
        return PITCH_COOLDOWN
    return None


def value_to_pitch_ratio(value_sent: int, pitch_sent: int) -> float | None:
    """Value emails per pitch received; None when no pitch was ever sent (nothing under it)."""
    if pitch_sent == 0:
        return None
    return value_sent / pitch_sent


def send_progress(delivery_states: Mapping[str, int], skip_reasons: Mapping[str, int]) -> dict[str, object]:
    """Operator progress of a send from delivery counts by state and skip counts by reason.

    total counts every recipient meant to receive it (skipped ones are not); `done` is the
    fraction already sent, None while there is no recipient.
    """
    sent = delivery_states.get("sent", 0)
    failed = delivery_states.get("failed", 0)
    unknown = delivery_states.get("unknown", 0)
    in_flight = delivery_states.get("sending", 0)
    queued = delivery_states.get("queued", 0)
    total = sent + failed + unknown + in_flight + queued
    return {
        "total": total,
        "sent": sent,
        "failed": failed,
        "unknown": unknown,
        "in_flight": in_flight,
        "queued": queued,
        "skipped": sum(skip_reasons.values()),
        "skipped_by_reason": dict(skip_reasons),
        "done": sent / total if total else None,
    }


def preview_sentence(will_receive: int, skipped: Mapping[str, int]) -> str:
    """'4,210 will receive, 380 skipped: not yet nurtured' for the send preview."""
    parts = [f"{will_receive:,} will receive"]
    for reason, n in sorted(skipped.items(), key=lambda kv: -kv[1]):
        if n:
            parts.append(f"{n:,} skipped: {SKIP_LABELS.get(reason, reason)}")
    return ", ".join(parts)


SEGMENT_LABELS = {
    "all": "Everyone on the list",
    "free": "Free readers",
    "paying": "Paying readers",
    "stage:engaged": "Engaged readers",
    "stage:nurtured": "Nurtured readers",
}


def segment_options(counts: Mapping[str, int], tier_names: Mapping[int, str]) -> list[tuple[str, str]]:
    """(segment, 'Label (count)') for the segment picker, in the order of `counts`."""
    options = []
    for segment, n in counts.items():
        kind, _, value = segment.partition(":")
        if kind == "tier":
            label = f"Tier {tier_names.get(int(value), value)}"
        elif kind == "source":
            label = f"Signed up from {value}"
        else:
            label = SEGMENT_LABELS.get(segment, segment)
        options.append((segment, f"{label} ({n:,})"))
    return options
