"""The second half of a deferred signup: the `finish_signup` job and the tick's sweep for lost ones.

The public signup (`subscribers.signup(..., defer=True)`) answers after one INSERT, which keeps
in `setup_pending` what the rest needs, and queues one `finish_signup` job. The job does the rest
exactly once (`subscribers.finish_signup` locks the row and clears the marker in the same unit of
work). A job that never ran (Redis lost it, the worker was killed) is found by the sweep.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from flask import Flask, current_app
from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from growth import jobs, subscribers
from growth.db import commit, db, utcnow
from growth.models import Subscriber

log = logging.getLogger(__name__)

SWEEP_AFTER = dt.timedelta(minutes=1)  # a healthy worker finishes a signup within seconds
BATCH = 500
FINISH_EVERY = 1.0  # seconds between two rounds of the worker's finisher (SIGNUP_FINISH=sweep)


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
    """The tick's sweep: finish the signups left SWEEP_AFTER whose job is not waiting; commits each."""
    return _finish_unfinished(session, now, now - SWEEP_AFTER)


def finish_new_signups(session: Session, now: dt.datetime) -> dict[str, int]:
    """The worker's finisher (SIGNUP_FINISH=sweep): finish every unfinished signup; commits each."""
    return _finish_unfinished(session, now, now)


def _finish_unfinished(session: Session, now: dt.datetime, made_before: dt.datetime) -> dict[str, int]:
    ids = list(
        session.scalars(
            select(Subscriber.id)
            .where(
                Subscriber.setup_pending.is_not(None),
                # rows finished before setup_pending stored SQL NULL kept a JSON null: not pending
                cast(Subscriber.setup_pending, String) != "null",
                Subscriber.created_at <= made_before,
            )
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
            # Every worker's finisher walks the same batch: each takes the rows no other holds.
            finished += subscribers.finish_signup(session, subscriber_id, now, resend_after, skip_locked=True)
            commit()
        except Exception:
            session.rollback()
            log.exception("could not finish the signup of subscriber %s", subscriber_id)
    if finished and made_before < now:
        log.warning("finished %d signups whose job was lost", finished)
    return {"finished": finished, "waiting": waiting}


def start_finisher(app: Flask) -> threading.Event | None:
    """With SIGNUP_FINISH=sweep, finish new signups every FINISH_EVERY seconds in a daemon thread."""
    if app.config["MASTHEAD"].signup_finish != "sweep":
        return None
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                with app.app_context():
                    finish_new_signups(db.session, utcnow())
            except Exception:  # the database away: try again next round
                log.exception("signup finisher round failed")
            stop.wait(FINISH_EVERY)

    threading.Thread(target=loop, name="masthead-signup-finisher", daemon=True).start()
    log.info("signup finisher: every %ss in this process", FINISH_EVERY)
    return stop
