"""Operator control of sends, and the scheduler's tick.

Progress, resending a batch whose outcome is unknown (only ever an operator's decision),
sending to the skipped who are now allowed, test sends, and `send_due`, which publishes due
posts, starts due sends, turns batches whose worker died into `unknown` and resumes stalled sends.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session

from content import composer, pacing, paywall, segments, subject_tests
from content.metrics import send_progress
from content.models import BatchState, Post, Send, SendBatch, SendState
from content.sending import (
    FULL,
    TEASER,
    finish_if_done,
    masthead_config,
    new_batch,
    set_deliveries,
    start_send,
)
from growth import jobs
from growth.db import UTCDateTime, ids_in
from growth.errors import Conflict, NotFound
from growth.mailer import BatchRecipient, OutgoingMessage, SendError, get_backend
from growth.models import Delivery, DeliveryState, Newsletter, Status, Subscriber

# A batch in flight longer than this belongs to a worker that died (RQ's job timeout is 600 s).
IN_FLIGHT_LEASE = dt.timedelta(minutes=15)
# A batch is given up only this long after its claim, even if its worker's beat is missing.
HOLDER_GRACE = dt.timedelta(seconds=20)
STOPPED = "worker stopped during the provider request"
# A sending send with no batch activity for this long is resumed by the scheduler's tick.
STALL_AFTER = dt.timedelta(minutes=5)


def mark_stale_in_flight(session: Session, now: dt.datetime, lease: dt.timedelta = IN_FLIGHT_LEASE) -> int:
    """Batches in flight whose worker is gone: unknown, never resent by themselves.

    Gone: the worker that claimed it no longer beats (growth.jobs liveness, within a minute of a
    kill), or, when that cannot be told (no Redis, an in-process send), the lease has passed.
    """
    flying = session.scalars(select(SendBatch).where(SendBatch.state == BatchState.IN_FLIGHT)).all()
    holders = sorted({h for b in flying if (h := (b.detail or {}).get("worker"))})
    alive = jobs.workers_alive(holders) if holders else None

    def gone(batch: SendBatch) -> bool:
        holder = (batch.detail or {}).get("worker")
        if batch.started_at is None:
            return False
        if batch.started_at < now - lease:
            return True
        dead = alive is not None and holder is not None and holder not in alive
        return dead and batch.started_at < now - HOLDER_GRACE

    stale = [b for b in flying if gone(b)]
    for batch in stale:
        batch.state = BatchState.UNKNOWN
        holder = (batch.detail or {}).get("worker")
        batch.error = f"worker {holder} stopped during the provider request" if holder else STOPPED
        batch.finished_at = now
        # Its deliveries waited as queued for the outcome that never came (`sending`: a batch
        # claimed by a release that marked them so before the request).
        set_deliveries(
            session,
            list(batch.delivery_ids),
            (DeliveryState.QUEUED, DeliveryState.SENDING),
            state=DeliveryState.UNKNOWN,
            attempts=Delivery.attempts + 1,
            error=batch.error,
        )
    session.flush()
    for send_id in sorted({b.send_id for b in stale}):
        finish_if_done(session, send_id, now)  # the other batches may all be done already
    return len(stale)


def resend_batch(session: Session, batch: SendBatch, now: dt.datetime) -> None:
    """An operator's decision: send an unknown or failed batch again."""
    if batch.state not in (BatchState.UNKNOWN, BatchState.FAILED):
        raise Conflict("only an unknown or failed batch can be resent", code="batch_not_resendable")
    previous = batch.state
    set_deliveries(session, list(batch.delivery_ids), previous, state=DeliveryState.QUEUED, error=None)
    batch.state = BatchState.QUEUED
    batch.error = None
    send = session.get(Send, batch.send_id)
    assert send is not None
    if send.state == SendState.DONE:
        send.state = SendState.SENDING
        send.finished_at = None
    session.flush()
    jobs.enqueue("content.deliver_batch", batch.id)


def get_batch(session: Session, send_id: int, number: int) -> SendBatch:
    """A batch of a send by number, or NotFound."""
    batch = session.scalars(
        select(SendBatch).where(SendBatch.send_id == send_id, SendBatch.number == number)
    ).first()
    if batch is None:
        raise NotFound("No such batch.", code="batch_not_found")
    return batch


def send_to_skipped(session: Session, send: Send, now: dt.datetime) -> int:
    """Re-check a send's skipped recipients; those now allowed get batches. Returns how many."""
    if send.state not in (SendState.SENDING, SendState.DONE):
        raise Conflict("the send has not started", code="send_not_started")
    config = masthead_config()
    size = config.send_batch_size
    post = session.get(Post, send.post_id)
    assert post is not None
    subject = (
        subject_tests.subject_for(session, send, post) if subject_tests.test_of(session, send.id) else None
    )
    after, requeued = 0, 0
    while True:
        rows = session.execute(
            select(Delivery.id, Delivery.subscriber_id)
            .where(
                Delivery.send_id == send.id,
                Delivery.state == DeliveryState.SKIPPED,
                Delivery.id > after,
            )
            .order_by(Delivery.id)
            .limit(size)
        ).all()
        if not rows:
            break
        after = rows[-1][0]
        sub_ids = [r[1] for r in rows]
        allowed = {
            sid: stage
            for sid, status, stage, paused in session.execute(
                select(Subscriber.id, Subscriber.status, Subscriber.stage, Subscriber.paused_until).where(
                    ids_in(Subscriber.id, sub_ids)
                )
            )
            if status == Status.ACTIVE and (paused is None or paused <= now)
        }
        reasons = segments.skips_for_send(session, send, sorted(allowed), now, config)
        ready = [sid for sid in sub_ids if sid in allowed and sid not in reasons]
        if not ready:
            continue
        delivery_of = {sid: did for did, sid in rows if sid in set(ready)}
        ids = sorted(delivery_of.values())
        set_deliveries(session, ids, DeliveryState.SKIPPED, state=DeliveryState.QUEUED, error=None)
        readers = paywall.full_readers(session, post.audience, [(sid, allowed[sid]) for sid in ready])
        for edition, group in (
            (FULL, [sid for sid in ready if readers is None or sid in readers]),
            (TEASER, [sid for sid in ready if readers is not None and sid not in readers]),
        ):
            if group:
                batch = new_batch(
                    session, send.id, sorted(delivery_of[sid] for sid in group), now, edition, subject=subject
                )
                jobs.enqueue("content.deliver_batch", batch.id)
        requeued += len(ids)
    if requeued and send.state == SendState.DONE:
        send.state = SendState.SENDING
        send.finished_at = None
    session.flush()
    return requeued


def _last_activity(session: Session, send: Send) -> dt.datetime:
    """When a send last made progress: its start, or a batch planned, claimed or finished."""
    latest = session.scalar(
        select(
            # max() loses the column type on SQLite; coerce so it comes back as aware UTC.
            type_coerce(
                func.max(func.coalesce(SendBatch.finished_at, SendBatch.started_at, SendBatch.created_at)),
                UTCDateTime(),
            )
        ).where(SendBatch.send_id == send.id)
    )
    start = send.started_at or send.created_at
    return max(start, latest) if latest else start


def send_due(session: Session, now: dt.datetime) -> dict[str, int]:
    """The scheduler's tick: publish due posts, start due sends, resume stalled ones."""
    from content.posts import publish_due

    published = publish_due(session, now)
    stale = mark_stale_in_flight(session, now)
    decided = subject_tests.decide_due(session, now)
    started = []
    for send in session.scalars(
        select(Send).where(Send.state == SendState.SCHEDULED, Send.scheduled_at <= now)
    ).all():
        if start_send(session, send, now):
            started.append(send.id)
    resumed = 0
    for send in session.scalars(
        select(Send).where(Send.state.in_([SendState.SENDING, SendState.TESTING]), Send.id.not_in(started))
    ).all():
        # A capped send waiting for room goes on as soon as there is some.
        if _last_activity(session, send) < now - STALL_AFTER or pacing.waiting_for_room(session, send, now):
            # A worker stopped (or the in-process run died): pick it up where it stopped. Even
            # if it still runs, nothing doubles: planning locks the send, batches are claimed.
            jobs.enqueue("content.run_send", send.id)
            resumed += 1
    session.flush()
    return {
        "published": published,
        "unknown": stale,
        "started": len(started),
        "resumed": resumed,
        "tests_decided": decided,
    }


@dataclass
class Progress:
    """A send's figures for the operator."""

    send: Send
    figures: dict[str, object]
    batches: dict[str, int]
    unknown_batches: list[SendBatch]


def progress(session: Session, send: Send) -> Progress:
    """Sent / total / failed / unknown, skipped by reason, batches by state."""
    states = dict(
        session.execute(
            select(Delivery.state, func.count()).where(Delivery.send_id == send.id).group_by(Delivery.state)
        ).all()
    )
    # The queued deliveries of batches in flight are in flight (they wait there for the outcome).
    flying = [
        i
        for ids in session.scalars(
            select(SendBatch.delivery_ids).where(
                SendBatch.send_id == send.id, SendBatch.state == BatchState.IN_FLIGHT
            )
        )
        for i in ids
    ]
    if flying:
        in_flight = (
            session.scalar(
                select(func.count()).where(
                    ids_in(Delivery.id, flying), Delivery.state == DeliveryState.QUEUED
                )
            )
            or 0
        )
        states[DeliveryState.QUEUED] = states.get(DeliveryState.QUEUED, 0) - in_flight
        states[DeliveryState.SENDING] = states.get(DeliveryState.SENDING, 0) + in_flight
    reasons = dict(
        session.execute(
            select(Delivery.error, func.count())
            .where(Delivery.send_id == send.id, Delivery.state == DeliveryState.SKIPPED)
            .group_by(Delivery.error)
        ).all()
    )
    batches = dict(
        session.execute(
            select(SendBatch.state, func.count())
            .where(SendBatch.send_id == send.id)
            .group_by(SendBatch.state)
        ).all()
    )
    attention = list(
        session.scalars(
            select(SendBatch)
            .where(
                SendBatch.send_id == send.id,
                SendBatch.state.in_([BatchState.UNKNOWN, BatchState.FAILED]),
            )
            .order_by(SendBatch.number)
        )
    )
    return Progress(
        send,
        send_progress(states, {k or "unknown": v for k, v in reasons.items()}),
        batches,
        attention,
    )


def preview_message(post: Post, newsletter: Newsletter | None, teaser: bool = False) -> OutgoingMessage:
    """The post email as a test send to a non-subscriber receives it (the editor's preview)."""
    one = BatchRecipient(
        to_email="preview@example.com",
        substitutions=composer.sample_substitutions(post, newsletter),
        custom_args={"kind": "test"},
    )
    message = composer.batch_message(composer.render_post_email(post, newsletter, teaser), newsletter, [one])
    return message.for_recipient(one)


def send_test_email(session: Session, post: Post, to_email: str) -> str:
    """Send the post to one address now (a subscriber's address gets their own links)."""
    from growth.subscribers import find_by_email, normalize_email

    address, _ = normalize_email(to_email)
    newsletter = session.get(Newsletter, post.newsletter_id)
    subscriber = find_by_email(session, address)
    if subscriber is not None:
        values = composer.substitutions(session, subscriber, newsletter, post, None)
    else:
        values = composer.sample_substitutions(post, newsletter)
    one = BatchRecipient(to_email=address, substitutions=values, custom_args={"kind": "test"})
    message = composer.batch_message(
        composer.render_post_email(post, newsletter), newsletter, [one], subject_prefix="[Test] "
    )
    try:
        return get_backend().send(message.for_recipient(one))
    except SendError as exc:
        raise Conflict(f"the test send failed: {exc}", code="test_send_failed") from exc


def sends_of(session: Session, post_id: int) -> list[Send]:
    """A post's sends, newest first."""
    return list(session.scalars(select(Send).where(Send.post_id == post_id).order_by(Send.id.desc())))
