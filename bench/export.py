"""Benchmark: the subscriber list as CSV (`GET /api/v1/subscribers?format=csv`) at N subscribers.

For each size, one process bulk-inserts N subscribers into a fresh SQLite file (or the database
in BENCH_DATABASE_URL, which is wiped), and a second, fresh process streams the whole export
through the app as an admin would download it. Prints the load time, the export's wall time,
rows per second, bytes, and the exporting process's resident memory before the request and at
highest while streaming (sampled every 10,000 rows), and the process's lifetime peak before and
after the request: flat memory means none of them grows with N.

    .venv/bin/python bench/export.py [1000000 ...]      # default: 1,000,000
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.send import fresh_database, peak_rss_mb, rss_mb  # noqa: E402

CHUNK = 10_000  # rows per INSERT while loading (keeps the loader's memory small too)
STATUSES = ("active",) * 7 + ("unsubscribed", "pending", "inactive")


def load(url: str, n: int, conn) -> None:  # type: ignore[no-untyped-def]
    """n subscribers in bulk; some names begin like formulas, as names from public forms may."""
    from sqlalchemy import insert

    from growth.db import make_engine
    from growth.models import Subscriber

    engine = make_engine(url)
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as db:
        for start in range(0, n, CHUNK):
            db.execute(
                insert(Subscriber),
                [
                    {
                        "email": f"reader{i}@example.com",
                        "email_normalized": f"reader{i}@example.com",
                        "name": f"=Reader {i}" if i % 97 == 0 else f"Reader {i}",
                        "status": STATUSES[i % len(STATUSES)],
                        "stage": "confirmed",
                        "referral_code": f"r{i:09d}",
                        "source": "bench",
                        "utm_campaign": f"campaign-{i % 12}",
                        "created_at": now,
                        "confirmed_at": now,
                    }
                    for i in range(start, min(n, start + CHUNK))
                ],
            )
    if url.startswith("postgresql"):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
            from sqlalchemy import text

            db.execute(text("VACUUM ANALYZE subscribers"))
    engine.dispose()
    conn.send(time.perf_counter() - started)


def export(url: str, instance: str, conn) -> None:  # type: ignore[no-untyped-def]
    """Stream the whole CSV through the app; report time, size and this process's memory."""
    import logging

    from growth import auth
    from growth.app import create_app, freeze_startup_heap
    from growth.config import Config
    from growth.db import db

    config = Config.from_env(
        {}, database_url=url, instance_path=Path(instance), secret_key="bench", redis_url=None
    )
    app = create_app(config)
    freeze_startup_heap()
    logging.getLogger().setLevel(logging.WARNING)
    with app.app_context():
        operator = auth.create_operator(
            db.session, f"bench{time.time_ns()}@example.com", "bench password 1", "admin"
        )
        token = auth.create_token(db.session, operator)
        db.session.commit()
        db.session.close()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    warm = client.get("/api/v1/subscribers?format=csv&status=erased", headers=headers)  # first-request costs
    assert warm.status_code == 200 and warm.get_data().count(b"\n") == 1
    warm.close()
    before, peak_before = rss_mb(), peak_rss_mb()
    highest = before
    started = time.perf_counter()
    response = client.get("/api/v1/subscribers?format=csv", headers=headers)
    assert response.status_code == 200, response.status_code
    size = lines = 0
    for chunk in response.response:
        size += len(chunk)
        lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
        if lines % 10_000 == 0:  # the resident memory while streaming, sampled
            highest = max(highest, rss_mb())
    response.close()
    wall = time.perf_counter() - started
    conn.send(
        {
            "wall": wall,
            "bytes": size,
            "rows": lines - 1,
            "rss_before": before,
            "rss_streaming": max(highest, rss_mb()),
            "peak_before": peak_before,
            "rss_peak": peak_rss_mb(),
        }
    )


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000_000]
    ctx = mp.get_context("spawn")  # a clean process per step: the export's peak memory is its own
    print(
        f"{'subscribers':>11} {'load s':>7} {'export s':>8} {'rows/s':>9} {'MB out':>7} "
        f"{'RSS before':>10} {'streaming':>9} {'growth':>7} {'peak':>12}  database"
    )
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            url = fresh_database(Path(tmp))
            parent, child = ctx.Pipe()
            loader = ctx.Process(target=load, args=(url, n, child))
            loader.start()
            load_s = parent.recv()
            loader.join()
            parent, child = ctx.Pipe()
            exporter = ctx.Process(target=export, args=(url, tmp, child))
            exporter.start()
            r = parent.recv()
            exporter.join()
        assert r["rows"] == n, r
        print(
            f"{n:>11,} {load_s:>7.1f} {r['wall']:>8.1f} {n / r['wall']:>9,.0f} {r['bytes'] / 1e6:>7.1f} "
            f"{r['rss_before']:>8.0f}MB {r['rss_streaming']:>7.0f}MB "
            f"{r['rss_streaming'] - r['rss_before']:>5.0f}MB "
            f"{r['peak_before']:>4.0f}->{r['rss_peak']:.0f}MB  {url.split(':', 1)[0]}"
        )


if __name__ == "__main__":
    main()
