"""The content domain's part of a reader's data: their sequence enrolments and steps.

The posts they were sent are the core's deliveries. Erasure ends their enrolments (nothing
more is sent) and keeps the rows: each step's figures count them. Poll answers stay too, on
the anonymous row: a choice among the operator's own answers, counted in the tally.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from content import sequences
from content.models import Poll, PollVote
from content.sequence_models import Enrolment, Sequence, SequenceStep, StepClaim
from growth.models import Subscriber


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_sequences(session: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    """Each enrolment: the sequence, its state, and each step they received, skipped or were held from."""
    enrolments = session.execute(
        select(Enrolment, Sequence.name)
        .join(Sequence, Sequence.id == Enrolment.sequence_id)
        .where(Enrolment.subscriber_id == subscriber.id)
        .order_by(Enrolment.id)
    ).all()
    claims = session.execute(
        select(StepClaim, SequenceStep.position, SequenceStep.subject)
        .join(SequenceStep, SequenceStep.id == StepClaim.step_id)
        .where(StepClaim.subscriber_id == subscriber.id)
        .order_by(StepClaim.at, StepClaim.id)
    ).all()
    steps: dict[int, list[dict[str, Any]]] = {}
    for claim, position, subject in claims:
        steps.setdefault(claim.enrolment_id, []).append(
            {
                "step": position,
                "subject": subject,
                "state": claim.state,
                "reason": claim.reason,
                "at": _iso(claim.at),
            }
        )
    return [
        {
            "sequence": name,
            "trigger": e.trigger,
            "state": e.state,
            "holdout": e.holdout,
            "enrolled_at": _iso(e.enrolled_at),
            "left_at": _iso(e.left_at),
            "left_reason": e.left_reason,
            "steps": steps.get(e.id, []),
        }
        for e, name in enrolments
    ]


def export_polls(session: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    """Each poll they answered and their current answer (erasure keeps it: the row is anonymous then)."""
    rows = session.execute(
        select(Poll.question, PollVote.answer_text, PollVote.first_at, PollVote.answered_at)
        .join(Poll, Poll.id == PollVote.poll_id)
        .where(PollVote.subscriber_id == subscriber.id)
        .order_by(PollVote.id)
    )
    return [
        {"poll": q, "answer": a, "first_answered_at": _iso(first), "answered_at": _iso(last)}
        for q, a, first, last in rows
    ]


def erase_sequences(session: Session, subscriber: Subscriber, now: dt.datetime) -> None:
    """Every enrolment ends now; nothing more is sent."""
    sequences.leave_all(session, subscriber.id, now, "erased")


def register() -> None:
    """Called from the domain's init_app."""
    from growth import privacy

    privacy.register_part("sequences", export=export_sequences, erase=erase_sequences)
    privacy.register_part("polls", export=export_polls)
