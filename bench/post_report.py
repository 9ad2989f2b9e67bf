"""Benchmark: what each post did, for a publication with a history.

50,000 subscribers; 30 posts, each sent to all of them (1,500,000 deliveries) with about two
events per delivery (delivered, and an open or click for some): `GET /api/v1/reports/posts`'s
work (every post's row), then one post's page figures (totals and per send).

Against a fresh SQLite file, or the database in BENCH_DATABASE_URL (it is wiped).

    .venv/bin/python bench/post_report.py
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.send import fresh_database, peak_rss_mb, populate  # noqa: E402

# POST_REPORT_SUBSCRIBERS / POST_REPORT_POSTS shrink it for a busy machine.
SUBSCRIBERS = int(os.environ.get("POST_REPORT_SUBSCRIBERS", "50000"))
POSTS = int(os.environ.get("POST_REPORT_POSTS", "30"))
CHUNK = 20_000


def build_history(session) -> None:  # type: ignore[no-untyped-def]
    """POSTS posts, one send each to every subscriber, events on most deliveries."""
    from sqlalchemy import insert, select

    from content import posts
    from content.models import Send
    from growth.models import Delivery, EmailEvent, Subscriber

    now = dt.datetime.now(dt.UTC)
    ids = list(session.scalars(select(Subscriber.id).order_by(Subscriber.id)))
    event_number = 0
    for p in range(POSTS):
        post = posts.create_post(
            session,
            posts.PostInput(
                title=f"Post {p}",
                body_markdown="Body.",
                status="published",
                published_at=now - dt.timedelta(days=POSTS - p),
            ),
            now,
        )
        send = Send(
            post_id=post.id,
            newsletter_id=post.newsletter_id,
            segment="all",
            kind="value",
            state="done",
            scheduled_at=now,
        )
        session.add(send)
        session.flush()
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            session.execute(
                insert(Delivery),
                [
                    {
                        "subscriber_id": sid,
                        "send_id": send.id,
                        "kind": "value",
                        "template": "post",
                        "state": "sent",
                        "to_email": "x@example.com",
                        "created_at": now,
                        "sent_at": now,
                    }
                    for sid in chunk
                ],
            )
            delivered = session.execute(
                select(Delivery.id, Delivery.subscriber_id).where(
                    Delivery.send_id == send.id, Delivery.subscriber_id.in_(chunk)
                )
            ).all()
            events = []
            for delivery_id, sid in delivered:
                for kind in ("delivered", "open" if sid % 3 == 0 else "click" if sid % 7 == 0 else None):
                    if kind is None:
                        continue
                    event_number += 1
                    events.append(
                        {
                            "event_id": f"b{event_number}",
                            "type": kind,
                            "subscriber_id": sid,
                            "delivery_id": delivery_id,
                            "at": now,
                            "is_machine": sid % 9 == 0,
                            "is_scanner": False,
                            "received_at": now,
                        }
                    )
            session.execute(insert(EmailEvent), events)
        session.commit()


def main() -> None:
    from content import post_report
    from growth.app import create_app
    from growth.config import Config
    from growth.db import db

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(Path(tmp))
        app = create_app(
            Config.from_env(
                {},
                database_url=url,
                instance_path=Path(tmp) / "instance",
                secret_key="bench",
                base_url="http://bench.test",
            )
        )
        with app.app_context():
            started = time.perf_counter()
            populate(db.session, SUBSCRIBERS)
            build_history(db.session)
            print(
                f"setup: {SUBSCRIBERS:,} subscribers, {POSTS} posts, {SUBSCRIBERS * POSTS:,} deliveries "
                f"in {time.perf_counter() - started:.1f} s"
            )
            started = time.perf_counter()
            rows = post_report.post_rows(db.session, post_report.all_posts(db.session))
            took = time.perf_counter() - started
            print(f"report of {len(rows)} posts: {took:.2f} s; peak memory {peak_rss_mb():.0f} MB")
            post = post_report.all_posts(db.session)[0]
            started = time.perf_counter()
            post_report.post_rows(db.session, [post])
            post_report.send_rows(db.session, post)
            print(f"one post's page figures: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
