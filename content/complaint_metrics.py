"""The complaint guard's figures: pure functions over counts, no database, no clock.

Definitions
-----------
- A *mailbox provider that reports complaints one by one* sends a spam report per message
  (a feedback loop). Gmail does not: it shows an aggregate rate in Postmaster Tools
  (https://postmaster.google.com) and nothing per message. So deliveries to Gmail's own domains
  (gmail.com, googlemail.com) and to Google-hosted domains are left out of the denominator.
  A Google-hosted domain (a company on Google Workspace) can only be told by its MX records,
  which needs the network at send time; Masthead recognises them from a configured list instead
  (GOOGLE_HOSTED_DOMAINS, comma-separated, lower case).
- *Complaint rate* = spam reports on counted deliveries / counted deliveries, where counted
  deliveries are value and pitch emails sent to reporting providers in the window (one send,
  one sequence step over the last 30 days, or the publication over the last 30 days).
- Thresholds (Gmail's and Yahoo's bulk-sender rules): warn at WARN_RATE (0.1%) or more; at
  PAUSE_RATE (0.3%) or more, pause when the window holds at least MIN_COMPLAINTS (5) complaints
  and MIN_DELIVERIES (1,000) counted deliveries. Below those counts a rate is only warned about,
  "too few to judge": one complaint in 300 emails is 0.33% and proves nothing.
- *Hard-bounce rate* of a send = hard bounces (bounces that are not `blocked`) / value and pitch
  emails sent, all providers counted. Over HARD_BOUNCE_RATE (2%) it is warned about (the list
  holds stale or bought addresses); it never pauses.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
POSTMASTER_TOOLS_URL = "https://postmaster.google.com"
WINDOW_DAYS = 30
WARN_RATE = 0.001
PAUSE_RATE = 0.003
MIN_COMPLAINTS = 5
MIN_DELIVERIES = 1000
HARD_BOUNCE_RATE = 0.02


def unreported_domains(google_hosted: Iterable[str] = ()) -> frozenset[str]:
    """The domains whose complaints arrive only in aggregate: Gmail's and the configured ones."""
    return GMAIL_DOMAINS | {d.strip().lower() for d in google_hosted if d.strip()}


def reports_complaints(address: str, unreported: frozenset[str]) -> bool:
    """Whether mail to `address` gets a spam report per message (its domain is not Google's)."""
    return address.rpartition("@")[2].strip().lower() not in unreported


class Level(enum.StrEnum):
    """What the guard does about a window."""

    OK = "ok"
    WARN = "warn"
    PAUSE = "pause"


@dataclass(frozen=True)
class Counts:
    """One window's deliveries and what came of them."""

    sent: int  # value and pitch emails sent, every provider
    counted: int  # of those, to providers that report complaints one by one
    complaints: int  # spam reports on the counted ones
    hard_bounces: int = 0  # of the sent ones


def rate(numerator: int, denominator: int) -> float | None:
    """numerator / denominator; None when nothing was sent (no rate, not zero)."""
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class Verdict:
    """The guard's judgement of a window for one measure (complaints or hard bounces)."""

    measure: str  # complaints | hard_bounces
    level: Level
    rate: float | None
    numerator: int
    denominator: int
    too_few: bool = False  # over a threshold, but below the counts that would let it pause

    @property
    def sentence(self) -> str:
        """'complaint rate 0.42% (5 of 1,200): sending paused' for the operator."""
        what = "complaint rate" if self.measure == "complaints" else "hard-bounce rate"
        share = "no rate" if self.rate is None else f"{self.rate:.2%}"
        text = f"{what} {share} ({self.numerator:,} of {self.denominator:,})"
        if self.level == Level.PAUSE:
            return f"{text}: paused until an operator confirms"
        if self.too_few:
            return f"{text}: too few to judge"
        return text


def judge_complaints(counts: Counts) -> Verdict:
    """Warn at 0.1%; pause at 0.3% with at least 5 complaints and 1,000 counted deliveries."""
    share = rate(counts.complaints, counts.counted)
    enough = counts.complaints >= MIN_COMPLAINTS and counts.counted >= MIN_DELIVERIES
    if share is None or share < WARN_RATE:
        level = Level.OK
    elif share >= PAUSE_RATE and enough:
        level = Level.PAUSE
    else:
        level = Level.WARN
    return Verdict(
        "complaints",
        level,
        share,
        counts.complaints,
        counts.counted,
        too_few=level == Level.WARN and not enough,
    )


def judge_hard_bounces(counts: Counts) -> Verdict:
    """Warn when more than 2% of a send's emails hard-bounced (never a pause)."""
    share = rate(counts.hard_bounces, counts.sent)
    level = Level.WARN if share is not None and share > HARD_BOUNCE_RATE else Level.OK
    return Verdict("hard_bounces", level, share, counts.hard_bounces, counts.sent)
