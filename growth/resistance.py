"""Value and pitch: how readers answer each kind of email, by how often they were pitched before.

Pure functions (`now` passed in). Definitions:

- An *email* is a value or pitch delivery that was sent (transactional mail is not counted).
- *Pitches before* an email: pitch emails the same reader was sent strictly earlier, bucketed
  "0", "1", "2+". For a pitch that reads first, second, third-or-later pitch.
- A *leave* is an unsubscribe or a spam complaint. It is put down to the reader's latest email
  sent at or before it, when that email was sent at most HOURS (48) before it; a leave with no
  such email is nobody's. An email counts a given kind of leave once, however many arrive.
- Only emails whose 48 hours are over at `now` are measured (younger ones would read low).
- Rates: leaves over measured emails; None over no email.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple

HOURS = 48
KINDS = ("value", "pitch")
BUCKETS = ("0", "1", "2+")
LEAVES = ("unsubscribe", "complaint")


class Email(NamedTuple):
    subscriber_id: int
    kind: str  # value | pitch
    sent_at: dt.datetime


class Leave(NamedTuple):
    subscriber_id: int
    kind: str  # unsubscribe | complaint
    at: dt.datetime


def bucket(pitches_before: int) -> str:
    """0, 1 or 2+ pitches before."""
    return BUCKETS[min(pitches_before, len(BUCKETS) - 1)]


def value_and_pitch(
    emails: Iterable[Email],
    leaves: Iterable[Leave],
    now: dt.datetime,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    hours: int = HOURS,
) -> list[dict[str, object]]:
    """Per kind and pitches-before bucket (then "all" per kind): measured emails, leaves, rates.

    `emails` must include every earlier pitch of each reader (they set the buckets); only emails
    sent in [start, end) are reported.
    """
    window = dt.timedelta(hours=hours)
    by_reader: dict[int, list[Email]] = defaultdict(list)
    for email in emails:
        if email.kind in KINDS:
            by_reader[email.subscriber_id].append(email)
    for mails in by_reader.values():
        mails.sort(key=lambda e: (e.sent_at, e.kind))
    times = {sid: [m.sent_at for m in mails] for sid, mails in by_reader.items()}
    left: dict[tuple[int, int], set[str]] = defaultdict(set)  # (reader, email index) -> leave kinds
    for leave in leaves:
        sent = times.get(leave.subscriber_id)
        if not sent or leave.kind not in LEAVES:
            continue
        i = bisect.bisect_right(sent, leave.at) - 1
        if i >= 0 and leave.at - sent[i] <= window:
            left[(leave.subscriber_id, i)].add(leave.kind)
    counts: dict[tuple[str, str], dict[str, int]] = {
        (k, b): dict.fromkeys(("emails", *LEAVES), 0) for k in KINDS for b in (*BUCKETS, "all")
    }
    for sid, mails in by_reader.items():
        pitches = 0
        for i, email in enumerate(mails):
            measured = email.sent_at + window <= now
            inside = (start is None or email.sent_at >= start) and (end is None or email.sent_at < end)
            if measured and inside:
                for key in ((email.kind, bucket(pitches)), (email.kind, "all")):
                    counts[key]["emails"] += 1
                    for kind in left.get((sid, i), ()):
                        counts[key][kind] += 1
            if email.kind == "pitch":
                pitches += 1
    rows: list[dict[str, object]] = []
    for (kind, b), c in counts.items():
        n = c["emails"]
        rows.append(
            {
                "kind": kind,
                "pitches_before": b,
                "emails": n,
                "unsubscribes": c["unsubscribe"],
                "complaints": c["complaint"],
                "unsubscribe_rate": c["unsubscribe"] / n if n else None,
                "complaint_rate": c["complaint"] / n if n else None,
            }
        )
    return rows
