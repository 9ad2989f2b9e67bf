"""Benchmark of the funnel, cohort and growth reports; prints figures, asserts nothing.

    BENCH_DATABASE_URL=postgresql://... python bench/dashboard.py                 # 1M / 10M
    BENCH_DATABASE_URL=postgresql://... python bench/dashboard.py --subscribers 100000 --events 1000000

BENCH_DATABASE_URL is WIPED (schema dropped) and migrated; without it a temporary SQLite file is
used (slow at full size). A year of signups from several sources, campaigns and landing posts,
a tenth referred, opens (a third of them machine opens) and clicks, nurtured stage moves, 3%
paying through Stripe snapshots and monthly invoices. Rows go in with COPY on PostgreSQL
(multi-row INSERT on SQLite), then `rebuild-rollups` builds the rollup; each endpoint is then
called through the app (bearer token) several times: median and worst wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.send import fresh_database  # noqa: E402

DAYS = 365
NOW = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
START = NOW - dt.timedelta(days=DAYS)  # the year that ends today, so the app's clock agrees
SOURCES = ["podcast", "search", "twitter", "partner", "direct", "referral"]
WEIGHTS = [20, 25, 15, 10, 20, 10]
CAMPAIGNS = [f"campaign-{i}" for i in range(12)]
POSTS = [f"post-{i}" for i in range(40)]
REPEATS = 5
SPRING, SUMMER = (NOW - dt.timedelta(days=200)).date(), (NOW - dt.timedelta(days=110)).date()
ENDPOINTS = [
    "/api/v1/reports/funnel",
    f"/api/v1/reports/funnel?from={SPRING}&to={SUMMER}",
    "/api/v1/reports/funnel?source=podcast&newsletter=weekly",
    "/api/v1/reports/cohorts",
    "/api/v1/reports/growth",
    f"/api/v1/reports/growth?from={(NOW - dt.timedelta(days=90)).date()}",
    "/api/v1/reports/funnel?format=csv",
    "/api/v1/reports/value-pitch",
    "/admin/",  # the desk: the headline and every panel, referrals' included
]


def stamp(ts: float, sqlite: bool) -> Any:
    moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    return moment.replace(tzinfo=None).isoformat(" ") if sqlite else moment


class World:
    """The generated year, drawn once per subscriber (events are streamed from it)."""

    def __init__(self, n: int, seed: int = 13):
        rng = random.Random(seed)
        self.n = n
        self.created = sorted(START.timestamp() + rng.random() * DAYS * 86400 for _ in range(n))
        self.source = rng.choices(SOURCES, WEIGHTS, k=n)
        self.confirmed = [c + rng.random() * 3 * 86400 if rng.random() < 0.85 else None for c in self.created]
        self.paying = [c is not None and rng.random() < 0.03 for c in self.confirmed]
        self.newsletters: tuple[int, ...] = (1, 2)  # (default, weekly), set when loading


def subscriber_rows(w: World, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(5)
    end = NOW.timestamp()
    for i in range(w.n):
        sid, created, confirmed = i + 1, w.created[i], w.confirmed[i]
        status = "active" if confirmed else "pending"
        left = None
        if confirmed and rng.random() < 0.08:
            status, left = "unsubscribed", min(confirmed + rng.random() * 90 * 86400, end - 1)
        source = w.source[i]
        campaign = rng.choice(CAMPAIGNS) if source in ("podcast", "twitter") and rng.random() < 0.6 else None
        landing = f"https://news.example/p/{rng.choice(POSTS)}" if rng.random() < 0.3 else None
        yield (
            sid,
            f"r{sid}@bench.example",
            f"r{sid}@bench.example",
            status,
            "paying" if w.paying[i] else ("confirmed" if confirmed else "signed_up"),
            f"c{sid:09d}",
            None if source in ("direct", "referral") else source,
            campaign,
            landing,
            stamp(created, sqlite),
            stamp(confirmed, sqlite) if confirmed else None,
            stamp(left, sqlite) if left else None,
            stamp(left or confirmed or created, sqlite),
        )


def membership_rows(w: World, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    for i in range(w.n):
        yield (
            i + 1,
            w.newsletters[1] if i % 10 == 0 else w.newsletters[0],
            "active",
            stamp(w.created[i], sqlite),
        )


def referral_rows(w: World, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(7)
    for i in range(1, w.n):
        if w.source[i] == "referral":
            yield (rng.randrange(i) + 1, i + 1, "counted", stamp(w.created[i], sqlite))


def stage_rows(w: World, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(9)
    for i in range(w.n):
        if w.confirmed[i] and rng.random() < 0.2:
            at = min(w.confirmed[i] + rng.random() * 60 * 86400, NOW.timestamp() - 1)
            yield (i + 1, "stage", "engaged", "nurtured", stamp(at, sqlite))


def event_rows(w: World, total: int, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    """`total` opens and clicks spread over confirmed readers (readers of the year's start get more)."""
    rng = random.Random(11)
    readers = [i for i in range(w.n) if w.confirmed[i]]
    end = NOW.timestamp()
    for k in range(total):
        i = readers[rng.randrange(len(readers))]
        start = w.confirmed[i] or w.created[i]
        at = start + rng.random() * (end - start)
        click = rng.random() < 0.2
        machine = not click and rng.random() < 0.33
        yield (
            f"sg{k}",
            "click" if click else "open",
            i + 1,
            stamp(at, sqlite),
            machine,
            False,
            stamp(at, sqlite),
        )


def billing_rows(
    w: World, sqlite: bool
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    rng = random.Random(3)
    customers, snapshots, invoices = [], [], []
    end = NOW.timestamp()
    for i in range(w.n):
        if not w.paying[i]:
            continue
        sid, began = i + 1, (w.confirmed[i] or w.created[i]) + rng.random() * 30 * 86400
        if began >= end:
            continue
        cents = rng.choice([500, 800, 1500])
        customers.append((f"cus_{sid}", sid, stamp(began, sqlite)))
        snapshots.append(
            (
                f"evt_{sid}_a",
                "customer.subscription.created",
                f"sub_{sid}",
                f"cus_{sid}",
                stamp(began, sqlite),
                "active",
                "usd",
                cents,
            )
        )
        stop = began + rng.random() * 400 * 86400
        if stop < end:
            snapshots.append(
                (
                    f"evt_{sid}_b",
                    "customer.subscription.deleted",
                    f"sub_{sid}",
                    f"cus_{sid}",
                    stamp(stop, sqlite),
                    "canceled",
                    "usd",
                    cents,
                )
            )
        paid, month = began, 0
        while paid < min(stop, end):
            invoices.append((f"in_{sid}_{month}", f"cus_{sid}", sid, "usd", cents, stamp(paid, sqlite)))
            paid, month = paid + 30 * 86400, month + 1
    return customers, snapshots, invoices


COLUMNS = {
    "subscribers": "id, email, email_normalized, status, stage, referral_code, source, utm_campaign, "
    "landing_url, "
    "created_at, confirmed_at, unsubscribed_at, status_changed_at",
    "memberships": "subscriber_id, newsletter_id, status, created_at",
    "referrals": "referrer_id, referred_id, status, created_at",
    "subscriber_events": "subscriber_id, field, from_value, to_value, at",
    "email_events": "event_id, type, subscriber_id, at, is_machine, is_scanner, received_at",
    "billing_customers": "stripe_customer_id, subscriber_id, created_at",
    "billing_subscription_snapshots": "event_id, event_type, stripe_subscription_id, stripe_customer_id, "
    "at, status, currency, "
    "unit_amount_cents",
    "billing_invoices": "stripe_invoice_id, stripe_customer_id, subscriber_id, currency, "
    "amount_paid_cents, paid_at",
}
DEFAULTS = {  # NOT NULL columns the rows above leave out
    "billing_subscription_snapshots": {
        "interval": "month",
        "interval_count": 1,
        "quantity": 1,
        "extra_items_cents": 0,
        "discounts": "[]",
        "cancel_at_period_end": False,
        "collection_paused": False,
    },
    "billing_invoices": {"tax_cents": 0},
}


def copy(conn: Any, table: str, rows: Any, sqlite: bool) -> int:
    """COPY (PostgreSQL) or multi-row INSERT (SQLite) the rows; returns how many."""
    extra = DEFAULTS.get(table, {})
    columns = COLUMNS[table] + "".join(f", {c}" for c in extra)
    tail = tuple(extra.values())
    raw = conn.connection.driver_connection
    count = 0
    if not sqlite:
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as out:
            for row in rows:
                out.write_row(row + tail)
                count += 1
        return count
    marks = ", ".join("?" * len(columns.split(",")))
    batch: list[tuple[Any, ...]] = []
    cursor = raw.cursor()
    for row in rows:
        batch.append(row + tail)
        if len(batch) == 10000:
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", batch)
            count, batch = count + len(batch), []
    cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", batch)
    return count + len(batch)


def load(url: str, subscribers: int, events: int) -> dict[str, Any]:
    """Generate and bulk-load the year; returns row counts and timings."""
    from sqlalchemy import text

    from growth.db import make_engine

    sqlite = url.startswith("sqlite")
    clock = time.perf_counter()
    w = World(subscribers)
    engine = make_engine(url)
    counts: dict[str, Any] = {}
    with engine.begin() as conn:
        if conn.execute(text("SELECT count(*) FROM newsletters WHERE is_default")).scalar_one() == 0:
            conn.execute(
                text(
                    "INSERT INTO newsletters (slug, name, description, is_default, created_at) "
                    "VALUES ('main', 'Main', '', true, CURRENT_TIMESTAMP)"
                )
            )
        conn.execute(
            text(
                "INSERT INTO newsletters (slug, name, description, is_default, created_at) "
                "VALUES ('weekly', 'Weekly', '', false, CURRENT_TIMESTAMP)"
            )
        )
        w.newsletters = tuple(
            conn.execute(text("SELECT id FROM newsletters ORDER BY is_default DESC, id")).scalars()
        )
        for k, slug in enumerate(POSTS):
            conn.execute(
                text(
                    "INSERT INTO posts (newsletter_id, title, slug, excerpt, preview_text, body_markdown, "
                    "body_html, teaser_html, search_text, kind, audience, status, created_at, updated_at) "
                    "VALUES (:nl, :t, :s, '', '', '', '', '', :t, 'value', 'public', 'published', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"nl": w.newsletters[0], "t": f"Post {k}", "s": slug},
            )
        counts["subscribers"] = copy(conn, "subscribers", subscriber_rows(w, sqlite), sqlite)
        counts["memberships"] = copy(conn, "memberships", membership_rows(w, sqlite), sqlite)
        counts["referrals"] = copy(conn, "referrals", referral_rows(w, sqlite), sqlite)
        counts["stage_events"] = copy(conn, "subscriber_events", stage_rows(w, sqlite), sqlite)
        customers, snapshots, invoices = billing_rows(w, sqlite)
        counts["customers"] = copy(conn, "billing_customers", iter(customers), sqlite)
        counts["snapshots"] = copy(conn, "billing_subscription_snapshots", iter(snapshots), sqlite)
        counts["invoices"] = copy(conn, "billing_invoices", iter(invoices), sqlite)
        counts["email_events"] = copy(conn, "email_events", event_rows(w, events, sqlite), sqlite)
        if not sqlite:
            conn.execute(text("SELECT setval('subscribers_id_seq', (SELECT max(id) FROM subscribers))"))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    counts["load_s"] = time.perf_counter() - clock
    return counts


def disk_mb(url: str) -> float:
    from sqlalchemy import text

    from growth.db import make_engine

    if url.startswith("sqlite"):
        return Path(url.split("///", 1)[1]).stat().st_size / 2**20
    engine = make_engine(url)
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return float(size) / 2**20


def reused_database() -> str:
    """BENCH_DATABASE_URL as an earlier run left it (migrated to the current heads, rows kept)."""
    import os

    from growth.cli import upgrade_database
    from growth.config import normalise_database_url

    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        raise SystemExit("--reuse needs BENCH_DATABASE_URL (the SQLite file is temporary)")
    url = normalise_database_url(url)
    upgrade_database(url)
    from sqlalchemy import text

    from growth.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))  # what the migrations wrote, as load() does for its rows
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep BENCH_DATABASE_URL's year from an earlier run (same sizes) instead of loading it again",
    )
    parser.add_argument(
        "--skip-rebuild", action="store_true", help="with --reuse: keep its rollups too (same code)"
    )
    args = parser.parse_args()

    import logging

    from growth import auth, headline, panels, rollup_series, rollups
    from growth.app import create_app
    from growth.config import Config
    from growth.db import commit, db

    with tempfile.TemporaryDirectory() as tmp:
        url = reused_database() if args.reuse else fresh_database(Path(tmp))
        print(
            f"database: {url.split('@')[-1]}; {args.subscribers:,} subscribers, {args.events:,} email events"
        )
        if not args.reuse:
            counts = load(url, args.subscribers, args.events)
            print(
                f"load: {counts.pop('load_s'):.1f} s  rows: "
                + ", ".join(f"{k} {v:,}" for k, v in counts.items())
            )
        config = Config.from_env(
            {},
            database_url=url,
            instance_path=Path(tmp),
            secret_key="bench",
            redis_url=None,
            base_url="https://news.example",
        )
        app = create_app(config)
        logging.getLogger().setLevel(logging.WARNING)
        with app.app_context():
            if not args.skip_rebuild:
                clock = time.perf_counter()
                built = rollups.rebuild(db.session, NOW)
                commit()
                print(f"rebuild-rollups: {time.perf_counter() - clock:.1f} s ({built['cells']:,} cells)")
            clock = time.perf_counter()
            rollup_series.cache_billing_series(db.session, NOW)  # the tick's report-billing task
            commit()
            print(
                f"report-billing task (MRR and 24 months of movements): {time.perf_counter() - clock:.1f} s"
            )
            clock = time.perf_counter()
            with app.test_request_context():  # at the app's clock: the next views read it as fresh
                headline.cache_headline(db.session, dt.datetime.now(dt.UTC), config.engaged_window_days)
                panels.cache_panels(db.session, dt.datetime.now(dt.UTC), config.engaged_window_days)
            commit()
            print(
                f"the desk's first view (headline and panels, then kept): {time.perf_counter() - clock:.1f} s"
            )
            token = auth.create_token(
                db.session,
                auth.create_operator(db.session, f"bench{time.time_ns()}@example.com", "bench bench bench"),
            )
            commit()
        print(f"disk used: {disk_mb(url):,.0f} MB")
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        print(f"{'endpoint':<62}{'median s':>9}{'worst s':>9}")
        for path in ENDPOINTS:
            times = []
            for _ in range(args.repeats):
                clock = time.perf_counter()
                response = client.get(path, headers=headers)
                response.get_data()
                times.append(time.perf_counter() - clock)
                assert response.status_code == 200, response.get_data(as_text=True)[:300]
            print(f"{path:<62}{statistics.median(times):>9.3f}{max(times):>9.3f}")


if __name__ == "__main__":
    main()
