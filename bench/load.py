"""Benchmark: how much traffic `make serve` holds, beside a bare Flask route on the same stack.

Two gunicorn servers from gunicorn.conf.py in production mode (the settings `make serve` uses),
on PostgreSQL (BENCH_DATABASE_URL, wiped) and Redis (REDIS_URL; its database is flushed):

- Masthead on BENCH_PORT (default 5108): `POST /api/v1/subscribers` (a new address each time)
  and the referral landing page `GET /r/<code>` (the visit is recorded);
- a bare Flask app on BENCH_PORT + 1: `POST /bare`, the signup's own INSERT (the same statement
  into `subscribers`, growth.subscribers.insert_subscriber_statement) through the same engine
  settings (growth.db.make_engine), committed, answered 202 JSON.

Each client request comes from another address in X-Forwarded-For (TRUSTED_PROXY_COUNT=1, as
behind a proxy), so the per-IP limits (SIGNUP_RATE_LIMIT, the landing page's 60 a minute) are
exercised as in production without one client address hitting them. The load tool is a bounded
asyncio client (standard library only): first a closed loop of LOAD_CONCURRENCY requests in flight
for LOAD_SECONDS (the maximum rate), then an open loop at half that rate for LOAD_SECONDS
(latency counted from when each request was due, so queueing shows). Each phase is split into
LOAD_ROUNDS (default 3) rounds that take the targets in turn (bare, signup, landing, bare...),
so that the shared machine's busy minutes fall on all of them alike; the ratio is printed for
the whole and for each round.

    BENCH_DATABASE_URL=postgresql://... REDIS_URL=redis://127.0.0.1:6379/N .venv/bin/python bench/load.py
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONCURRENCY = int(os.environ.get("LOAD_CONCURRENCY", "16"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "15"))
ROUNDS = max(1, int(os.environ.get("LOAD_ROUNDS", "3")))
PORT = int(os.environ.get("BENCH_PORT", "5108"))
_numbers = count(1)


def make_bare_app():  # type: ignore[no-untyped-def]
    """The baseline: the signup's one INSERT per request, bare, through the same engine settings.

    The same statement as a signup's (growth.subscribers.insert_subscriber_statement: the
    subscriber's row in `subscribers`, ON CONFLICT DO NOTHING RETURNING, the same columns and
    kinds of values), in a plain Flask view: no validation, no rate limit, no log line, no
    security headers, no job. What a signup costs beyond it is Masthead's own work.
    """
    from flask import Flask, jsonify, request

    from growth.config import normalise_database_url
    from growth.db import make_engine, utcnow
    from growth.subscribers import (
        SignupRequest,
        insert_subscriber_statement,
        signup_setup_values,
        subscriber_values,
    )

    app = Flask("bare")
    engine = make_engine(normalise_database_url(os.environ["DATABASE_URL"]))

    @app.post("/bare")
    def bare():  # type: ignore[no-untyped-def]
        email = str((request.get_json(silent=True) or {}).get("email") or "")
        req = SignupRequest(email=email, form="api", ip=request.remote_addr)
        setup = signup_setup_values(req, None, {})
        values = subscriber_values(req, email, email.lower(), utcnow(), None, setup)
        with engine.begin() as conn:
            conn.execute(insert_subscriber_statement(conn.dialect.name, values), values).first()
        return jsonify({"status": "pending"}), 202

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return "ok"

    return app


# --- the client --------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    port: int
    method: str
    path: str
    body: bool  # a JSON signup body with a fresh address

    def request(self) -> bytes:
        n = next(_numbers)
        ip = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        head = (
            f"{self.method} {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nX-Forwarded-For: {ip}\r\n"
        )
        if not self.body:
            return (head + "Connection: close\r\n\r\n").encode()
        payload = json.dumps({"email": f"load{n}-{os.getpid()}@example.com"}).encode()
        head += (
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        )
        return head.encode() + payload


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000 if ordered else float("nan")


async def one(target: Target, tally: Tally, due: float) -> None:
    """One request on its own connection (gunicorn's sync workers close after each answer)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
        writer.write(target.request())
        await writer.drain()
        answer = await reader.read()
        writer.close()
        status = int(answer.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        tally.errors += 1
        return
    tally.latencies.append(time.perf_counter() - due)
    tally.statuses[status] = tally.statuses.get(status, 0) + 1


async def closed_loop(target: Target, seconds: float, concurrency: int) -> tuple[float, Tally]:
    """`concurrency` requests always in flight; (answers per second, tally)."""
    tally = Tally()
    end = time.perf_counter() + seconds

    async def lane() -> None:
        while time.perf_counter() < end:
            await one(target, tally, time.perf_counter())

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return len(tally.latencies) / (time.perf_counter() - started), tally


async def open_loop(target: Target, seconds: float, rate: float, bound: int = 512) -> Tally:
    """Requests due at a fixed rate (at most `bound` in flight); latency from when each was due."""
    tally = Tally()
    gate = asyncio.Semaphore(bound)
    start = time.perf_counter()
    tasks = []

    async def paced(due: float) -> None:
        async with gate:
            await one(target, tally, due)

    for i in range(int(seconds * rate)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(paced(due)))
    await asyncio.gather(*tasks)
    return tally


# --- the servers -------------------------------------------------------------------------------


def serve(spec: str, port: int, env: dict[str, str], instance: Path) -> subprocess.Popen[bytes]:
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "prometheus").mkdir(exist_ok=True)
    env = {
        **env,
        "PORT": str(port),
        "MASTHEAD_INSTANCE": str(instance),
        "PROMETHEUS_MULTIPROC_DIR": str(instance / "prometheus"),
    }
    log = open(instance / "server.log", "wb")  # noqa: SIM115  # lives as long as the server
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), spec],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"{spec} did not start on {port}: see {instance / 'server.log'}")


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)


def referral_code(url: str) -> str:
    from sqlalchemy import text

    from growth.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE subscribers SET status = 'active', stage = 'confirmed'"))
        code = conn.scalar(text("SELECT referral_code FROM subscribers ORDER BY id LIMIT 1"))
    engine.dispose()
    return str(code)


def main() -> None:
    from redis import Redis

    from bench.send import fresh_database

    if not os.environ.get("BENCH_DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("set BENCH_DATABASE_URL (PostgreSQL, wiped) and REDIS_URL (its database is flushed)")
    redis = Redis.from_url(os.environ["REDIS_URL"])
    redis.flushdb()
    tmp = Path(tempfile.mkdtemp(prefix="masthead-bench-load-"))
    url = fresh_database(tmp)
    env = {
        **os.environ,
        "MASTHEAD_ENV": "production",
        "SECRET_KEY": "load-bench-" + "k" * 40,
        "BASE_URL": "https://news.example.com",
        "DATABASE_URL": url,
        "TRUSTED_PROXY_COUNT": "1",
        "MAIL_BACKEND": "outbox",
    }
    load_before = os.getloadavg()
    masthead = serve("wsgi:app", PORT, env, tmp / "masthead")
    bare = serve("bench.load:make_bare_app()", PORT + 1, env, tmp / "bare")
    try:
        first = Target("first signup", PORT, "POST", "/api/v1/subscribers", True)
        asyncio.run(one(first, Tally(), time.perf_counter()))
        code = referral_code(url)
        targets = [
            Target("bare INSERT (POST /bare)", PORT + 1, "POST", "/bare", True),
            Target("signup (POST /api/v1/subscribers)", PORT, "POST", "/api/v1/subscribers", True),
            Target("referral landing (GET /r/<code>)", PORT, "GET", f"/r/{code}", False),
        ]
        for target in targets:  # warm every worker
            asyncio.run(closed_loop(target, 2, CONCURRENCY))
        # Interleaved: ROUNDS short phases of each target in turn, so that a busy minute of the
        # shared machine falls on every target alike rather than on whichever ran then.
        phase = SECONDS / ROUNDS
        maxima: dict[str, list[tuple[float, Tally]]] = {t.name: [] for t in targets}
        for _ in range(ROUNDS):
            for target in targets:
                maxima[target.name].append(asyncio.run(closed_loop(target, phase, CONCURRENCY)))
        rates = {name: sum(r for r, _ in runs) / len(runs) for name, runs in maxima.items()}
        halves: dict[str, list[Tally]] = {t.name: [] for t in targets}
        for _ in range(ROUNDS):
            for target in targets:
                halves[target.name].append(asyncio.run(open_loop(target, phase, rates[target.name] / 2)))
        rows = [
            (t, rates[t.name], merged(x for _, x in maxima[t.name]), merged(halves[t.name])) for t in targets
        ]
    finally:
        stop(masthead)
        stop(bare)
        redis.flushdb()
    load_after = os.getloadavg()
    workers = os.environ.get("WEB_CONCURRENCY") or f"{(os.cpu_count() or 1) * 2 + 1} (2 x cores + 1)"
    print(
        f"{os.cpu_count()} cores; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
        f"gunicorn workers {workers} per server; {CONCURRENCY} in flight; {SECONDS:.0f} s per phase "
        f"in {ROUNDS} rounds"
    )
    print(
        f"{'target':38} {'max req/s':>9} {'p50 ms':>7} {'p99 ms':>7} | "
        f"{'at half':>8} {'p50 ms':>7} {'p99 ms':>7}  answers"
    )
    for target, rate, tally, half in rows:
        answers = ", ".join(f"{k}: {v}" for k, v in sorted({**tally.statuses}.items()))
        print(
            f"{target.name:38} {rate:9.0f} {tally.pct(50):7.1f} {tally.pct(99):7.1f} | "
            f"{len(half.latencies) / SECONDS:8.0f} {half.pct(50):7.1f} {half.pct(99):7.1f}  "
            f"{answers}; at half {dict(sorted(half.statuses.items()))}; errors {tally.errors + half.errors}"
        )
    bare_name, signup_name = targets[0].name, targets[1].name
    per_round = " ".join(
        f"{s / b:.2f}" for (b, _), (s, _) in zip(maxima[bare_name], maxima[signup_name], strict=True)
    )
    print(
        f"signup / bare throughput: {rows[1][1] / rows[0][1]:.2f} (target >= 0.5; by round {per_round}); "
        f"signup p99 at half rate {rows[1][3].pct(99):.0f} ms (target < 100; by round "
        + " ".join(f"{t.pct(99):.0f}" for t in halves[signup_name])
        + ")"
    )


def merged(tallies: Iterable[Tally]) -> Tally:
    """One tally of several phases' answers."""
    out = Tally()
    for tally in tallies:
        out.latencies.extend(tally.latencies)
        out.errors += tally.errors
        for status, n in tally.statuses.items():
            out.statuses[status] = out.statuses.get(status, 0) + n
    return out


if __name__ == "__main__":
    main()
