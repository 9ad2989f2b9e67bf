"""Benchmark: the sequences part of the tick.

1. 100,000 subscribers enrolled across three sequences, 10,000 of them with a step due: one
   tick claims the 10,000 steps and queues their batches (the batch jobs are recorded, not run:
   with Redis they would wait for a worker).
2. The same database grown to 1,000,000 enrolments (twelve sequences) with nothing due: the
   tick's sequence work, timed over several runs (it reads the next_due_at index).

Against a fresh SQLite file, or the database in BENCH_DATABASE_URL (it is wiped).

    .venv/bin/python bench/sequences.py
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.send import fresh_database, peak_rss_mb, populate  # noqa: E402

SUBSCRIBERS = 100_000
DUE = 10_000
SEQUENCES = 12  # 3 with due steps, then 9 more: 1,000,000 enrolments


class RecordingQueue:
    """Stands in for RQ: keeps what was queued (the bench measures claiming and queueing)."""

    def __init__(self) -> None:
        self.jobs: list[tuple[object, ...]] = []

    def enqueue(self, *args: object, **_kwargs: object) -> None:
        self.jobs.append(args)


def main() -> None:
    from sqlalchemy import func, select, text

    from content import sequence_engine, sequences
    from content.sequence_models import Enrolment, Sequence, StepClaim
    from growth.app import create_app, freeze_startup_heap
    from growth.config import Config
    from growth.db import db

    tmp = Path(tempfile.mkdtemp(prefix="masthead-seq-bench-"))
    url = fresh_database(tmp)
    config = Config.from_env(
        {}, database_url=url, instance_path=tmp, secret_key="bench", outbox_dir=tmp / "outbox", redis_url=None
    )
    app = create_app(config)
    freeze_startup_heap()
    queue = RecordingQueue()
    app.extensions["masthead_queue"] = queue  # dispatch_pending hands jobs to it
    now = dt.datetime.now(dt.UTC)
    with app.app_context():
        session = db.session
        started = time.perf_counter()
        populate(session, SUBSCRIBERS)
        made = []
        for n in range(SEQUENCES):
            steps = [
                sequences.StepInput(
                    subject=f"Sequence {n} step {k}", body="Some **value**.", delay_minutes=k * 1440
                )
                for k in range(3)
            ]
            made.append(
                sequences.create_sequence(
                    session,
                    sequences.SequenceInput(
                        name=f"Bench {n}", trigger="stage:engaged", steps=steps, holdout_percent=5
                    ),
                    now,
                )
            )
        session.commit()
        ids = [s.id for s in made]
        # Part 1: every subscriber in one of the first three sequences; 10,000 of them due now.
        later = now + dt.timedelta(days=3)
        session.execute(
            text(
                "INSERT INTO sequence_enrolments"
                " (sequence_id, subscriber_id, number, state, holdout, trigger, enrolled_at, next_due_at)"
                " SELECT CASE s.id % 3 WHEN 0 THEN :a WHEN 1 THEN :b ELSE :c END, s.id, 1, 'active',"
                " s.id % 200 = 0, 'stage:engaged', :enrolled,"
                " CASE WHEN s.id % 10 = 0 THEN :due ELSE :later END FROM subscribers s"
            ),
            {
                "a": ids[0],
                "b": ids[1],
                "c": ids[2],
                "enrolled": _bind(url, now - dt.timedelta(minutes=1)),
                "due": _bind(url, now - dt.timedelta(minutes=1)),
                "later": _bind(url, later),
            },
        )
        session.commit()
        if url.startswith("postgresql"):
            session.execute(text("ANALYZE"))
            session.commit()
        due = session.scalar(select(func.count()).where(Enrolment.next_due_at <= now))
        print(f"setup: {SUBSCRIBERS:,} subscribers, {due:,} steps due, {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        figures = sequence_engine.run_sequences(session, now)
        took = time.perf_counter() - started
        claims = session.scalar(select(func.count()).select_from(StepClaim))
        print(
            f"tick with {due:,} due: {took:.2f} s; claims {claims:,} "
            f"(sent {figures.get('sent', 0):,}, held out {figures.get('held_out', 0):,}), "
            f"batch jobs queued {len(queue.jobs)}, peak RSS {peak_rss_mb():.0f} MB"
        )

        # Part 2: 1,000,000 enrolments, nothing due.
        for sequence_id in ids[3:]:
            session.execute(
                text(
                    "INSERT INTO sequence_enrolments"
                    " (sequence_id, subscriber_id, number, state, holdout, trigger, enrolled_at, next_due_at)"
                    " SELECT :seq, s.id, 1, 'active', false, 'stage:engaged', :enrolled, :later"
                    " FROM subscribers s"
                ),
                {"seq": sequence_id, "enrolled": _bind(url, now), "later": _bind(url, later)},
            )
            session.commit()
        if url.startswith("postgresql"):
            session.execute(text("ANALYZE"))
            session.commit()
        total = session.scalar(select(func.count()).select_from(Enrolment))
        timings = []
        for _ in range(7):
            started = time.perf_counter()
            sequence_engine.run_sequences(session, now + dt.timedelta(minutes=1))
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"tick with nothing due at {total:,} enrolments: median {statistics.median(timings):.1f} ms "
            f"(min {min(timings):.1f}, max {max(timings):.1f}) over {len(timings)} runs"
        )
        assert session.scalar(select(func.count()).select_from(Sequence)) >= SEQUENCES


def _bind(url: str, value: dt.datetime) -> object:
    """Raw SQL parameters skip the UTC type: SQLite stores naive UTC."""
    return value.replace(tzinfo=None) if url.startswith("sqlite") else value


if __name__ == "__main__":
    main()
