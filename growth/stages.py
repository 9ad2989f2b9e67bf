"""Who is really reading, and where each subscriber sits in the funnel: pure functions.

Nothing here touches the database or the clock: facts and `now` come in, answers go out.

Definitions
-----------
- A *human engagement* is a click that is not a security scanner's, an open that is not a
  machine open (Apple Mail Privacy Protection), or a web visit through a signed link.
- *Quiet since*: the later of the last human engagement and the moment they joined (confirmed).
- Classification at `now`, with window W = ENGAGED_WINDOW_DAYS:
  ``engaged``     a human engagement within W days;
  ``unknown``     none, but machine opens within W days: likely reading, we cannot tell;
  ``disengaged``  neither. They have been disengaged since ``quiet_since + W``.
- Score: every human engagement adds its weight (click 3, web visit 2, open 1, reply 3,
  poll answer 2) halved for every SCORE_HALF_LIFE_DAYS (30) of age:
  ``score = sum(weight * 0.5 ** (age_days / 30))``. A click today scores 3.0, one 30 days old 1.5;
  machine opens and scanner clicks score 0.
- *Presumed nurtured* (``presumed``): Apple Mail Privacy Protection fetches every message, so a
  reader on Apple Mail shows only machine opens and stays ``unknown`` forever. Such a reader is
  presumed nurtured when, since their last unsubscribe or complaint (if any), they received at
  least ``2 * NURTURE_MIN_VALUE`` value emails and the first and last of those lie at least
  PRESUME_AFTER_DAYS (30) apart (`presumed_nurtured`). The setting PRESUME_NURTURED turns it off.
  Presumed readers are a stage of their own, counted apart from those nurtured on human signals.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from growth.models import Stage

SCORE_HALF_LIFE_DAYS = 30
PRESUME_AFTER_DAYS = 30
SCORE_WEIGHTS = {"click": 3.0, "web_visit": 2.0, "open": 1.0, "reply": 3.0, "poll_answer": 2.0}

# Billing owns these (and signed_up belongs to double opt-in): a recompute never moves them.
FOREIGN_STAGES = frozenset({Stage.SIGNED_UP, Stage.PAYING, Stage.CHURNED})


class Engagement(enum.StrEnum):
    """Is this subscriber reading?"""

    ENGAGED = "engaged"
    UNKNOWN = "unknown"
    DISENGAGED = "disengaged"


@dataclass(frozen=True)
class Fact:
    """One email event as engagement sees it."""

    type: str
    at: dt.datetime
    is_machine: bool = False
    is_scanner: bool = False

    @property
    def is_human(self) -> bool:
        """Counts as engagement: a reader's click, open, visit, reply or poll answer."""
        if self.type == "click":
            return not self.is_scanner
        if self.type == "open":
            return not self.is_machine
        return self.type in SCORE_WEIGHTS

    @property
    def is_machine_open(self) -> bool:
        return self.type == "open" and self.is_machine


@dataclass(frozen=True)
class Policy:
    """The thresholds the rules use (from Config)."""

    engaged_window_days: int = 30
    nurture_min_value: int = 3
    lapsed_after_days: int = 90
    presume_nurtured: bool = True

    @classmethod
    def from_config(cls, config: object) -> Policy:
        return cls(
            engaged_window_days=config.engaged_window_days,  # type: ignore[attr-defined]
            nurture_min_value=config.nurture_min_value,  # type: ignore[attr-defined]
            lapsed_after_days=config.lapsed_after_days,  # type: ignore[attr-defined]
            presume_nurtured=config.presume_nurtured,  # type: ignore[attr-defined]
        )


def classify(
    last_human: dt.datetime | None,
    last_machine: dt.datetime | None,
    now: dt.datetime,
    window_days: int,
) -> Engagement:
    """Engaged, unknown (only machine opens in the window) or disengaged."""
    start = now - dt.timedelta(days=window_days)
    if last_human is not None and last_human >= start:
        return Engagement.ENGAGED
    if last_machine is not None and last_machine >= start:
        return Engagement.UNKNOWN
    return Engagement.DISENGAGED


def quiet_since(last_human: dt.datetime | None, joined_at: dt.datetime | None) -> dt.datetime | None:
    """Since when nothing human has been heard: last engagement, or joining if later."""
    moments = [m for m in (last_human, joined_at) if m is not None]
    return max(moments) if moments else None


def disengaged_since(
    engagement: Engagement,
    last_human: dt.datetime | None,
    joined_at: dt.datetime | None,
    window_days: int,
) -> dt.datetime | None:
    """When a disengaged subscriber became disengaged (None unless disengaged)."""
    if engagement != Engagement.DISENGAGED:
        return None
    quiet = quiet_since(last_human, joined_at)
    return quiet + dt.timedelta(days=window_days) if quiet is not None else None


def score(facts: Iterable[Fact], now: dt.datetime) -> float:
    """Decayed sum of human engagements (see the module docstring), rounded to 2 places."""
    total = 0.0
    for fact in facts:
        if not fact.is_human or fact.at > now:
            continue
        age_days = (now - fact.at).total_seconds() / 86400
        total += SCORE_WEIGHTS.get(fact.type, 0.0) * 0.5 ** (age_days / SCORE_HALF_LIFE_DAYS)
    return round(total, 2)


@dataclass(frozen=True)
class Summary:
    """A subscriber's engagement at `now`."""

    engagement: Engagement
    last_engagement_at: dt.datetime | None
    last_machine_open_at: dt.datetime | None
    disengaged_since: dt.datetime | None
    engagements_30d: int
    engagements_90d: int
    opens_30d: int
    clicks_30d: int
    web_visits_30d: int
    machine_opens_90d: int
    scanner_clicks_90d: int
    score: float


def summarize(
    facts: Iterable[Fact], now: dt.datetime, joined_at: dt.datetime | None, window_days: int = 30
) -> Summary:
    """Everything the engagement summary shows, from a subscriber's events."""
    facts = [f for f in facts if f.at <= now]
    d30, d90 = now - dt.timedelta(days=30), now - dt.timedelta(days=90)
    human = [f for f in facts if f.is_human]
    recent = [f for f in human if f.at >= d30]
    last_human = max((f.at for f in human), default=None)
    last_machine = max((f.at for f in facts if f.is_machine_open), default=None)
    engagement = classify(last_human, last_machine, now, window_days)
    return Summary(
        engagement=engagement,
        last_engagement_at=last_human,
        last_machine_open_at=last_machine,
        disengaged_since=disengaged_since(engagement, last_human, joined_at, window_days),
        engagements_30d=len(recent),
        engagements_90d=sum(1 for f in human if f.at >= d90),
        opens_30d=sum(1 for f in recent if f.type == "open"),
        clicks_30d=sum(1 for f in recent if f.type == "click"),
        web_visits_30d=sum(1 for f in recent if f.type == "web_visit"),
        machine_opens_90d=sum(1 for f in facts if f.is_machine_open and f.at >= d90),
        scanner_clicks_90d=sum(1 for f in facts if f.type == "click" and f.is_scanner and f.at >= d90),
        score=score(human, now),
    )


def presumed_nurtured(
    engagement: Engagement,
    value_received_at: Iterable[dt.datetime],
    objections_at: Iterable[dt.datetime],
    now: dt.datetime,
    policy: Policy,
) -> bool:
    """Whether an ``unknown`` reader is presumed nurtured (see the module docstring).

    `value_received_at`: when each value email was sent to them; `objections_at`: when they
    unsubscribed or complained. Only value emails after the last objection count, none after `now`.
    """
    if not policy.presume_nurtured or engagement != Engagement.UNKNOWN:
        return False
    last_objection = max((t for t in objections_at if t <= now), default=None)
    received = sorted(
        t for t in value_received_at if t <= now and (last_objection is None or t > last_objection)
    )
    if len(received) < 2 * policy.nurture_min_value:
        return False
    return received[-1] - received[0] >= dt.timedelta(days=PRESUME_AFTER_DAYS)


def next_stage(
    current: str,
    engagement: Engagement,
    engaged_value_emails: int,
    disengaged_since_at: dt.datetime | None,
    now: dt.datetime,
    policy: Policy,
    presumed: bool = False,
) -> str:
    """The stage a subscriber belongs in now.

    - signed_up, paying, churned: unchanged (double opt-in and billing own them);
    - engaged: ``nurtured`` with NURTURE_MIN_VALUE value emails engaged with, else ``engaged``
      (a ``presumed`` reader stays presumed until nurtured on human signals: a person's click
      confirms the presumption, it does not take the paid tier's offer away);
    - unknown and `presumed` (`presumed_nurtured`): ``presumed``, unless already ``nurtured``;
    - unknown otherwise: unchanged (machine opens are not silence, nor proof of reading);
    - disengaged for LAPSED_AFTER_DAYS or more: ``lapsed``; for less: unchanged.
    """
    if current in FOREIGN_STAGES:
        return current
    if engagement == Engagement.ENGAGED:
        if engaged_value_emails >= policy.nurture_min_value:
            return Stage.NURTURED
        return Stage.PRESUMED if current == Stage.PRESUMED else Stage.ENGAGED
    if engagement == Engagement.UNKNOWN and presumed and current != Stage.NURTURED:
        return Stage.PRESUMED
    lapse_after = dt.timedelta(days=policy.lapsed_after_days)
    if (
        engagement == Engagement.DISENGAGED
        and disengaged_since_at is not None
        and now - disengaged_since_at >= lapse_after
    ):
        return Stage.LAPSED
    return current


def time_in_stages(
    transitions: Iterable[tuple[dt.datetime, str]], now: dt.datetime
) -> dict[str, dt.timedelta]:
    """Total time spent in each stage, from (at, new stage) transitions; the last runs to `now`."""
    ordered = sorted(t for t in transitions if t[0] <= now)
    ends = [at for at, _ in ordered[1:]] + [now]
    spent: dict[str, dt.timedelta] = {}
    for (start, stage), end in zip(ordered, ends, strict=False):
        spent[stage] = spent.get(stage, dt.timedelta()) + (end - start)
    return spent
