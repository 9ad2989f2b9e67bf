"""Per-step figures of a sequence, from events already stored, against its holdout.

Emailed readers are the step's `sent` and `welcome` claims; the holdout are its `held_out`
claims (the same moment in the series, no email). Opens and clicks come from the provider's
events on the step's deliveries (machine opens and scanner clicks apart). Unsubscribes and
complaints are status changes within UNSUBSCRIBE_DAYS of the step, and "started paying" is a
move to the `paying` stage within PAYING_DAYS: counted alike for both groups, so they compare
(not attribution).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from content import sequence_metrics as sm
from content.sequence_models import ClaimState, Sequence, StepClaim
from growth.models import Delivery, EmailEvent, Newsletter, SubscriberEvent

PAYING_DAYS = 30
UNSUBSCRIBE_DAYS = 7
EMAILED = (ClaimState.SENT, ClaimState.WELCOME)


def newsletter_slug(session: Session, newsletter_id: int) -> str:
    """A newsletter's slug."""
    return session.scalar(select(Newsletter.slug).where(Newsletter.id == newsletter_id)) or ""


def _moments(
    session: Session, step_id: int, field: str, values: tuple[str, ...]
) -> dict[int, list[dt.datetime]]:
    who = select(StepClaim.subscriber_id).where(StepClaim.step_id == step_id)
    out: dict[int, list[dt.datetime]] = defaultdict(list)
    for sid, at in session.execute(
        select(SubscriberEvent.subscriber_id, SubscriberEvent.at).where(
            SubscriberEvent.subscriber_id.in_(who),
            SubscriberEvent.field == field,
            SubscriberEvent.to_value.in_(values),
        )
    ):
        out[sid].append(at)
    return out


def step_figures(session: Session, sequence: Sequence, now: dt.datetime) -> dict[int, dict[str, Any]]:
    """{step_id: figures} for every step of the sequence (removed ones too)."""
    out: dict[int, dict[str, Any]] = {}
    for step in sequence.steps:
        states: dict[str, int] = defaultdict(int)
        skipped: dict[str, int] = defaultdict(int)
        for state, reason, n in session.execute(
            select(StepClaim.state, StepClaim.reason, func.count())
            .where(StepClaim.step_id == step.id)
            .group_by(StepClaim.state, StepClaim.reason)
        ):
            states[state] += n
            if state == ClaimState.SKIPPED:
                skipped[reason or "unknown"] += n
        events: dict[str, int] = defaultdict(int)
        for etype, machine, scanner, n in session.execute(
            select(
                EmailEvent.type,
                EmailEvent.is_machine,
                EmailEvent.is_scanner,
                func.count(distinct(EmailEvent.delivery_id)),
            )
            .join(StepClaim, StepClaim.delivery_id == EmailEvent.delivery_id)
            .where(StepClaim.step_id == step.id)
            .group_by(EmailEvent.type, EmailEvent.is_machine, EmailEvent.is_scanner)
        ):
            if etype == "open":
                events["machine_opens" if machine else "human_opens"] += n
            elif etype == "click":
                events["scanner_clicks" if scanner else "clicks"] += n
            else:
                events[etype] += n
        outcomes = dict(
            session.execute(
                select(Delivery.state, func.count())
                .select_from(StepClaim)
                .join(Delivery, Delivery.id == StepClaim.delivery_id)
                .where(StepClaim.step_id == step.id)
                .group_by(Delivery.state)
            ).all()
        )
        claims = session.execute(
            select(StepClaim.subscriber_id, StepClaim.at, StepClaim.state).where(StepClaim.step_id == step.id)
        ).all()
        emailed = [(sid, at) for sid, at, state in claims if state in EMAILED]
        held = [(sid, at) for sid, at, state in claims if state == ClaimState.HELD_OUT]
        paying = _moments(session, step.id, "stage", ("paying",))
        left = _moments(session, step.id, "status", ("unsubscribed",))
        complained = _moments(session, step.id, "status", ("complained",))

        mine, theirs = (
            {
                "readers": len(rows),
                "unsubscribed": sm.reached_within(rows, left, UNSUBSCRIBE_DAYS),
                "complained": sm.reached_within(rows, complained, UNSUBSCRIBE_DAYS),
                "started_paying_30d": sm.reached_within(rows, paying, PAYING_DAYS),
            }
            for rows in (emailed, held)
        )
        comparison = sm.compare_rates(
            mine["readers"], mine["started_paying_30d"], theirs["readers"], theirs["started_paying_30d"]
        )
        out[step.id] = {
            "removed": step.removed_at is not None,
            "claimed": dict(states),
            "skipped_by_reason": dict(skipped),
            "deliveries": outcomes,  # by state: sent, failed, unknown (shown as such, never resent)
            "delivered": events.get("delivered", 0),
            "human_opens": events.get("human_opens", 0),
            "machine_opens": events.get("machine_opens", 0),
            "clicks": events.get("clicks", 0),
            "scanner_clicks": events.get("scanner_clicks", 0),
            "unsubscribes": mine["unsubscribed"],
            "complaints": max(mine["complained"], events.get("spamreport", 0)),
            "started_paying_30d": mine["started_paying_30d"],
            "holdout": theirs,
            "paying_difference": {
                "rate": comparison.rate,
                "holdout_rate": comparison.holdout_rate,
                "difference": comparison.difference,
                "ci95": [comparison.low, comparison.high] if comparison.low is not None else None,
            },
        }
    return out
