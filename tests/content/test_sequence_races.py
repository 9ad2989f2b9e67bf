"""Two ticks at once send each (enrolment, step) once: real commits, on PostgreSQL and on SQLite.

On PostgreSQL the shared test database (rows cleaned up after); on SQLite a database file of its
own, with the app served over HTTP to readers signing up while the ticks run.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from werkzeug.serving import make_server

from content import sequence_engine, sequences
from content.sequence_models import Sequence, StepClaim
from content.sequences import SequenceInput, StepInput
from growth.app import create_app
from growth.cli import upgrade_database
from growth.db import commit, db, utcnow
from growth.models import Delivery, Subscriber
from tests.conftest import USING_POSTGRES, make_config, read_outbox
from tests.content.conftest import add_subscribers

N = 120


def _setup(app, prefix: str) -> tuple[int, list[int]]:  # type: ignore[no-untyped-def]
    with app.app_context():
        session = db.session
        now = utcnow()
        sequence = sequences.create_sequence(
            session,
            SequenceInput(
                name=f"race-{prefix}",
                trigger="stage:lapsed",  # nothing else enrols into it
                steps=[StepInput(subject=f"{prefix} one"), StepInput(subject=f"{prefix} two")],
                holdout_percent=0,
            ),
            now,
        )
        ids = add_subscribers(session, N, prefix=prefix)
        for sid in ids:
            sequences.enrol(session, sequence, session.get(Subscriber, sid), now, "stage:lapsed")
        commit()
        return sequence.id, ids


def _two_ticks(app, at: dt.datetime) -> list[BaseException]:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with app.app_context():
                barrier.wait()
                sequence_engine.run_sequences(db.session, at, chunk=25)  # the lease bypassed on purpose
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors


def _assert_each_step_once(app, sequence_id: int, ids: list[int], outbox: Path, prefix: str) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        session = db.session
        claims = session.execute(
            select(StepClaim.enrolment_id, StepClaim.step_id, StepClaim.delivery_id).where(
                StepClaim.subscriber_id.in_(ids)
            )
        ).all()
        deliveries = session.scalar(
            select(func.count()).where(Delivery.subscriber_id.in_(ids), Delivery.template == "sequence")
        )
    # cap 0 in these apps: both steps go in one tick
    assert len(claims) == 2 * N and len({(e, s) for e, s, _ in claims}) == 2 * N
    assert deliveries == 2 * N and all(d is not None for _, _, d in claims)
    mails = [m for m in read_outbox(outbox) if m["Subject"].startswith(prefix)]
    per_reader = Counter((m["To"].addresses[0].addr_spec, m["Subject"]) for m in mails)
    assert len(per_reader) == 2 * N and set(per_reader.values()) == {1}


def _cleanup(app, sequence_id: int, ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        db.session.execute(delete(Subscriber).where(Subscriber.id.in_(ids)))
        db.session.execute(delete(Sequence).where(Sequence.id == sequence_id))
        db.session.commit()


@pytest.mark.skipif(not USING_POSTGRES, reason="races need PostgreSQL (TEST_DATABASE_URL)")
def test_two_concurrent_ticks_on_postgresql_send_each_step_once(database_url, tmp_path):  # type: ignore[no-untyped-def]
    app = create_app(make_config(database_url, tmp_path / "pg", sequence_emails_per_day=0))
    prefix = f"pgrace{uuid.uuid4().hex[:6]}"
    sequence_id, ids = _setup(app, prefix)
    try:
        for minute in range(3):
            assert _two_ticks(app, utcnow() + dt.timedelta(minutes=minute)) == []
        _assert_each_step_once(app, sequence_id, ids, tmp_path / "pg" / "outbox", prefix)
    finally:
        _cleanup(app, sequence_id, ids)


@pytest.mark.skipif(USING_POSTGRES, reason="the SQLite variant (its own database file)")
def test_two_ticks_on_sqlite_while_the_server_runs_send_each_step_once(tmp_path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'race.db'}"
    upgrade_database(url)
    app = create_app(make_config(url, tmp_path / "inst", sequence_emails_per_day=0, redis_url=None))
    prefix = f"sqrace{uuid.uuid4().hex[:6]}"
    sequence_id, ids = _setup(app, prefix)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    signups: list[int] = []

    def readers_arrive() -> None:
        import json
        import urllib.request

        for i in range(15):
            request = urllib.request.Request(
                f"http://127.0.0.1:{server.server_port}/api/v1/subscribers",
                data=json.dumps({"email": f"{prefix}-new{i}@example.com"}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                signups.append(response.status)

    traffic = threading.Thread(target=readers_arrive)
    try:
        traffic.start()
        for minute in range(3):
            assert _two_ticks(app, utcnow() + dt.timedelta(minutes=minute)) == []
        traffic.join(60)
        assert signups == [202] * 15
        _assert_each_step_once(app, sequence_id, ids, tmp_path / "inst" / "outbox", prefix)
    finally:
        server.shutdown()
