"""Sending a post to a segment: plan batches, send each once, resume after any crash.

A send resolves its recipients a batch at a time (keyset over subscriber ids) and writes one
Delivery per (send, subscriber) under the unique constraint, together with the SendBatch that
carries the queued ones. A batch is claimed (state in_flight, committed) before its provider
request and marked sent after it; its deliveries go from queued to their outcome in one write.
A worker that dies in between leaves the batch in_flight; `mark_stale_in_flight` turns it and
its deliveries to unknown, which is never resent except by an operator.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, Table, func, insert, select, update
from sqlalchemy.orm import Session

from content import composer, pacing, paywall, related, segments, sponsorships, subject_tests, webhook_events
from content.metrics import NO_LONGER_ACTIVE
from content.models import BatchState, Post, Send, SendBatch, SendState
from content.posts import is_live
from growth import jobs
from growth.db import commit, db, ids_in, utcnow
from growth.errors import Conflict, NotFound, ValidationFailed
from growth.mailer import SendError, UnsendableMessage, get_backend
from growth.models import Delivery, DeliveryState, Newsletter, Status, Subscriber
from growth.subscribers import is_paused

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)
FULL, TEASER = "full", "teaser"  # the editions of a post email


def masthead_config():  # type: ignore[no-untyped-def]
    """The app's Config."""
    return current_app.config["MASTHEAD"]


def retry_delays() -> tuple[float, ...]:
    """Backoff before each retry of a 429 or 5xx (SEND_RETRY_DELAYS in config.extra for tests)."""
    raw = masthead_config().extra.get("send_retry_delays")
    if raw is None:
        return DEFAULT_RETRY_DELAYS
    return tuple(float(x) for x in str(raw).split(",") if x.strip())


# ---------------------------------------------------------------------------------------------
# Creating sends


def create_send(
    session: Session,
    post: Post,
    segment_text: str,
    now: dt.datetime,
    scheduled_at: dt.datetime | None = None,
    operator_id: int | None = None,
    test: subject_tests.TestPlan | None = None,
) -> Send:
    """A send of a post to a segment, now or at `scheduled_at`; starts at once when due.

    With a subject test, samples of the audience get each subject first (`subject_tests`).
    """
    segment = segments.parse_segment(segment_text)
    when = scheduled_at or now
    if not is_live(post, when):  # published, or scheduled to be by the time the send starts
        raise ValidationFailed(
            "publish the post (or schedule it before the send) first: its web link must work",
            code="post_not_published",
        )
    send = Send(
        post_id=post.id,
        newsletter_id=post.newsletter_id,
        segment=str(segment),
        kind=post.kind,
        state=SendState.SCHEDULED,
        scheduled_at=when,
        created_by=operator_id,
        created_at=now,
    )
    session.add(send)
    session.flush()
    sponsorships.join_send(session, send)  # the day's booked sponsors; a sponsored send is a pitch
    if test is not None:
        subject_tests.attach(session, send, test)
    if when <= now:
        start_send(session, send, now)
    return send


def start_send(session: Session, send: Send, now: dt.datetime) -> bool:
    """Move a due send to sending and queue its run; False while the complaint guard holds sends.

    With a subject test, its samples go first (`subject_tests`). A held send stays scheduled:
    the tick starts it once an operator confirms the hold.
    """
    from content import complaint_guard

    if send.state == SendState.SCHEDULED:
        hold = complaint_guard.holding_alert(session)
        if hold is not None:
            log.warning("send %s held: %s", send.id, complaint_guard.describe(hold))
            return False
        test = subject_tests.test_of(session, send.id)
        if test is not None and test.started_at is None:
            subject_tests.start(session, send, test, now)
            return True
        send.state = SendState.SENDING
        send.started_at = now
        session.flush()
    if send.state == SendState.SENDING:
        jobs.enqueue("content.run_send", send.id)
    return True


def cancel_send(session: Session, send: Send) -> None:
    """Cancel a scheduled send before it starts."""
    if send.state != SendState.SCHEDULED:
        raise Conflict("only a scheduled send can be cancelled", code="send_started")
    send.state = SendState.CANCELLED
    sponsorships.release_send(session, send)  # the day's next send carries its sponsors instead
    session.flush()


def get_send(session: Session, send_id: int) -> Send:
    """A send by id, or NotFound; read afresh (its batches may have just run in another session)."""
    send = session.get(Send, send_id, populate_existing=True)
    if send is None:
        raise NotFound("No such send.", code="send_not_found")
    return send


# ---------------------------------------------------------------------------------------------
# Planning batches


def _lock_send(session: Session, send_id: int) -> Send:
    # One planner at a time per send (FOR UPDATE on PostgreSQL); fresh values after the wait.
    return session.scalars(
        select(Send).where(Send.id == send_id).with_for_update().execution_options(populate_existing=True)
    ).one()


def _next_number(session: Session, send_id: int) -> int:
    return (session.scalar(select(func.max(SendBatch.number)).where(SendBatch.send_id == send_id)) or 0) + 1


def plan_next_batch(session: Session, send_id: int, now: dt.datetime) -> list[SendBatch]:
    """Resolve the next recipients of a send into deliveries and batches; [] when done.

    Skipped recipients (pitch rules) get a `skipped` delivery with the reason, so they are
    counted and can be sent to later. Of a paid post, readers without access get the teaser
    edition: it goes in batches of its own (at most one more request per call).
    """
    config = masthead_config()
    send = _lock_send(session, send_id)
    if send.resolved or send.state != SendState.SENDING:
        return []
    post = session.get(Post, send.post_id)
    assert post is not None
    segment = segments.parse_segment(send.segment)
    size = config.send_batch_size
    # After a subject test: its samples have their deliveries, and the rest get its choice.
    tested = subject_tests.test_of(session, send.id) is not None
    subject = subject_tests.subject_for(session, send, post)
    # A capped newsletter plans only what its cap leaves room for now; the tick comes back.
    room = pacing.room_now(session, send.newsletter_id, now)
    if room is not None and room <= 0:
        return []
    limit = size * 2 if room is None else min(size, room)  # both editions together
    full: list[segments.Candidate] = []
    teaser: list[segments.Candidate] = []
    skipped: list[tuple[segments.Candidate, str]] = []
    cursor = send.resolved_through
    while len(full) < size and len(teaser) < size and len(full) + len(teaser) < limit:
        page, last = segments.candidate_page(session, send.newsletter_id, segment, now, cursor, size)
        if last is None:
            send.resolved = True
            break
        reasons = segments.skips_for_send(session, send, [c.id for c in page], now, config)
        readers = paywall.full_readers(session, post.audience, [(c.id, c.stage) for c in page])
        sampled = subject_tests.already_have(session, send.id, [c.id for c in page]) if tested else set()
        for candidate in page:
            if len(full) >= size or len(teaser) >= size or len(full) + len(teaser) >= limit:
                break
            if candidate.id in sampled:
                pass
            elif candidate.id in reasons:
                skipped.append((candidate, reasons[candidate.id]))
            elif readers is None or candidate.id in readers:
                full.append(candidate)
            else:
                teaser.append(candidate)
            cursor = candidate.id
        else:
            cursor = last  # the whole page was looked at, filtered rows included
    send.resolved_through = cursor

    def row(c: segments.Candidate, state: str, error: str | None) -> dict[str, object]:
        return {
            "subscriber_id": c.id,
            "newsletter_id": send.newsletter_id,
            "send_id": send.id,
            "kind": send.kind,
            "template": "post",
            "state": state,
            "to_email": c.email,
            "subject": subject,
            "attempts": 0,
            "error": error,
            "created_at": now,
        }

    rows = [row(c, DeliveryState.QUEUED, None) for c in full + teaser]
    rows += [row(c, DeliveryState.SKIPPED, reason) for c, reason in skipped]
    delivery_of: dict[int, int] = {}
    if rows:
        # Core, no ORM bookkeeping; and no RETURNING: with it SQLAlchemy renders one statement of
        # ten thousand parameters instead of the driver's pipelined executemany (4x slower).
        session.execute(insert(cast(Table, Delivery.__table__)), rows)
        # Their ids, by a range on the unique (send_id, subscriber_id) index: this call's
        # subscribers lie between its first and last, and no other call reaches that range.
        taken = [c.id for c in full + teaser] + [c.id for c, _ in skipped]
        delivery_of = dict(
            session.execute(
                select(Delivery.subscriber_id, Delivery.id).where(
                    Delivery.send_id == send.id,
                    Delivery.subscriber_id.between(min(taken), max(taken)),
                )
            ).all()
        )
    batches = [
        new_batch(
            session,
            send.id,
            sorted(delivery_of[c.id] for c in group),
            now,
            edition,
            subject=subject if tested else None,
        )
        for edition, group in ((FULL, full), (TEASER, teaser))
        if group
    ]
    session.flush()
    return batches


def new_batch(
    session: Session,
    send_id: int,
    delivery_ids: list[int],
    now: dt.datetime,
    edition: str = FULL,
    subject: str | None = None,
    variant: int | None = None,
) -> SendBatch:
    """A queued batch carrying these deliveries (already queued), numbered after the last.

    `subject` replaces the post's title as the subject (a subject test's variant or choice).
    """
    detail: dict[str, object] = {"edition": edition}
    if subject is not None:
        detail["subject"] = subject
    if variant is not None:
        detail["variant"] = variant
    batch = SendBatch(
        send_id=send_id,
        number=_next_number(session, send_id),
        delivery_ids=delivery_ids,
        size=len(delivery_ids),
        state=BatchState.QUEUED,
        created_at=now,
        detail=detail,
    )
    session.add(batch)
    session.flush()
    return batch


# ---------------------------------------------------------------------------------------------
# Jobs


@jobs.task("content.run_send", on_redis_down=jobs.TICK)  # the tick finds it in the database
def run_send(send_id: int) -> str:
    """Resume queued batches, then plan the rest one batch per commit; each batch is its own job."""
    session = db.session
    send = session.get(Send, send_id)
    if send is None or send.state not in (SendState.SENDING, SendState.TESTING):
        return "idle"
    for batch_id in session.scalars(
        select(SendBatch.id).where(SendBatch.send_id == send_id, SendBatch.state == BatchState.QUEUED)
    ).all():
        jobs.enqueue("content.deliver_batch", batch_id)
    commit()
    if send.state == SendState.TESTING:  # the rest waits for the test's decision (the tick's)
        return "testing"
    while True:
        batches = plan_next_batch(session, send_id, utcnow())
        for batch in batches:
            jobs.enqueue("content.deliver_batch", batch.id)
        done = not batches
        commit()  # the batch exists before its job runs; in-process the job runs right here
        session.expunge_all()  # keep memory flat over a long list
        if done:
            break
    finish_if_done(session, send_id, utcnow())
    commit()
    return "planned"


def finish_if_done(session: Session, send_id: int, now: dt.datetime) -> bool:
    """Mark a send done once resolved and no batch waits or flies."""
    send = session.get(Send, send_id)
    if send is None or send.state != SendState.SENDING or not send.resolved:
        return False
    open_batches = session.scalar(
        select(func.count()).where(
            SendBatch.send_id == send_id,
            SendBatch.state.in_([BatchState.QUEUED, BatchState.IN_FLIGHT]),
        )
    )
    if open_batches:
        return False
    send.state = SendState.DONE
    send.finished_at = now
    session.flush()
    webhook_events.send_finished(session, send, now)
    return True


def set_deliveries(
    session: Session, ids: list[int], from_state: str | tuple[str, ...], **values: object
) -> None:
    """Move these deliveries on, only those still in `from_state` (a guard against races)."""
    if ids:
        states = (from_state,) if isinstance(from_state, str) else from_state
        session.execute(
            update(Delivery)
            .where(ids_in(Delivery.id, ids), Delivery.state.in_(states))
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _definitely_not_sent(exc: SendError) -> bool:
    """An HTTP answer (429/5xx) or a refused connection: the provider took nothing."""
    if exc.status is not None:
        return True
    cause = exc.__cause__
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, ConnectionRefusedError)


@jobs.task("content.deliver_batch", on_redis_down=jobs.TICK)  # the tick finds it in the database
def deliver_batch(batch_id: int) -> str:
    """Send one batch exactly once: claim it (committed), one request, then record the outcome."""
    session = db.session
    batch = session.get(SendBatch, batch_id)
    if batch is None or batch.state != BatchState.QUEUED:
        return batch.state if batch else "missing"
    send = session.get(Send, batch.send_id)
    assert send is not None
    post = session.get(Post, send.post_id)
    newsletter = session.get(Newsletter, send.newsletter_id)
    assert post is not None
    now = utcnow()
    # Plain rows, not ORM objects: a batch is a thousand of them.
    pairs = session.execute(
        select(Delivery.id, Delivery.subscriber_id)
        .where(ids_in(Delivery.id, batch.delivery_ids), Delivery.state == DeliveryState.QUEUED)
        .order_by(Delivery.id)
    ).all()
    people = {
        s.id: s
        for s in session.scalars(select(Subscriber).where(ids_in(Subscriber.id, [sid for _, sid in pairs])))
    }
    going, ids, gone = [], [], []
    for delivery_id, subscriber_id in pairs:
        sub = people.get(subscriber_id)
        # Resolved minutes ago; status may have changed since: only active, unpaused mail goes.
        if sub is None or sub.status != Status.ACTIVE or is_paused(sub, now):
            gone.append(delivery_id)
            continue
        going.append((sub, delivery_id))
        ids.append(delivery_id)
    recipients, unsendable = composer.recipients(session, going, newsletter, post, send.id, send.kind)
    if unsendable:
        ids = [i for i in ids if i not in unsendable]
    teaser = (batch.detail or {}).get("edition") == TEASER
    subject = (batch.detail or {}).get("subject")
    more = related.more_like_this(session, post, now)  # per post: one rendering serves the batch
    sponsors = sponsorships.placements_for_send(session, send.id)
    message = composer.batch_message(
        composer.render_post_email(
            post, newsletter, teaser=teaser, subject=subject, more=more, sponsors=sponsors
        ),
        newsletter,
        recipients,
    )
    backend = get_backend()
    # The claim: a conditional UPDATE, so of two workers holding the same batch one sends it.
    # It names the worker holding it, so the tick can tell at once when that worker is gone.
    holder = jobs.worker_identity()
    claimed_detail = {**(batch.detail or {}), **({"worker": holder} if holder else {})}
    claim = session.execute(
        update(SendBatch)
        .where(SendBatch.id == batch_id, SendBatch.state == BatchState.QUEUED)
        .values(
            state=BatchState.IN_FLIGHT, started_at=now, attempts=SendBatch.attempts + 1, detail=claimed_detail
        )
        .execution_options(synchronize_session=False)
    )
    claimed = cast(CursorResult[Any], claim).rowcount
    if claimed != 1:
        session.rollback()
        return "taken"
    # The batch keeps only the deliveries it sends: those dropped here may be queued again in
    # another batch (send to skipped), and no delivery may belong to two batches, since their
    # state stays queued while a batch is in flight.
    if gone or unsendable:
        session.execute(
            update(SendBatch)
            .where(SendBatch.id == batch_id)
            .values(delivery_ids=ids, size=len(ids))
            .execution_options(synchronize_session=False)
        )
    set_deliveries(session, gone, DeliveryState.QUEUED, state=DeliveryState.SKIPPED, error=NO_LONGER_ACTIVE)
    for delivery_id, reason in unsendable.items():  # each fails alone; the rest of the batch goes
        set_deliveries(
            session,
            [delivery_id],
            DeliveryState.QUEUED,
            state=DeliveryState.FAILED,
            attempts=Delivery.attempts + 1,
            error=reason,
        )
    session.expunge_all()
    # In flight before the request: from here a crash means unknown, never a resend. The batch
    # carries that state; its deliveries stay queued until the outcome (one write each, not two).
    commit()
    outcome, provider_id, error = _post_with_retries(backend, message) if recipients else ("sent", None, None)
    done_at = utcnow()
    outcome_values: dict[str, object] = {"state": outcome, "provider": backend.name}
    if outcome == "sent":
        outcome_values.update(provider_message_id=provider_id, sent_at=done_at)
    else:
        outcome_values["error"] = error
    # From unknown too: had the tick given this worker up for dead (Redis away, its beat lapsed),
    # the real outcome replaces that guess.
    set_deliveries(
        session,
        ids,
        (DeliveryState.QUEUED, DeliveryState.UNKNOWN),
        attempts=Delivery.attempts + 1,
        **outcome_values,
    )
    session.execute(
        update(SendBatch)
        .where(SendBatch.id == batch_id)
        .values(state=outcome, provider_message_id=provider_id, error=error, finished_at=done_at)
        .execution_options(synchronize_session=False)
    )
    commit()
    finish_if_done(session, send.id, done_at)
    commit()
    log.info("send %s batch %s: %s (%d recipients)", send.id, batch_id, outcome, len(ids))
    return outcome


def _post_with_retries(backend, message) -> tuple[str, str | None, str | None]:  # type: ignore[no-untyped-def]
    """('sent', id, None) or ('failed'|'unknown', None, error); 429/5xx retried with backoff."""
    delays = retry_delays()
    attempt = 0
    while True:
        try:
            return "sent", backend.send_batch(message), None
        except UnsendableMessage as exc:  # built before anything went out
            return BatchState.FAILED, None, str(exc)
        except SendError as exc:
            if not _definitely_not_sent(exc):
                log.error("batch request ended without an answer: %s", exc)
                return BatchState.UNKNOWN, None, str(exc)
            if not exc.transient or attempt >= len(delays):
                return BatchState.FAILED, None, str(exc)
            log.warning("batch refused (%s); retry %d in %.1fs", exc, attempt + 1, delays[attempt])
            time.sleep(delays[attempt])
            attempt += 1
        except Exception as exc:  # noqa: BLE001 - the batch must not stay in flight
            log.exception("batch request failed unexpectedly")
            return BatchState.UNKNOWN, None, f"unexpected error: {exc}"[:2000]
