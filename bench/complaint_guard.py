"""Benchmark of the complaint guard's tick work; prints figures, asserts nothing.

    python bench/complaint_guard.py                          # 200,000 deliveries on SQLite
    BENCH_DATABASE_URL=postgresql://... python bench/complaint_guard.py --deliveries 2000000

BENCH_DATABASE_URL is WIPED (schema dropped) and migrated; without it a temporary SQLite file is
used. The last 30 days of a publication: value and pitch emails to readers on several mailbox
providers (about 40% Gmail), spread over 8 sends and 4 sequence steps, with 0.2% spam reports
and 1% hard bounces. `judge_all` (what the guard computes every five minutes, and what the
Complaints page shows) is timed several times: median and worst wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.send import fresh_database  # noqa: E402

DOMAINS = ["gmail.com"] * 40 + ["yahoo.com"] * 20 + ["outlook.com"] * 20 + ["example.org"] * 20
REPEATS = 5


def populate(session, n: int, now: dt.datetime) -> None:  # type: ignore[no-untyped-def]
    """n readers with one delivery each over 30 days, their spam reports and bounces."""
    from sqlalchemy import insert, select

    from content.models import Post, Send
    from content.sequence_models import Enrolment, Sequence, SequenceStep, StepClaim
    from growth.models import Delivery, EmailEvent, Subscriber
    from growth.subscribers import default_newsletter

    rng = random.Random(7)
    newsletter = default_newsletter(session)
    post = Post(title="Weekly", slug="weekly", newsletter_id=newsletter.id, kind="value", status="published")
    session.add(post)
    session.flush()
    sends = [
        Send(
            post_id=post.id,
            newsletter_id=newsletter.id,
            segment="all",
            kind="value",
            state="done",
            scheduled_at=now - dt.timedelta(days=28 - 3 * i),
            started_at=now - dt.timedelta(days=28 - 3 * i),
        )
        for i in range(8)
    ]
    sequence = Sequence(newsletter_id=newsletter.id, name="Nurture", trigger="confirmed")
    session.add_all([*sends, sequence])
    session.flush()
    steps = [SequenceStep(sequence_id=sequence.id, position=i, subject=f"Step {i}") for i in range(4)]
    session.add_all(steps)
    session.flush()
    chunk = 20_000
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        session.execute(
            insert(Subscriber),
            [
                {
                    "email": f"r{start + i}@{rng.choice(DOMAINS)}",
                    "email_normalized": f"r{start + i}@bench",
                    "status": "active",
                    "stage": "confirmed",
                    "referral_code": f"b{start + i:09d}",
                    "created_at": now - dt.timedelta(days=60),
                }
                for i in range(size)
            ],
        )
        ids = list(session.scalars(select(Subscriber.id).order_by(Subscriber.id.desc()).limit(size)))[::-1]
        emails = dict(
            session.execute(select(Subscriber.id, Subscriber.email).where(Subscriber.id.in_(ids))).all()
        )
        rows = []
        for sid in ids:
            on_send = rng.random() < 0.8
            at = now - dt.timedelta(seconds=rng.randint(0, 30 * 86400))
            rows.append(
                {
                    "subscriber_id": sid,
                    "send_id": rng.choice(sends).id if on_send else None,
                    "kind": "value" if rng.random() < 0.8 else "pitch",
                    "template": "post" if on_send else "sequence",
                    "state": "sent",
                    "to_email": emails[sid],
                    "sent_at": at,
                    "created_at": at,
                }
            )
        session.execute(insert(Delivery), rows)
        delivered = session.execute(
            select(Delivery.id, Delivery.subscriber_id, Delivery.template, Delivery.sent_at).where(
                Delivery.subscriber_id.in_(ids)
            )
        ).all()
        sequence_ones = [d for d in delivered if d.template == "sequence"]
        if sequence_ones:
            session.execute(
                insert(Enrolment),
                [
                    {
                        "sequence_id": sequence.id,
                        "subscriber_id": d.subscriber_id,
                        "trigger": "confirmed",
                        "enrolled_at": now - dt.timedelta(days=31),
                    }
                    for d in sequence_ones
                ],
            )
            enrolment = dict(
                session.execute(
                    select(Enrolment.subscriber_id, Enrolment.id).where(
                        Enrolment.subscriber_id.in_([d.subscriber_id for d in sequence_ones])
                    )
                ).all()
            )
            session.execute(
                insert(StepClaim),
                [
                    {
                        "enrolment_id": enrolment[d.subscriber_id],
                        "step_id": rng.choice(steps).id,
                        "subscriber_id": d.subscriber_id,
                        "state": "sent",
                        "delivery_id": d.id,
                        "at": d.sent_at,
                    }
                    for d in sequence_ones
                ],
            )
        events = []
        for d in delivered:
            roll = rng.random()
            kind = "spamreport" if roll < 0.002 else "bounce" if roll < 0.012 else None
            if kind:
                events.append(
                    {
                        "event_id": f"e{d.id}",
                        "type": kind,
                        "subscriber_id": d.subscriber_id,
                        "delivery_id": d.id,
                        "at": d.sent_at + dt.timedelta(hours=1),
                        "bounce_type": "bounce" if kind == "bounce" else None,
                        "received_at": now,
                    }
                )
        if events:
            session.execute(insert(EmailEvent), events)
        session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=200_000)
    args = parser.parse_args()

    import logging

    from content import complaint_guard
    from growth.app import create_app
    from growth.config import Config
    from growth.db import db

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(Path(tmp))
        config = Config.from_env(
            {}, database_url=url, instance_path=Path(tmp), secret_key="bench", redis_url=None, scheduler="off"
        )
        app = create_app(config)
        logging.getLogger().setLevel(logging.WARNING)
        now = dt.datetime.now(dt.UTC)
        with app.app_context():
            started = time.perf_counter()
            populate(db.session, args.deliveries, now)
            if db.session.get_bind().dialect.name == "postgresql":  # a live database has statistics
                from sqlalchemy import text

                db.session.execute(text("ANALYZE"))
                db.session.commit()
            print(f"setup: {args.deliveries:,} deliveries in {time.perf_counter() - started:.1f} s")
            times = []
            for _ in range(REPEATS):
                started = time.perf_counter()
                windows = complaint_guard.judge_all(db.session, now)
                times.append(time.perf_counter() - started)
                db.session.rollback()
            median, worst = statistics.median(times), max(times)
            print(f"judge_all ({len(windows)} windows): median {median:.2f} s, worst {worst:.2f} s")
            for scope, sid, _since, verdict in windows:
                if verdict.measure == "complaints" and scope != "send":
                    print(f"  {scope} {sid}: {verdict.sentence}, {verdict.level}")


if __name__ == "__main__":
    main()
