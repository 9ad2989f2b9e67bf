"""Benchmark: the signup API's request path in process, one request at a time (no HTTP, no gunicorn).

N signups (`POST /api/v1/subscribers`, a new address and a new X-Forwarded-For each) through the
Flask test client of an app in production mode on PostgreSQL (BENCH_DATABASE_URL, wiped) and Redis
(REDIS_URL; its database is flushed), after a warm-up. Prints the mean and median milliseconds of
bench/load.py's bare route (the signup's own INSERT, committed) and of a signup for SIGNUP_FINISH=job and
=sweep, with the ratio of the medians (the in-process counterpart of load.py's throughput
ratio), then (with --profile) cProfile's top functions (--sort, --match) for one of them.
No worker runs: what the request path costs, nothing after it.

    BENCH_DATABASE_URL=postgresql://... REDIS_URL=redis://127.0.0.1:6379/N \
        .venv/bin/python bench/signup_profile.py [-n 300] [--profile job|sweep] [--match redis]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from itertools import count
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_numbers = count(1)


def make_app(url: str, finish: str):  # type: ignore[no-untyped-def]
    """Masthead as `make serve` builds it, but in this process."""
    from growth.app import create_app
    from growth.config import Config

    env = {
        **os.environ,
        "MASTHEAD_ENV": "production",
        "SECRET_KEY": "profile-bench-" + "k" * 40,
        "BASE_URL": "https://news.example.com",
        "DATABASE_URL": url,
        "TRUSTED_PROXY_COUNT": "1",
        "MAIL_BACKEND": "outbox",
        "SIGNUP_FINISH": finish,
    }
    return create_app(Config.from_env(env))


def signups(client, n: int, path: str = "/api/v1/subscribers") -> list[float]:  # type: ignore[no-untyped-def]
    """Seconds each of n signups took; every answer must be a 202."""
    times = []
    for _ in range(n):
        k = next(_numbers)
        ip = f"10.{k >> 16 & 255}.{k >> 8 & 255}.{k & 255}"
        started = time.perf_counter()
        answer = client.post(
            path,
            json={"email": f"profile{k}-{os.getpid()}@example.com"},
            headers={"X-Forwarded-For": ip},
        )
        times.append(time.perf_counter() - started)
        if answer.status_code != 202:
            raise SystemExit(f"signup answered {answer.status_code}: {answer.get_data(as_text=True)}")
    return times


def bare_client(url: str):  # type: ignore[no-untyped-def]
    """bench/load.py's bare route (the signup's INSERT, committed) in this process, same database."""
    from bench.load import make_bare_app

    os.environ["DATABASE_URL"] = url
    return make_bare_app().test_client()


def summary(name: str, n: int, times: list[float]) -> str:
    """One line: mean, median and p90 milliseconds of n requests."""
    return (
        f"{name:22} {n} requests: mean {statistics.fmean(times) * 1000:5.2f} ms, "
        f"median {statistics.median(times) * 1000:5.2f} ms, "
        f"p90 {sorted(times)[int(0.9 * len(times))] * 1000:5.2f} ms"
    )


def main() -> None:
    from redis import Redis

    from bench.send import fresh_database

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=300, help="signups measured per mode (default 300)")
    parser.add_argument(
        "--profile", choices=("job", "sweep"), help="also print cProfile's top 30 for this mode"
    )
    parser.add_argument(
        "--sort", default="cumulative", help="cProfile's order: cumulative (default), tottime"
    )
    parser.add_argument("--match", help="only functions whose path or name matches this regex (e.g. redis)")
    args = parser.parse_args()
    if not os.environ.get("BENCH_DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("set BENCH_DATABASE_URL (PostgreSQL, wiped) and REDIS_URL (its database is flushed)")
    redis = Redis.from_url(os.environ["REDIS_URL"])
    redis.flushdb()
    url = fresh_database(Path(tempfile.mkdtemp(prefix="masthead-bench-profile-")))
    load_before = os.getloadavg()
    try:
        bare = bare_client(url)
        signups(bare, 50, "/bare")
        bare_times = signups(bare, args.n, "/bare")
        print(summary("bare INSERT", args.n, bare_times))
        for finish in ("job", "sweep"):
            app = make_app(url, finish)
            client = app.test_client()
            signups(client, 50)  # warm: the pool, the schema, the first imports
            times = signups(client, args.n)
            print(
                summary(f"SIGNUP_FINISH={finish}", args.n, times)
                + f"; bare / signup (medians) {statistics.median(bare_times) / statistics.median(times):.2f}"
            )
            if args.profile == finish:
                profiler = cProfile.Profile()
                profiler.enable()
                signups(client, args.n)
                profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(
                    *([args.match] if args.match else []), 30
                )
                print(out.getvalue())
    finally:
        redis.flushdb()
    load_after = os.getloadavg()
    print(f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")


if __name__ == "__main__":
    main()
