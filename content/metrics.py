"""Pure figures of the content domain: pitch eligibility, send progress, value-to-pitch ratio."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

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


# A send-rate cap spreads a send: per five minutes at most a twelfth of the hourly cap (at least
# one), and never more than the cap in any hour.
PACE_WINDOW = dt.timedelta(hours=1)
PACE_SLOT = dt.timedelta(minutes=5)
PACE_STEP = dt.timedelta(minutes=1)  # the tick: when a paced send is looked at again
PACE_HORIZON = dt.timedelta(days=60)  # an estimate beyond this is not worth computing


def pace_room(per_hour: int, recent: Sequence[tuple[dt.datetime, int]], now: dt.datetime) -> int:
    """How many messages a capped newsletter may hand out at `now`, given (when, how many) so far.

    A message planned at `at` counts in the hour while `at > now - 1 h`, in the slot while
    `at > now - 5 min`.
    """
    hour = sum(n for at, n in recent if at > now - PACE_WINDOW)
    slot = sum(n for at, n in recent if at > now - PACE_SLOT)
    per_slot = max(1, per_hour // 12)
    return max(0, min(per_hour - hour, per_slot - slot))


def paced_finish(
    per_hour: int,
    recent: Sequence[tuple[dt.datetime, int]],
    remaining: int,
    now: dt.datetime,
) -> dt.datetime | None:
    """When the last of `remaining` messages would be handed out, looking once per tick (1 min).

    `now` when nothing remains; None when that is more than PACE_HORIZON away. Between hand-outs
    it skips to the first tick at which something leaves the slot or the hour (the only moments
    room can open). What happens next depends only on the last hour, so once an hour repeats
    the one before it, every later hour does too, and the rest is counted, not simulated.
    """
    if remaining <= 0:
        return now
    if remaining > per_hour * (PACE_HORIZON // PACE_WINDOW + 1):  # at most per_hour an hour
        return None
    history = [(at, n) for at, n in recent if at > now - PACE_WINDOW]
    at = now
    while at - now <= PACE_HORIZON:
        room = pace_room(per_hour, history, at)
        if room > 0:
            handed = min(room, remaining)
            remaining -= handed
            history.append((at, handed))
            if remaining == 0:
                return at
            if at - now >= 2 * PACE_WINDOW:
                finish = _periodic_finish(history, at, remaining)
                if finish is not None:
                    return finish if finish - now <= PACE_HORIZON else None
        opens = min(t + span for t, _ in history for span in (PACE_SLOT, PACE_WINDOW) if t + span > at)
        at = now + math.ceil((opens - now) / PACE_STEP) * PACE_STEP
        history = [(t, n) for t, n in history if t > at - 2 * PACE_WINDOW]
    return None


def _periodic_finish(
    history: list[tuple[dt.datetime, int]], at: dt.datetime, remaining: int
) -> dt.datetime | None:
    """If the hour up to `at` repeats the hour before it, when `remaining` more would be out."""
    last = [(t - at, n) for t, n in history if t > at - PACE_WINDOW]
    before = [(t - at + PACE_WINDOW, n) for t, n in history if at - 2 * PACE_WINDOW < t <= at - PACE_WINDOW]
    if last != before:
        return None
    hours, rest = divmod(remaining, sum(n for _, n in last))
    if rest == 0:
        hours, rest = hours - 1, sum(n for _, n in last)
    count = 0
    for offset, n in last:
        count += n
        if count >= rest:
            return at + offset + (hours + 1) * PACE_WINDOW
    return None  # not reached: `rest` is at most the hour's total


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
        elif kind == "interest":
            label = f"Interested in {value}"
        else:
            label = SEGMENT_LABELS.get(segment, segment)
        options.append((segment, f"{label} ({n:,})"))
    return options
