"""The tick's retry of transactional email left `queued`: confirmations, welcomes, notices.

A delivery stays queued when its job never ran (Redis was down when it was queued, or lost its
queue in a restart), when the provider refused it for a while (a transient error), or when
in-process sending failed. Each tick queues such a delivery again once it is due, with the
wait doubling per attempt; `send_delivery` claims the row before calling the provider, so a
retry racing the original job still sends once. After MAX_ATTEMPTS, or GIVE_UP_AFTER, it is
`failed` with the reason.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from growth import jobs
from growth.db import ids_in
from growth.models import Delivery, DeliveryKind, DeliveryState

log = logging.getLogger(__name__)

FIRST_RETRY = dt.timedelta(minutes=2)  # a healthy worker sends within seconds
MAX_ATTEMPTS = 10  # with the doubling wait: about 17 hours of trying
GIVE_UP_AFTER = dt.timedelta(days=3)  # a confirmation link older than this is no use to anyone
BATCH = 500


def retry_due(created_at: dt.datetime, attempts: int, now: dt.datetime) -> bool:
    """Whether a queued delivery made at `created_at`, tried `attempts` times, is due at `now`.

    The n-th retry waits FIRST_RETRY * 2**n after creation: 2, 4, 8, 16 minutes...
    """
    return now - created_at >= FIRST_RETRY * (2 ** min(attempts, MAX_ATTEMPTS))


def retry_queued_transactional(session: Session, now: dt.datetime) -> dict[str, int]:
    """Queue again the transactional deliveries still queued and due; give up on the hopeless."""
    rows = session.execute(
        select(Delivery.id, Delivery.created_at, Delivery.attempts)
        .where(
            Delivery.kind == DeliveryKind.TRANSACTIONAL,
            Delivery.state == DeliveryState.QUEUED,
            Delivery.created_at <= now - FIRST_RETRY,
        )
        .order_by(Delivery.id)
        .limit(BATCH)
    ).all()
    hopeless = {i for i, created, tries in rows if tries >= MAX_ATTEMPTS or now - created > GIVE_UP_AFTER}
    if hopeless:
        session.execute(
            update(Delivery)
            .where(ids_in(Delivery.id, sorted(hopeless)), Delivery.state == DeliveryState.QUEUED)
            .values(
                state=DeliveryState.FAILED,
                error=f"not sent after {MAX_ATTEMPTS} attempts or {GIVE_UP_AFTER.days} days",
            )
            .execution_options(synchronize_session=False)
        )
        log.warning("gave up on %d transactional deliveries", len(hopeless))
    retried = 0
    for delivery_id, created, tries in rows:
        if delivery_id in hopeless or not retry_due(created, tries, now):
            continue
        if jobs.job_waiting("send_delivery", delivery_id):
            continue  # its job is still in the queue (a busy or stopped worker): not twice
        jobs.enqueue("send_delivery", delivery_id)
        retried += 1
    session.flush()
    return {"retried": retried, "failed": len(hopeless)}
