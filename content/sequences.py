"""Sequences: creating and editing them, enrolling subscribers on triggers, leaving, the welcome.

Enrolment follows the core's signals (confirmed, stage and status changes, pause, the billing
moments billing announces); nothing here imports another domain. Functions take the session
first, may flush, never commit. Sending is in `content.sequence_engine`.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from content import polls, rendering, segments
from content.sequence_metrics import is_held_out, validate_window
from content.sequence_models import ClaimState, Enrolment, EnrolmentState, Sequence, SequenceStep, StepClaim
from growth import links
from growth.db import insert_ignoring_conflicts
from growth.errors import Conflict, NotFound, ValidationFailed
from growth.fields import Rule
from growth.models import Membership, MembershipStatus, Newsletter, Stage, Status, Subscriber
from growth.subscribers import default_newsletter, is_paused, resolve_newsletters

# The shared field rules: one-line texts (they reach mail headers) refuse control characters.
RULES = {
    "name": Rule.of(Sequence.name),
    "subject": Rule.of(SequenceStep.subject),
    "preview": Rule.of(SequenceStep.preview),
    "body": Rule("body", 200_000, multiline=True),
}

BILLING_TRIGGERS = ("upgraded", "cancel_scheduled", "churned")
WIN_BACK_TRIGGERS = ("cancel_scheduled", "churned")  # these stop once the reader pays again
TRIGGERS = ("confirmed", *(f"stage:{s.value}" for s in Stage), *BILLING_TRIGGERS)
# A reader's answer starts these: a custom field given that value, a poll answered so.
ANSWER_TRIGGER_KINDS = ("field", "poll")
TRIGGER_LENGTH = 64


def is_trigger(trigger: str | None) -> bool:
    """One of TRIGGERS, or field:<name>=<value> / poll:<id>=<answer> (the segment forms)."""
    if trigger in TRIGGERS:
        return True
    if not trigger or len(trigger) > TRIGGER_LENGTH or trigger.partition(":")[0] not in ANSWER_TRIGGER_KINDS:
        return False
    try:
        return str(segments.parse_segment(trigger)) == trigger
    except ValidationFailed:
        return False


DEFAULT_HOLDOUT = 5
MAX_HOLDOUT = 50
MAX_DELAY_MINUTES = 366 * 24 * 60


# ---------------------------------------------------------------------------------------------
# Creating and editing


@dataclass
class StepInput:
    """A step as an operator describes it; `id` names an existing step (PATCH keeps it)."""

    subject: str = ""  # required of a new step (checked with the rest)
    body: str = ""
    preview: str = ""
    delay_minutes: int = 0
    kind: str = "value"
    window_days: list[int] | None = None
    window_start_hour: int | None = None
    window_end_hour: int | None = None
    condition: str | None = None
    id: int | None = None
    # The fields given (an existing step keeps the others); None: all of them.
    given: set[str] | None = None


STEP_FIELDS = (
    "subject",
    "body",
    "preview",
    "delay_minutes",
    "kind",
    "window_days",
    "window_start_hour",
    "window_end_hour",
    "condition",
)


def _merged(step: SequenceStep, data: StepInput) -> StepInput:
    """An existing step's input with only the given fields changed."""
    if data.given is None:
        return data
    current: dict[str, Any] = {
        "subject": step.subject,
        "body": step.body_markdown,
        "preview": step.preview,
        "delay_minutes": step.delay_minutes,
        "kind": step.kind,
        "window_days": step.window_days,
        "window_start_hour": step.window_start_hour,
        "window_end_hour": step.window_end_hour,
        "condition": step.condition,
    }
    current.update({k: getattr(data, k) for k in STEP_FIELDS if k in data.given})
    return StepInput(**current, id=step.id)


@dataclass
class SequenceInput:
    """A sequence as an operator describes it (create: every field; update: those given)."""

    name: str | None = None
    trigger: str | None = None
    newsletter: str | None = None
    steps: list[StepInput] | None = None
    active: bool | None = None
    holdout_percent: int | None = None
    repeatable: bool | None = None
    pitch_wait_days: int | None = None
    given: set[str] = field(default_factory=set)


def _check_step(step: StepInput) -> None:
    if not (step.subject or "").strip() or len(step.subject) > 300:
        raise ValidationFailed("each step needs a subject (at most 300 characters)", code="invalid_step")
    if len(step.preview or "") > 300:
        raise ValidationFailed("a step's preview is at most 300 characters", code="invalid_step")
    for name in ("subject", "preview", "body"):
        RULES[name].clean(getattr(step, name) or "")
    if step.kind not in ("value", "pitch"):
        raise ValidationFailed("a step's kind is value or pitch", code="invalid_step")
    if links.announces_offer(step.body):  # an email announcing an offer is a pitch
        step.kind = "pitch"
    if not isinstance(step.delay_minutes, int) or not 0 <= step.delay_minutes <= MAX_DELAY_MINUTES:
        raise ValidationFailed("delay_minutes is 0 to 527040 (a year)", code="invalid_step")
    problem = validate_window(step.window_days, step.window_start_hour, step.window_end_hour)
    if problem:
        raise ValidationFailed(problem, code="invalid_window")
    if step.condition:
        segments.parse_segment(step.condition)


def _check(data: SequenceInput, creating: bool, sequence: Sequence | None = None) -> None:
    if (creating or "name" in data.given) and (not (data.name or "").strip() or len(data.name or "") > 200):
        raise ValidationFailed("a sequence needs a name (at most 200 characters)", code="invalid_name")
    if creating or "name" in data.given:
        RULES["name"].clean(data.name or "")
    if (creating or "trigger" in data.given) and not is_trigger(data.trigger):
        raise ValidationFailed(
            f"trigger must be one of: {', '.join(TRIGGERS)}, field:<name>=<value> or poll:<id>=<answer>",
            code="invalid_trigger",
        )
    if data.holdout_percent is not None and not 0 <= data.holdout_percent <= MAX_HOLDOUT:
        raise ValidationFailed("holdout_percent is 0 to 50", code="invalid_holdout")
    if data.pitch_wait_days is not None and not 0 <= data.pitch_wait_days <= 365:
        raise ValidationFailed("pitch_wait_days is 0 to 365", code="invalid_field")
    existing = {s.id: s for s in sequence.steps} if sequence is not None else {}
    for step in data.steps or []:
        _check_step(_merged(existing[step.id], step) if step.id in existing else step)


def _apply_step(step: SequenceStep, data: StepInput, position: int) -> None:
    step.position = position
    step.subject = data.subject.strip()
    step.preview = (data.preview or "").strip()
    step.body_markdown = data.body or ""
    step.body_html = rendering.render_markdown(step.body_markdown)  # sanitised as posts are
    step.delay_minutes = data.delay_minutes
    step.kind = data.kind
    step.window_days = sorted(set(data.window_days)) if data.window_days else None
    step.window_start_hour = data.window_start_hour
    step.window_end_hour = data.window_end_hour
    step.condition = str(segments.parse_segment(data.condition)) if data.condition else None


def _set_steps(sequence: Sequence, steps: list[StepInput], now: dt.datetime) -> None:
    """Make the live steps exactly `steps`, in that order; steps left out are removed, kept."""
    existing = {s.id: s for s in sequence.steps if s.removed_at is None}
    unknown = [s.id for s in steps if s.id is not None and s.id not in existing]
    if unknown:
        raise ValidationFailed(f"no such step in this sequence: {unknown[0]}", code="unknown_step")
    kept = {s.id for s in steps if s.id is not None}
    for step_id, step in existing.items():
        if step_id not in kept:
            step.removed_at = now
            step.position = 0
    for position, data in enumerate(steps, start=1):
        found = existing[data.id] if data.id is not None else None
        if found is None:
            found = SequenceStep(created_at=now)
            sequence.steps.append(found)
        else:
            data = _merged(found, data)
        _apply_step(found, data, position)


def create_sequence(session: Session, data: SequenceInput, now: dt.datetime) -> Sequence:
    """A new sequence of a newsletter (the default one unless named); active unless told not."""
    _check(data, creating=True)
    newsletter = resolve_newsletters(session, [data.newsletter] if data.newsletter else None)[0]
    sequence = Sequence(
        newsletter_id=newsletter.id,
        name=(data.name or "").strip(),
        trigger=data.trigger or "confirmed",
        active=True if data.active is None else data.active,
        repeatable=bool(data.repeatable),
        holdout_percent=DEFAULT_HOLDOUT if data.holdout_percent is None else data.holdout_percent,
        pitch_wait_days=14 if data.pitch_wait_days is None else data.pitch_wait_days,
        created_at=now,
        updated_at=now,
    )
    session.add(sequence)
    _set_steps(sequence, data.steps or [], now)
    session.flush()
    return sequence


def update_sequence(session: Session, sequence: Sequence, data: SequenceInput, now: dt.datetime) -> Sequence:
    """Change a sequence, live or not: enrolments continue with their next unreceived step."""
    if sequence.archived_at is not None:
        raise Conflict("an archived sequence cannot change", code="sequence_archived")
    if sequence.welcome_newsletter_id is not None and "trigger" in data.given and data.trigger != "confirmed":
        raise ValidationFailed("the welcome sequence starts at confirmation", code="invalid_trigger")
    _check(data, creating=False, sequence=sequence)
    if "newsletter" in data.given and data.newsletter:
        sequence.newsletter_id = resolve_newsletters(session, [data.newsletter])[0].id
    for name in ("name", "trigger", "holdout_percent", "repeatable", "pitch_wait_days"):
        if name in data.given and getattr(data, name) is not None:
            value = getattr(data, name)
            setattr(sequence, name, value.strip() if isinstance(value, str) else value)
    if "steps" in data.given and data.steps is not None:
        _set_steps(sequence, data.steps, now)
    if "active" in data.given and data.active is not None:
        sequence.active = data.active
    sequence.updated_at = now
    session.flush()
    rearm(session, sequence, now)
    return sequence


def rearm(session: Session, sequence: Sequence, now: dt.datetime) -> None:
    """Have the next tick look at every active enrolment again (steps, delays or state changed)."""
    session.execute(
        update(Enrolment)
        .where(Enrolment.sequence_id == sequence.id, Enrolment.state == EnrolmentState.ACTIVE)
        .values(next_due_at=now if sequence.active else None)
        .execution_options(synchronize_session=False)
    )


def set_active(session: Session, sequence: Sequence, active: bool, now: dt.datetime) -> None:
    """Pause (nothing is sent, nobody enrols) or resume a sequence."""
    update_sequence(session, sequence, SequenceInput(active=active, given={"active"}), now)


def archive_sequence(session: Session, sequence: Sequence, now: dt.datetime) -> None:
    """Stop a sequence for good: everyone in it leaves; its figures stay."""
    sequence.active = False
    sequence.archived_at = now
    sequence.updated_at = now
    session.execute(
        update(Enrolment)
        .where(Enrolment.sequence_id == sequence.id, Enrolment.state == EnrolmentState.ACTIVE)
        .values(state=EnrolmentState.LEFT, left_at=now, left_reason="archived", next_due_at=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()


def get_sequence(session: Session, sequence_id: int) -> Sequence:
    """A sequence by id, or NotFound."""
    sequence = session.get(Sequence, sequence_id)
    if sequence is None:
        raise NotFound("No such sequence.", code="sequence_not_found")
    return sequence


def list_sequences(session: Session) -> list[Sequence]:
    """Every sequence (the welcome series first), archived ones last."""
    ensure_welcome_sequence(session)
    return list(
        session.scalars(
            select(Sequence).order_by(
                Sequence.archived_at.is_not(None), Sequence.welcome_newsletter_id.is_(None), Sequence.id
            )
        )
    )


def enrolment_counts(session: Session, sequence_id: int) -> dict[str, int]:
    """Enrolments by state, holdout apart."""
    rows = session.execute(
        select(Enrolment.state, Enrolment.holdout, func.count())
        .where(Enrolment.sequence_id == sequence_id)
        .group_by(Enrolment.state, Enrolment.holdout)
    ).all()
    out = {"active": 0, "left": 0, "holdout": 0}
    for state, holdout, n in rows:
        out[state] = out.get(state, 0) + n
        if holdout:
            out["holdout"] += n
    out["waiting"] = (
        session.scalar(
            select(func.count()).where(
                Enrolment.sequence_id == sequence_id,
                Enrolment.state == EnrolmentState.ACTIVE,
                Enrolment.waiting_reason.is_not(None),
            )
        )
        or 0
    )
    return out


def waiting_reasons(session: Session, sequence_id: int) -> dict[str, int]:
    """Why active enrolments wait now (a pitch for value, the cap, a window...), with counts."""
    return dict(
        (reason or "", n)
        for reason, n in session.execute(
            select(Enrolment.waiting_reason, func.count())
            .where(
                Enrolment.sequence_id == sequence_id,
                Enrolment.state == EnrolmentState.ACTIVE,
                Enrolment.waiting_reason.is_not(None),
            )
            .group_by(Enrolment.waiting_reason)
        ).all()
    )


# ---------------------------------------------------------------------------------------------
# The welcome


WELCOME_BODY = (
    "You're in. Welcome to **{publication}**.\n\n"
    "Every issue lands here; reply any time, a person reads every answer."
)


def ensure_welcome_sequence(session: Session, newsletter: Newsletter | None = None) -> Sequence:
    """The default newsletter's welcome sequence, created on first use with today's welcome."""

    newsletter = newsletter or default_newsletter(session)
    query = select(Sequence).where(Sequence.welcome_newsletter_id == newsletter.id)
    sequence = session.scalars(query).first()
    if sequence is not None:
        return sequence
    from growth import branding

    publication = branding.current().name
    try:
        with session.begin_nested():
            sequence = Sequence(
                newsletter_id=newsletter.id,
                name="Welcome",
                trigger="confirmed",
                active=True,
                holdout_percent=0,
                welcome_newsletter_id=newsletter.id,
            )
            session.add(sequence)
            _set_steps(
                sequence,
                [
                    StepInput(
                        subject=f"Welcome to {publication}", body=WELCOME_BODY.format(publication=publication)
                    )
                ],
                sequence.created_at or dt.datetime.now(dt.UTC),
            )
            session.flush()
    except IntegrityError:  # a racing confirmation created it first
        sequence = session.scalars(query).one()
    return sequence


def welcome_content(
    session: Session, subscriber: Subscriber, newsletter: Newsletter | None
) -> dict[str, Any] | None:
    """The welcome email's words from the welcome sequence's first step (growth.emails hook)."""
    target = newsletter or default_newsletter(session)
    if not target.is_default:
        return None
    sequence = ensure_welcome_sequence(session, target)
    steps = sequence.live_steps
    if not sequence.active or not steps:
        return None
    step = steps[0]
    html = step.body_html
    # The welcome is one message: its polls get this reader's URLs now (no delivery id yet).
    for placeholder, url in polls.substitutions(subscriber.id, None, polls.STEP, step.id, html).items():
        html = html.replace(placeholder, url)
    return {
        "welcome_subject": step.subject,
        "welcome_html": html,
        "welcome_text": step.body_markdown,
        "welcome_sequence_id": sequence.id,
        "welcome_step_id": step.id,
    }


def on_welcome_queued(
    subscriber: Subscriber, *, session: Session, delivery: Any, context: dict[str, Any], **_: object
) -> None:
    """The welcome went out as the welcome sequence's first step: enrol, and claim that step."""
    sequence_id, step_id = context.get("welcome_sequence_id"), context.get("welcome_step_id")
    if sequence_id is None or step_id is None:
        return
    sequence = session.get(Sequence, sequence_id)
    if sequence is None:
        return
    now = delivery.created_at or dt.datetime.now(dt.UTC)
    enrolment = enrol(session, sequence, subscriber, now, "confirmed")
    if enrolment is None:
        return
    session.execute(
        insert_ignoring_conflicts(StepClaim.__table__),
        [
            {
                "enrolment_id": enrolment.id,
                "step_id": step_id,
                "subscriber_id": subscriber.id,
                "state": ClaimState.WELCOME,
                "delivery_id": delivery.id,
                "at": now,
            }
        ],
    )
    enrolment.last_step_at = now
    session.flush()


# ---------------------------------------------------------------------------------------------
# Enrolling and leaving


def enrol(
    session: Session, sequence: Sequence, subscriber: Subscriber, now: dt.datetime, trigger: str
) -> Enrolment | None:
    """Enrol once per sequence (again only when it may repeat and the last one ended); or None."""
    if not sequence.active or sequence.archived_at is not None:
        return None
    latest = session.scalars(
        select(Enrolment)
        .where(Enrolment.sequence_id == sequence.id, Enrolment.subscriber_id == subscriber.id)
        .order_by(Enrolment.number.desc())
        .limit(1)
    ).first()
    if latest is not None and (latest.state == EnrolmentState.ACTIVE or not sequence.repeatable):
        return None
    number = latest.number + 1 if latest else 1
    held_out = is_held_out(random.random(), sequence.holdout_percent)
    session.execute(
        insert_ignoring_conflicts(Enrolment.__table__),
        [
            {
                "sequence_id": sequence.id,
                "subscriber_id": subscriber.id,
                "number": number,
                "state": EnrolmentState.ACTIVE,
                "holdout": held_out,
                "trigger": trigger,
                "enrolled_at": now,
                "next_due_at": now,
            }
        ],
    )
    return session.scalars(
        select(Enrolment).where(
            Enrolment.sequence_id == sequence.id,
            Enrolment.subscriber_id == subscriber.id,
            Enrolment.number == number,
        )
    ).first()


def enrol_on(
    session: Session, subscriber: Subscriber, trigger: str, now: dt.datetime, include_welcome: bool = False
) -> int:
    """Enrol a subscriber in every active sequence with this trigger on a newsletter they read.

    The welcome series starts with the welcome at confirmation (`on_welcome_queued`), so a
    confirmation leaves it out; an import asked to enrol (`include_welcome`) does not.
    """
    if subscriber.status != Status.ACTIVE:
        return 0
    # An answer's words match whatever their case (the operator typed the trigger).
    answer = trigger.partition(":")[0] in ANSWER_TRIGGER_KINDS
    matches = func.lower(Sequence.trigger) == trigger.lower() if answer else Sequence.trigger == trigger
    found = session.scalars(
        select(Sequence).where(matches, Sequence.active.is_(True), Sequence.archived_at.is_(None))
    ).all()
    if not found:  # the common case of a stage change: one cheap query
        return 0
    newsletter_ids = set(
        session.scalars(
            select(Membership.newsletter_id).where(
                Membership.subscriber_id == subscriber.id, Membership.status == MembershipStatus.ACTIVE
            )
        )
    )
    n = 0
    for sequence in found:
        if sequence.newsletter_id in newsletter_ids and (
            include_welcome or sequence.welcome_newsletter_id is None
        ):
            n += enrol(session, sequence, subscriber, now, trigger) is not None
    session.flush()
    return n


def leave_all(
    session: Session,
    subscriber_id: int,
    now: dt.datetime,
    reason: str,
    triggers: tuple[str, ...] | None = None,
) -> None:
    """End the subscriber's active enrolments (only in sequences with these triggers, if given)."""
    query = update(Enrolment).where(
        Enrolment.subscriber_id == subscriber_id, Enrolment.state == EnrolmentState.ACTIVE
    )
    if triggers is not None:
        query = query.where(
            Enrolment.sequence_id.in_(select(Sequence.id).where(Sequence.trigger.in_(triggers)))
        )
    session.execute(
        query.values(
            state=EnrolmentState.LEFT, left_at=now, left_reason=reason, next_due_at=None
        ).execution_options(synchronize_session=False)
    )


# Signal handlers (connected in content.init_app)


def on_confirmed(subscriber: Subscriber, *, session: Session, now: dt.datetime, **_: object) -> None:
    enrol_on(session, subscriber, "confirmed", now)


def on_imported(
    subscriber: Subscriber, *, session: Session, now: dt.datetime, enrol: bool, **_: object
) -> None:
    if enrol:  # never welcomed: the welcome series' first step goes out as a sequence email
        enrol_on(session, subscriber, "confirmed", now, include_welcome=True)


def on_changed(
    subscriber: Subscriber, *, session: Session, field: str, new: str, now: dt.datetime, **_: object
) -> None:
    if field == "status" and new != Status.ACTIVE:
        leave_all(session, subscriber.id, now, f"status:{new}")
    elif field == "stage":
        if new == Stage.PAYING:
            leave_all(session, subscriber.id, now, "paying", WIN_BACK_TRIGGERS)
        if not is_paused(subscriber, now):
            enrol_on(session, subscriber, f"stage:{new}", now)


def on_paused(
    subscriber: Subscriber, *, session: Session, until: dt.datetime | None, now: dt.datetime, **_: object
) -> None:
    if until is not None and until > now:
        leave_all(session, subscriber.id, now, "paused")


def on_upgraded(subscriber: Subscriber, *, session: Session, now: dt.datetime, **_: object) -> None:
    leave_all(session, subscriber.id, now, "paying", WIN_BACK_TRIGGERS)
    enrol_on(session, subscriber, "upgraded", now)


def on_kept(subscriber: Subscriber, *, session: Session, now: dt.datetime, **_: object) -> None:
    """They stay (a cancellation undone, a retention offer taken, a payment recovered)."""
    leave_all(session, subscriber.id, now, "kept", WIN_BACK_TRIGGERS)


def on_cancel_scheduled(subscriber: Subscriber, *, session: Session, now: dt.datetime, **_: object) -> None:
    enrol_on(session, subscriber, "cancel_scheduled", now)


def on_churned(subscriber: Subscriber, *, session: Session, now: dt.datetime, **_: object) -> None:
    enrol_on(session, subscriber, "churned", now)


# Step-at-a-time edits (the admin pages): each rewrites the live list through update_sequence.


def step_inputs(sequence: Sequence) -> list[StepInput]:
    """The live steps as inputs, in order, each naming its id."""
    return [
        StepInput(
            id=s.id,
            subject=s.subject,
            body=s.body_markdown,
            preview=s.preview,
            delay_minutes=s.delay_minutes,
            kind=s.kind,
            window_days=s.window_days,
            window_start_hour=s.window_start_hour,
            window_end_hour=s.window_end_hour,
            condition=s.condition,
        )
        for s in sequence.live_steps
    ]


def _replace_steps(session: Session, sequence: Sequence, steps: list[StepInput], now: dt.datetime) -> None:
    update_sequence(session, sequence, SequenceInput(steps=steps, given={"steps"}), now)


def save_step(
    session: Session,
    sequence: Sequence,
    step_id: int | None,
    data: StepInput,
    now: dt.datetime,
    position: int | None = None,
) -> None:
    """Change one step, or add one (at `position`, 1-based; at the end when None)."""
    steps = step_inputs(sequence)
    if step_id is None:
        data.id = None
        at = len(steps) if position is None else max(0, min(len(steps), position - 1))
        steps.insert(at, data)
    else:
        index = next((i for i, s in enumerate(steps) if s.id == step_id), None)
        if index is None:
            raise NotFound("No such step.", code="step_not_found")
        data.id = step_id
        steps[index] = data
    _replace_steps(session, sequence, steps, now)


def move_step(session: Session, sequence: Sequence, step_id: int, offset: int, now: dt.datetime) -> None:
    """Move a step up (-1) or down (+1) in the order."""
    steps = step_inputs(sequence)
    index = next((i for i, s in enumerate(steps) if s.id == step_id), None)
    if index is None:
        raise NotFound("No such step.", code="step_not_found")
    target = max(0, min(len(steps) - 1, index + offset))
    steps.insert(target, steps.pop(index))
    _replace_steps(session, sequence, steps, now)


def remove_step(session: Session, sequence: Sequence, step_id: int, now: dt.datetime) -> None:
    """Remove a step from the order (its claims and figures stay)."""
    steps = step_inputs(sequence)
    if not any(s.id == step_id for s in steps):
        raise NotFound("No such step.", code="step_not_found")
    _replace_steps(session, sequence, [s for s in steps if s.id != step_id], now)


def on_field_set(
    subscriber_id: int, *, session: Session, name: str, value: str, now: dt.datetime, **_: object
) -> None:
    """A custom field got a value: sequences triggered by field:<name>=<value> start."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is not None and not is_paused(subscriber, now):
        enrol_on(session, subscriber, f"field:{name}={value}"[:TRIGGER_LENGTH], now)
