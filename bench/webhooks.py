"""Benchmark: outgoing webhooks.

1. What the outbox adds to a change: 5,000 signups, each in its own unit of work, with no
   endpoint, then with three endpoints subscribed (event + three deliveries per signup).
2. Delivery: the 15,000 deliveries attempted against a local endpoint (one thread per endpoint,
   as without Redis), with one of the three endpoints answering after 1 s: the other two must
   not wait for it.

Against a fresh SQLite file, or the database in BENCH_DATABASE_URL (it is wiped).

    .venv/bin/python bench/webhooks.py
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.send import fresh_database, peak_rss_mb  # noqa: E402

SIGNUPS = 1_000


def signups(app, prefix: str, n: int) -> float:  # type: ignore[no-untyped-def]
    """Seconds for n signups, one committed unit of work each."""
    from growth import subscribers
    from growth.db import commit, db, utcnow

    started = time.perf_counter()
    with app.test_request_context():
        for i in range(n):
            subscribers.signup(
                db.session, subscribers.SignupRequest(email=f"{prefix}{i}@example.com"), utcnow()
            )
            commit()
    return time.perf_counter() - started


def main() -> None:
    from sqlalchemy import func, select

    from growth.app import create_app
    from growth.config import Config
    from growth.db import db, utcnow
    from growth.outgoing import service
    from growth.outgoing.delivery import deliver_group
    from growth.outgoing.models import DeliveryState, WebhookDelivery
    from growth.outgoing.workers import due_groups
    from tests.fakes.webhook_receiver import WebhookReceiver

    tmp = Path(tempfile.mkdtemp(prefix="masthead-bench-webhooks-"))
    url = fresh_database(tmp)
    config = Config.from_env(
        {},
        database_url=url,
        instance_path=tmp,
        outbox_dir=tmp / "outbox",
        secret_key="bench" * 8,
        redis_url=None,
        webhooks_allow_private=True,
        extra={"ratelimit": "off"},
    )
    app = create_app(config)
    held: list[dict[int, list[int]]] = []
    app.extensions["masthead_webhooks"].dispatch = lambda _app, groups: held.append(groups)

    bare = signups(app, "bare", SIGNUPS)
    fast, slow = WebhookReceiver().start(), WebhookReceiver().start()
    slow.delay = 1.0
    with app.app_context():
        ids = []
        for target in (fast.url, fast.url + "/two", slow.url):
            e = service.create_endpoint(
                db.session, {"url": target, "events": ["subscriber.created"]}, utcnow()
            )
            ids.append(e.id)
        db.session.commit()
    hooked = signups(app, "hooked", SIGNUPS)
    print(
        f"{SIGNUPS:,} signups: {bare:.2f} s without endpoints, {hooked:.2f} s with three "
        f"(+{(hooked - bare) / SIGNUPS * 1000:.2f} ms per signup for the event and three deliveries)"
    )

    with app.app_context():
        groups = due_groups(db.session, utcnow(), limit=10 * SIGNUPS)
        db.session.rollback()
    fast_ids = groups[ids[0]] + groups[ids[1]]
    done: dict[str, float] = {}

    def run(name: str, delivery_ids: list[int]) -> None:
        started = time.perf_counter()
        with app.app_context():
            deliver_group(db.session, delivery_ids)
        done[name] = time.perf_counter() - started

    started = time.perf_counter()
    threads = [
        threading.Thread(target=run, args=("fast-1", groups[ids[0]])),
        threading.Thread(target=run, args=("fast-2", groups[ids[1]])),
        threading.Thread(target=run, args=("slow", groups[ids[2]][:10])),  # 10 s of a slow endpoint
    ]
    for t in threads:
        t.start()
    for t in threads[:2]:
        t.join()
    fast_wall = time.perf_counter() - started
    threads[2].join()
    with app.app_context():
        delivered = db.session.scalar(
            select(func.count()).where(WebhookDelivery.state == DeliveryState.DELIVERED)
        )
    print(
        f"{len(fast_ids):,} deliveries to two responsive endpoints: {fast_wall:.2f} s "
        f"({len(fast_ids) / fast_wall:.0f}/s) while a 1-second endpoint took {done['slow']:.1f} s for 10"
    )
    print(f"delivered: {delivered:,}; peak RSS {peak_rss_mb():.0f} MB; database {url.split(':')[0]}")
    fast.stop()
    slow.stop()


if __name__ == "__main__":
    main()
