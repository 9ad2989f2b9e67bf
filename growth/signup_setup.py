"""The second half of a deferred signup: the `finish_signup` job and the tick's sweep for lost ones.

The public signup (`subscribers.signup(..., defer=True)`) answers after one INSERT, which keeps
in `setup_pending` what the rest needs, and queues one `finish_signup` job. The job does the rest
exactly once (`subscribers.finish_signup` locks the row and clears the marker in the same unit of
work). A job that never ran (Redis lost it, the worker was killed) is found by the sweep.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from growth import jobs, subscribers
from growth.db import commit, db, utcnow
from growth.models import Subscriber

log = logging.getLogger(__name__)

SWEEP_AFTER = dt.timedelta(minutes=1)  # a healthy worker finishes a signup within seconds
BATCH = 500


def _job_id(subscriber_id: int) -> str:
    return f"masthead-finish-signup-{subscriber_id}"


@jobs.task(subscribers.FINISH_SIGNUP_TASK, job_id=_job_id)
def finish_signup_job(subscriber_id: int) -> bool:
    """Finish one deferred signup (a no-op when it is finished already); commits."""
    session = db.session
    resend_after = current_app.config["MASTHEAD"].confirmation_resend_seconds
    try:
        done = subscribers.finish_signup(session, subscriber_id, utcnow(), resend_after)
        commit()
    except Exception:
        session.rollback()
        raise
    return done


def sweep_unfinished_signups(session: Session, now: dt.datetime) -> dict[str, int]:
    """Finish the signups left unfinished for SWEEP_AFTER whose job is not waiting; commits each."""
    ids = list(
        session.scalars(
            select(Subscriber.id)
            .where(Subscriber.setup_pending.is_not(None), Subscriber.created_at <= now - SWEEP_AFTER)
            .order_by(Subscriber.created_at)
            .limit(BATCH)
        )
    )
    resend_after = current_app.config["MASTHEAD"].confirmation_resend_seconds
    finished = waiting = 0
    for subscriber_id in ids:
        if jobs.job_waiting(subscribers.FINISH_SIGNUP_TASK, subscriber_id):
            waiting += 1  # a busy worker will get to it: its claim would stop a double anyway
            continue
        try:
            finished += subscribers.finish_signup(session, subscriber_id, now, resend_after)
            commit()
        except Exception:
            session.rollback()
            log.exception("could not finish the signup of subscriber %s", subscriber_id)
    if finished:
        log.warning("finished %d signups whose job was lost", finished)
    return {"finished": finished, "waiting": waiting}
