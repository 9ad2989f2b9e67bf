"""Benchmark: one post to 10,000 and to 100,000 subscribers through the local SendGrid fake.

Each size runs in its own process (so peak memory is its own) against a fresh SQLite file, or
the database in BENCH_DATABASE_URL (it is wiped). The fake runs in a third process, so the
requests it keeps do not count against the sender. Prints wall time, provider requests, and
peak resident memory (before the send, and the peak during it) for each size.

    .venv/bin/python bench/send.py [10000 100000 ...]
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHUNK = 5000  # subscribers inserted per statement while setting up (keeps setup memory small)


def rss_mb() -> float:
    """Current resident memory of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_fake(ready, control) -> None:  # type: ignore[no-untyped-def]
    """The SendGrid fake in its own process; answers a summary of what it received."""
    from tests.fakes.sendgrid import FakeSendGrid

    fake = FakeSendGrid().start()
    ready.send(fake.url)
    control.recv()  # until the sender is done
    emails = [p["to"][0]["email"] for body in fake.requests for p in body["personalizations"]]
    control.send(
        {
            "requests": len(fake.requests),
            "largest": max((len(b["personalizations"]) for b in fake.requests), default=0),
            "recipients": len(emails),
            "unique": len(set(emails)),
        }
    )
    fake.stop()


def populate(session, n: int) -> None:  # type: ignore[no-untyped-def]
    """n active, confirmed members of the default newsletter."""
    from sqlalchemy import insert, select, text

    from growth.models import Membership, Subscriber
    from growth.subscribers import default_newsletter

    newsletter = default_newsletter(session)
    now = dt.datetime.now(dt.UTC)
    for start in range(0, n, CHUNK):
        rows = [
            {
                "email": f"reader{i}@example.com",
                "email_normalized": f"reader{i}@example.com",
                "name": f"Reader {i}",
                "status": "active",
                "stage": "confirmed",
                "referral_code": f"r{i:09d}",
                "created_at": now,
                "confirmed_at": now,
            }
            for i in range(start, min(n, start + CHUNK))
        ]
        session.execute(insert(Subscriber), rows)
        first, last = rows[0]["email"], rows[-1]["email"]
        ids = session.scalars(
            select(Subscriber.id).where(
                Subscriber.referral_code.between(f"r{start:09d}", f"r{start + len(rows) - 1:09d}")
            )
        ).all()
        assert len(ids) == len(rows), (first, last)
        session.execute(
            insert(Membership),
            [
                {
                    "subscriber_id": sid,
                    "newsletter_id": newsletter.id,
                    "status": "active",
                    "created_at": now,
                }
                for sid in ids
            ],
        )
        session.commit()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE"))  # what autovacuum would have done to a real list
        session.commit()


def fresh_database(tmp: Path) -> str:
    """BENCH_DATABASE_URL wiped and migrated, else a new SQLite file in `tmp`; its URL."""
    from sqlalchemy import text

    from growth.cli import upgrade_database
    from growth.config import normalise_database_url
    from growth.db import make_engine

    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        url = normalise_database_url(url)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade_database(url)
    return url


def one_size(n: int, conn) -> None:  # type: ignore[no-untyped-def]
    """Set up n subscribers, send one post to them, report the figures through `conn`."""
    from sqlalchemy import func, select

    from content import posts, sending
    from growth.app import create_app, freeze_startup_heap
    from growth.config import Config
    from growth.db import commit, db
    from growth.models import Delivery

    ready_parent, ready_child = mp.Pipe()
    control_parent, control_child = mp.Pipe()
    fake = mp.Process(target=run_fake, args=(ready_child, control_child), daemon=True)
    fake.start()
    fake_url = ready_parent.recv()

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(Path(tmp))
        config = Config.from_env(
            {},
            database_url=url,
            instance_path=Path(tmp),
            secret_key="bench",
            redis_url=None,
            mail_backend="sendgrid",
            sendgrid_api_key="SG.bench",
            sendgrid_api_host=fake_url,
            base_url="https://news.example",
        )
        app = create_app(config)
        freeze_startup_heap()  # as wsgi.py does for the server and the worker
        import logging

        logging.getLogger().setLevel(logging.WARNING)
        with app.app_context():
            populate(db.session, n)
            post = posts.create_post(
                db.session,
                posts.PostInput(
                    title="The weekly",
                    status="published",
                    body_markdown="\n\n".join(
                        f"Paragraph {i} of the weekly, with a [link](https://example.com/{i})."
                        for i in range(12)
                    ),
                ),
                dt.datetime.now(dt.UTC),
            )
            commit()
            db.session.expunge_all()
            before = rss_mb()
            started = time.perf_counter()
            send = sending.create_send(db.session, post, "all", dt.datetime.now(dt.UTC))
            commit()  # in process: plans and sends every batch before it returns
            wall = time.perf_counter() - started
            peak = peak_rss_mb()
            sent = db.session.scalar(
                select(func.count()).where(Delivery.send_id == send.id, Delivery.state == "sent")
            )
        control_parent.send("done")
        summary = control_parent.recv()
        fake.join(5)
    conn.send({"n": n, "wall": wall, "rss_before": before, "rss_peak": peak, "sent": sent, **summary})


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    ctx = mp.get_context("spawn")  # a clean process per size: its peak memory is its own
    print(
        f"{'subscribers':>11} {'wall s':>7} {'per s':>8} {'requests':>8} {'max':>5} {'sent':>8} "
        f"{'RSS before':>10} {'RSS peak':>9} {'growth':>7}"
    )
    for n in sizes:
        parent, child = ctx.Pipe()
        worker = ctx.Process(target=one_size, args=(n, child))
        worker.start()
        r = parent.recv()
        worker.join()
        assert r["requests"] <= math.ceil(n / 1000), "more requests than ceil(n/1000) without retries"
        assert r["recipients"] == r["unique"] == r["sent"] == n, r
        growth = r["rss_peak"] - r["rss_before"]
        print(
            f"{n:>11,} {r['wall']:>7.1f} {n / r['wall']:>8,.0f} {r['requests']:>8} "
            f"{r['largest']:>5} {r['sent']:>8,} {r['rss_before']:>8.0f}MB "
            f"{r['rss_peak']:>7.0f}MB {growth:>5.0f}MB"
        )


if __name__ == "__main__":
    main()
