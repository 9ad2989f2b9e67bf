"""Sending sequence steps: the tick claims each due (enrolment, step) once, then queues its email.

`run_sequences` reads due enrolments off the `next_due_at` index a thousand at a time (on
PostgreSQL `FOR UPDATE SKIP LOCKED`, so two ticks take different rows), decides each one's next
step, and inserts the claims with ON CONFLICT DO NOTHING: a claim that comes back is this tick's
to send, one that does not belongs to a tick that got there first. Claims, deliveries and the
enrolments' new due times commit together, before any job runs. A step's email then goes out in
batches (`content.deliver_sequence_batch`): deliveries go queued -> sending (committed) before
the provider request, so a crash leaves them `sending` and the tick turns them `unknown`,
never resent by itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, cast

from flask import current_app, render_template
from sqlalchemy import CursorResult, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session, selectinload

from content import complaint_guard, composer, polls, segments
from content import sequence_metrics as sm
from content.sending import _post_with_retries
from content.sequence_models import ClaimState, Enrolment, EnrolmentState, Sequence, SequenceStep, StepClaim
from growth import access, branding, emails, jobs
from growth.db import commit, db, ids_in, insert_ignoring_conflicts, reserve_ids, utcnow
from growth.mailer import BatchMessage, BatchRecipient, get_backend
from growth.models import Delivery, DeliveryState, Newsletter, Status, Subscriber
from growth.subscribers import is_paused

log = logging.getLogger(__name__)

CHUNK = 1000
TEMPLATE = "sequence"
PITCH_RECHECK = dt.timedelta(hours=6)  # a waiting pitch looks again this often
PAUSED_RECHECK = dt.timedelta(minutes=15)  # a step the complaint guard paused: this often
SENDING_LEASE = dt.timedelta(minutes=15)  # longer than RQ's job timeout: its worker died
ORPHAN_AFTER = dt.timedelta(minutes=5)  # queued this long without a batch job running it
# Deliveries that may still count as a newsletter today (a post send's, not failed or skipped).
NEWSLETTER_STATES = (DeliveryState.QUEUED, DeliveryState.SENDING, DeliveryState.SENT, DeliveryState.UNKNOWN)


@dataclass
class Plan:
    """A loaded sequence: its live steps in order."""

    sequence: Sequence
    steps: list[SequenceStep]

    def step(self, step_id: int) -> SequenceStep:
        return next(s for s in self.steps if s.id == step_id)

    def next_after(self, received: set[int]) -> SequenceStep | None:
        sid = sm.next_step([(s.id, s.position) for s in self.steps], received)
        return self.step(sid) if sid is not None else None


def _plans(session: Session) -> dict[int, Plan]:
    sequences = session.scalars(
        select(Sequence).where(Sequence.archived_at.is_(None)).options(selectinload(Sequence.steps))
    ).all()
    return {s.id: Plan(s, s.live_steps) for s in sequences}


def _matches(session: Session, condition: str, subs: dict[int, Any], ids: list[int]) -> set[int]:
    """Which of these subscribers a segment expression holds for now."""
    segment = segments.parse_segment(condition)
    if segment.kind == "all":
        return set(ids)
    if segment.kind == "stage":
        return {i for i in ids if subs[i].stage == segment.value}
    if segment.kind == "source":
        return {i for i in ids if subs[i].source == segment.value}
    if segment.kind in ("field", "poll"):
        return set(session.scalars(segments.field_filter(segment).where(*_among(segment, ids))))
    tiers = access.paying_tiers(session, ids)
    if segment.kind == "tier":
        return {i for i in ids if tiers.get(i) == segment.value}
    paying = {i for i in ids if i in tiers or subs[i].stage == "paying"}
    return paying if segment.kind == "paying" else set(ids) - paying


def _among(segment: segments.Segment, ids: list[int]) -> list[Any]:
    from content.models import PollVote
    from growth.models import FieldValue

    column = FieldValue.subscriber_id if segment.kind == "field" else PollVote.subscriber_id
    return [ids_in(column, ids)]


def _due_rows(session: Session, now: dt.datetime, limit: int) -> list[Any]:
    query = (
        select(
            Enrolment.id,
            Enrolment.sequence_id,
            Enrolment.subscriber_id,
            Enrolment.holdout,
            Enrolment.enrolled_at,
            Enrolment.last_step_at,
            Enrolment.waiting_since,
        )
        .where(Enrolment.next_due_at <= now)
        .order_by(Enrolment.next_due_at)
        .limit(limit)
    )
    # PostgreSQL: a second tick skips the rows the first holds. SQLite has one writer at a time
    # (growth.db begins every transaction IMMEDIATE): the second waits, then sees the claims.
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Enrolment)
    return list(session.execute(query).all())


def run_sequences(
    session: Session, now: dt.datetime, chunk: int = CHUNK, max_rounds: int = 10_000
) -> dict[str, int]:
    """The tick's sequence work: every due step claimed once and queued; commits per chunk."""
    figures: Counter[str] = Counter()
    figures.update(recover(session, now))
    commit()
    plans: dict[int, Plan] | None = None
    for _round in range(max_rounds):
        rows = _due_rows(session, now, chunk)
        if not rows:
            session.rollback()
            break
        plans = plans if plans is not None else _plans(session)  # only when something is due
        figures.update(_process(session, plans, rows, now))
        commit()  # claims, deliveries and due times together; then the batch jobs run
    return dict(figures)


def _process(session: Session, plans: dict[int, Plan], rows: list[Any], now: dt.datetime) -> Counter[str]:
    config = current_app.config["MASTHEAD"]
    tz = branding.current().timezone
    cap = config.sequence_emails_per_day
    figures: Counter[str] = Counter()
    enrolment_ids = [r.id for r in rows]
    sub_ids = sorted({r.subscriber_id for r in rows})
    subs = {
        s.id: s
        for s in session.execute(
            select(
                Subscriber.id,
                Subscriber.status,
                Subscriber.paused_until,
                Subscriber.stage,
                Subscriber.source,
                Subscriber.email,
            ).where(ids_in(Subscriber.id, sub_ids))
        )
    }
    received: dict[int, set[int]] = defaultdict(set)
    for eid, step_id in session.execute(
        select(StepClaim.enrolment_id, StepClaim.step_id).where(ids_in(StepClaim.enrolment_id, enrolment_ids))
    ):
        received[eid].add(step_id)
    today = sm.local_day_start(now, tz)
    tomorrow = sm.next_local_day_start(now, tz)
    sent_today: Counter[int] = Counter()
    if cap:
        sent_today.update(
            dict(
                session.execute(
                    select(StepClaim.subscriber_id, func.count())
                    .where(
                        ids_in(StepClaim.subscriber_id, sub_ids),
                        StepClaim.state == ClaimState.SENT,
                        StepClaim.at >= today,
                    )
                    .group_by(StepClaim.subscriber_id)
                ).all()
            )
        )
    newsletter_today = set(
        session.scalars(
            select(Delivery.subscriber_id).where(
                ids_in(Delivery.subscriber_id, sub_ids),
                Delivery.send_id.is_not(None),
                Delivery.created_at >= today,
                Delivery.state.in_(NEWSLETTER_STATES),
            )
        )
    )

    # First pass: each enrolment's next step, and what must be asked about many at once.
    nexts: dict[int, SequenceStep | None] = {}
    for r in rows:
        plan = plans.get(r.sequence_id)
        nexts[r.id] = plan.next_after(received[r.id]) if plan else None
    pitch_ids = sorted(
        {r.subscriber_id for r in rows if (s := nexts[r.id]) and s.kind == "pitch" and not r.holdout}
    )
    pitch_reasons = segments.skip_reasons(
        session, "pitch", pitch_ids, now, config.nurture_min_value, config.pitch_cooldown_days
    )
    paused_steps = complaint_guard.paused_step_ids(session)
    conditions: dict[str, set[int]] = {}
    for cond in {s.condition for s in nexts.values() if s is not None and s.condition}:
        wanting = [r.subscriber_id for r in rows if (s := nexts[r.id]) and s.condition == cond]
        conditions[cond] = _matches(session, cond, subs, wanting)

    updates: dict[int, dict[str, Any]] = {}
    claims: list[dict[str, Any]] = []
    claim_followups: dict[tuple[int, int], dict[str, Any]] = {}

    def wait(r: Any, until: dt.datetime | None, reason: str | None, since: dt.datetime | None = None) -> None:
        updates[r.id] = {"id": r.id, "next_due_at": until, "waiting_reason": reason, "waiting_since": since}
        figures[f"waiting:{reason}" if reason else "not_due"] += 1

    for r in rows:
        plan = plans.get(r.sequence_id)
        sub = subs.get(r.subscriber_id)
        if plan is None:  # archived since: nothing more
            updates[r.id] = {
                "id": r.id,
                "state": EnrolmentState.LEFT,
                "left_at": now,
                "left_reason": "archived",
                "next_due_at": None,
            }
            continue
        if (
            sub is None
            or sub.status != Status.ACTIVE
            or (sub.paused_until is not None and sub.paused_until > now)
        ):
            why = (
                "paused"
                if sub is not None and sub.status == Status.ACTIVE
                else f"status:{sub.status if sub else 'gone'}"
            )
            updates[r.id] = {
                "id": r.id,
                "state": EnrolmentState.LEFT,
                "left_at": now,
                "left_reason": why,
                "next_due_at": None,
            }
            figures["left"] += 1
            continue
        if not plan.sequence.active:
            wait(r, None, None)  # paused sequence: resuming re-arms it
            continue
        step = nexts[r.id]
        if step is None:
            wait(r, None, None)  # caught up: a step added later re-arms it
            continue
        anchor = r.last_step_at or r.enrolled_at
        due = anchor + dt.timedelta(minutes=step.delay_minutes)
        if due > now:
            wait(r, due, None)
            continue
        if step.id in paused_steps:  # the complaint guard paused it: look again after a confirmation
            wait(r, now + PAUSED_RECHECK, sm.WAIT_STEP_PAUSED, r.waiting_since or now)
            continue
        outcome: str | None = None
        reason: str | None = None
        if step.condition and r.subscriber_id not in conditions[step.condition]:
            outcome, reason = ClaimState.SKIPPED, sm.SKIP_CONDITION
        elif r.holdout:
            outcome = ClaimState.HELD_OUT
        if outcome is None:
            window = sm.next_window_start(
                now, tz, step.window_days, step.window_start_hour, step.window_end_hour
            )
            if window > now:
                wait(r, window, sm.WAIT_WINDOW)
                continue
            if step.kind == "pitch" and r.subscriber_id in pitch_reasons:
                since = r.waiting_since or now
                if now - since >= dt.timedelta(days=plan.sequence.pitch_wait_days):
                    outcome, reason = ClaimState.SKIPPED, sm.SKIP_PITCH_WAITED
                else:
                    wait(r, now + PITCH_RECHECK, pitch_reasons[r.subscriber_id], since)
                    continue
        if outcome is None:
            if r.subscriber_id in newsletter_today:
                wait(r, _next_open(tomorrow, tz, step), sm.WAIT_NEWSLETTER_TODAY)
                continue
            if cap and sent_today[r.subscriber_id] >= cap:
                wait(r, _next_open(tomorrow, tz, step), sm.WAIT_DAILY_CAP)
                continue
            outcome = ClaimState.SENT
            sent_today[r.subscriber_id] += 1
        claims.append(
            {
                "enrolment_id": r.id,
                "step_id": step.id,
                "subscriber_id": r.subscriber_id,
                "state": outcome,
                "reason": reason,
                "at": now,
            }
        )
        # The step after this one counts its delay from now (from the due time when skipped).
        last = now if outcome != ClaimState.SKIPPED else max(due, anchor)
        following = plan.next_after(received[r.id] | {step.id})
        claim_followups[(r.id, step.id)] = {
            "id": r.id,
            "last_step_at": last,
            "next_due_at": last + dt.timedelta(minutes=following.delay_minutes) if following else None,
            "waiting_reason": None,
            "waiting_since": None,
        }

    figures.update(_claim(session, plans, rows, subs, claims, claim_followups, updates, now))
    _update_enrolments(session, list(updates.values()))
    session.flush()
    return figures


def _next_open(day_start: dt.datetime, tz: str, step: SequenceStep) -> dt.datetime:
    return sm.next_window_start(day_start, tz, step.window_days, step.window_start_hour, step.window_end_hour)


def _claim(
    session: Session,
    plans: dict[int, Plan],
    rows: list[Any],
    subs: dict[int, Any],
    claims: list[dict[str, Any]],
    followups: dict[tuple[int, int], dict[str, Any]],
    updates: dict[int, dict[str, Any]],
    now: dt.datetime,
) -> Counter[str]:
    """Insert the claims (a conflict: another tick's) with their deliveries; queue the batches.

    No RETURNING (with it a thousand rows become one statement of ten thousand parameters, far
    slower than the driver's executemany): delivery ids are reserved first, and the claims this
    tick won are read back by its token.
    """
    figures: Counter[str] = Counter()
    if not claims:
        return figures
    token = uuid.uuid4().hex
    sequence_of = {r.id: r.sequence_id for r in rows}
    sending = [c for c in claims if c["state"] == ClaimState.SENT]
    for c, did in zip(sending, reserve_ids(session, Delivery.__table__, len(sending)), strict=True):
        c["delivery_id"] = did
    deliveries = []
    for c in sending:
        plan = plans[sequence_of[c["enrolment_id"]]]
        step = plan.step(c["step_id"])
        deliveries.append(
            {
                "id": c["delivery_id"],
                "subscriber_id": c["subscriber_id"],
                "newsletter_id": plan.sequence.newsletter_id,
                "kind": step.kind,
                "template": TEMPLATE,
                "state": DeliveryState.QUEUED,
                "to_email": subs[c["subscriber_id"]].email,
                "subject": step.subject,
                "attempts": 0,
                "created_at": now,
            }
        )
    if deliveries:
        session.execute(insert(cast(Table, Delivery.__table__)), deliveries)
    for c in claims:
        c.setdefault("delivery_id", None)
        c["claimed_by"] = token
    session.execute(insert_ignoring_conflicts(StepClaim.__table__), claims)
    won = set(
        session.execute(
            select(StepClaim.enrolment_id, StepClaim.step_id).where(
                ids_in(StepClaim.enrolment_id, sorted({c["enrolment_id"] for c in claims})),
                StepClaim.claimed_by == token,
            )
        ).all()
    )
    lost = [c for c in claims if (c["enrolment_id"], c["step_id"]) not in won]
    if lost:  # another tick claimed these first: theirs to send, and their enrolments to move on
        figures["lost_to_another_tick"] += len(lost)
        orphaned = [c["delivery_id"] for c in lost if c["delivery_id"] is not None]
        if orphaned:
            session.execute(delete(Delivery).where(ids_in(Delivery.id, orphaned)))
    by_step: dict[int, list[int]] = defaultdict(list)
    for c in claims:
        if (c["enrolment_id"], c["step_id"]) not in won:
            continue
        updates[c["enrolment_id"]] = followups[(c["enrolment_id"], c["step_id"])]
        figures[c["state"]] += 1
        if c["delivery_id"] is not None:
            by_step[c["step_id"]].append(c["delivery_id"])
    size = current_app.config["MASTHEAD"].send_batch_size
    for step_id, dids in by_step.items():
        for start in range(0, len(dids), size):
            jobs.enqueue("content.deliver_sequence_batch", step_id, dids[start : start + size])
    return figures


def _update_enrolments(session: Session, updates: list[dict[str, Any]]) -> None:
    """One executemany per shape of change (core UPDATE by id: no ORM bookkeeping)."""
    table = cast(Table, Enrolment.__table__)
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for u in updates:
        shapes[tuple(sorted(k for k in u if k != "id"))].append(u)
    for keys, items in shapes.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({k: bindparam(f"b_{k}", type_=table.c[k].type) for k in keys})
        )
        session.execute(statement, [{f"b_{k}": v for k, v in u.items()} for u in items])


# ---------------------------------------------------------------------------------------------
# Sending a step's batch


@dataclass
class RenderedStep:
    subject: str
    text: str
    html: str


def render_step_email(step: SequenceStep, newsletter: Newsletter | None) -> RenderedStep:
    """templates/email/sequence.* once per batch, placeholders for everything per recipient."""
    brand = branding.current()
    context: dict[str, Any] = {
        "step": step,
        "newsletter": newsletter,
        "publication": brand.name,
        "publication_address": brand.postal_address,
        "logo_url": brand.logo_url,
        "brand_color": brand.brand_color if composer._COLOR.fullmatch(brand.brand_color) else "#c2410c",
        **{name: composer.KEY[name] for name in composer.PLACEHOLDERS},
    }
    return RenderedStep(
        subject=step.subject,
        text=render_template("email/sequence.txt", **context),
        html=render_template("email/sequence.html", **context),
    )


def _set(session: Session, ids: list[int], from_state: str, **values: Any) -> list[int]:
    if not ids:
        return []
    result = session.execute(
        update(Delivery)
        .where(ids_in(Delivery.id, ids), Delivery.state == from_state)
        .values(**values)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars())


@jobs.task("content.deliver_sequence_batch", on_redis_down=jobs.TICK)  # the tick finds it in the database
def deliver_sequence_batch(step_id: int, delivery_ids: list[int]) -> str:
    """Send one step to these deliveries: claim (queued -> sending, committed), one request, outcome."""
    session = db.session
    step = session.get(SequenceStep, step_id)
    if step is None:
        return "missing"
    sequence = session.get(Sequence, step.sequence_id)
    assert sequence is not None
    newsletter = session.get(Newsletter, sequence.newsletter_id)
    now = utcnow()
    pairs = session.execute(
        select(Delivery.id, Delivery.subscriber_id).where(
            ids_in(Delivery.id, delivery_ids), Delivery.state == DeliveryState.QUEUED
        )
    ).all()
    people = {
        s.id: s
        for s in session.scalars(select(Subscriber).where(ids_in(Subscriber.id, [p[1] for p in pairs])))
    }
    gone = [
        did
        for did, sid in pairs
        if (s := people.get(sid)) is None or s.status != Status.ACTIVE or is_paused(s, now)
    ]
    _set(session, gone, DeliveryState.QUEUED, state=DeliveryState.SKIPPED, error="no longer active")
    backend = get_backend()
    wanted = [did for did, _ in pairs if did not in set(gone)]
    # The claim: only deliveries still queued move on, so two jobs for one batch send it once.
    mine = set(
        _set(
            session,
            wanted,
            DeliveryState.QUEUED,
            state=DeliveryState.SENDING,
            attempts=Delivery.attempts + 1,
            provider=backend.name,
        )
    )
    commit()  # sending before the request: from here a crash means unknown, never a resend
    if not mine:
        return "taken"
    going = [(people[sid], did) for did, sid in pairs if did in mine]
    emails.prefetch_context(session, [s for s, _ in going])
    recipients = []
    for subscriber, did in going:
        values = composer.substitutions(session, subscriber, newsletter, None, did)
        values.update(polls.substitutions(subscriber.id, did, polls.STEP, step.id, step.body_html))
        recipients.append(
            BatchRecipient(
                to_email=subscriber.email,
                to_name=subscriber.name,
                substitutions=values,
                headers={
                    "List-Unsubscribe": f"<{values[composer.KEY['unsubscribe_url']]}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                },
                custom_args={
                    "delivery_id": str(did),
                    "subscriber_id": str(subscriber.id),
                    "kind": step.kind,
                    "sequence_step_id": str(step.id),
                },
            )
        )
    rendered = render_step_email(step, newsletter)
    message = BatchMessage(
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        recipients=recipients,
        from_email=composer.from_address(newsletter),
        reply_to=newsletter.reply_to if newsletter else None,
        custom_args={"template": TEMPLATE},
        categories=[TEMPLATE],
        template=TEMPLATE,
    )
    outcome, provider_id, error = _post_with_retries(backend, message)
    done: dict[str, Any] = {"state": outcome}
    if outcome == "sent":
        done.update(provider_message_id=provider_id, sent_at=utcnow())
    else:
        done["error"] = error
    _set(session, sorted(mine), DeliveryState.SENDING, **done)
    commit()
    log.info("sequence step %s: %s to %d readers", step.id, outcome, len(mine))
    return outcome


# ---------------------------------------------------------------------------------------------
# Recovery


def recover(session: Session, now: dt.datetime) -> dict[str, int]:
    """Sending past the lease -> unknown (never resent by itself); orphaned queued -> a new job."""
    stale = session.execute(
        update(Delivery)
        .where(
            Delivery.template == TEMPLATE,
            Delivery.state == DeliveryState.SENDING,
            Delivery.created_at < now - SENDING_LEASE,
        )
        .values(state=DeliveryState.UNKNOWN, error="worker stopped during the provider request")
        .execution_options(synchronize_session=False)
    )
    # Both read the partial index of open sequence deliveries: nearly empty, whatever the list size.
    queued = session.scalars(
        select(Delivery.id).where(
            Delivery.template == TEMPLATE,
            Delivery.state == DeliveryState.QUEUED,
            Delivery.created_at < now - ORPHAN_AFTER,
        )
    ).all()
    orphans = (
        session.execute(
            select(StepClaim.step_id, StepClaim.delivery_id)
            .where(ids_in(StepClaim.delivery_id, queued))
            .order_by(StepClaim.delivery_id)
        ).all()
        if queued
        else []
    )
    by_step: dict[int, list[int]] = defaultdict(list)
    for step_id, did in orphans:
        if did is not None:
            by_step[step_id].append(did)
    for step_id, dids in by_step.items():
        for start in range(0, len(dids), CHUNK):
            jobs.enqueue("content.deliver_sequence_batch", step_id, dids[start : start + CHUNK])
    return {"unknown": cast(CursorResult[Any], stale).rowcount or 0, "requeued": len(orphans)}
