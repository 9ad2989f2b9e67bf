"""Benchmark of the referral report at 100k and 1M subscribers; prints figures, asserts nothing.

    DATABASE_URL=postgresql://... python bench/referrals.py --sizes 100000,1000000

Without DATABASE_URL each size gets a fresh temporary SQLite file. With it, the subscriber and
referral tables of that database are EMPTIED before each load: point it at a scratch database.

About 60% of subscribers arrive by referral. Referrers are heavy-tailed: only some readers share,
and a referrer is drawn by preferential attachment (the more friends one has brought, the likelier
the next), which gives the power-law out-degrees real programs show. The stored forest (depth,
root, direct and downstream counts) is written as the app keeps it when referrals count.

The report runs in a fresh child process so its peak memory (ru_maxrss) is the report's own,
phase by phase: load (bulk queries into plain data), metrics (every pure function), revenue.
The graph export (GET /api/v1/referrals/graph, GraphML and node-link JSON) runs the same way,
each format in its own child, writing to a byte counter: its time, size and peak memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from growth.cli import upgrade_database  # noqa: E402
from growth.config import normalise_database_url  # noqa: E402
from growth.db import make_engine  # noqa: E402

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
SPAN_DAYS = 700
REFERRED_SHARE = 0.6
SHARER_SHARE = 0.15  # readers who ever share; the rest never refer anyone
LADDERS = 2  # every reader is on one of two reward ladders, alternately, with a priced milestone at 1
TABLES = (
    "referral_ladder_assignments",
    "referral_milestones",
    "referral_ladder_variants",
    "referral_visits",
    "referral_reward_grants",
    "referral_nodes",
    "referral_address_keys",
    "referrals",
    "subscriber_events",
    "consents",
    "memberships",
    "deliveries",
    "email_events",
    "subscribers",
)


def generate(n: int, seed: int = 7) -> dict[str, list]:
    """Subscribers in confirmation order, each referred one attached to an earlier referrer."""
    rng = random.Random(seed)
    step = SPAN_DAYS * 86400 / n
    parent: list[int | None] = [None] * n
    pool: list[int] = []  # one ticket per sharer, plus one per friend brought: preferential attachment
    for i in range(n):
        if pool and rng.random() < REFERRED_SHARE:
            referrer = pool[rng.randrange(len(pool))]
            parent[i] = referrer
            pool.append(referrer)
        if rng.random() < SHARER_SHARE:
            pool.append(i)
    depth = [0] * n
    root = list(range(n))
    direct = [0] * n
    for i, p in enumerate(parent):
        if p is not None:
            depth[i], root[i] = depth[p] + 1, root[p]
            direct[p] += 1
    downstream = [0] * n
    for i in range(n - 1, -1, -1):  # children come after parents: one reverse pass
        p = parent[i]
        if p is not None:
            downstream[p] += 1 + downstream[i]
    confirmed = [START.timestamp() + i * step + rng.random() * step for i in range(n)]
    return {
        "parent": parent,
        "depth": depth,
        "root": root,
        "direct": direct,
        "downstream": downstream,
        "confirmed": confirmed,
    }


def _stamp(ts: float, sqlite: bool) -> object:
    moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    return moment.replace(tzinfo=None).isoformat(" ") if sqlite else moment


def rows(data: dict[str, list], sqlite: bool, seed: int = 11):  # type: ignore[no-untyped-def]
    """Row tuples for subscribers, referrals, referral_nodes, referral_visits, the reward ladders
    (variants, a milestone at one referral on each, every reader assigned) and their grants."""
    rng = random.Random(seed)
    parent, confirmed = data["parent"], data["confirmed"]
    subscribers, referrals, nodes, visits = [], [], [], []
    first = _stamp(START.timestamp(), sqlite)
    variants = [(v, f"ladder {v}", 1, True, first) for v in range(1, LADDERS + 1)]
    milestones = [
        (v, v, 1, f"reward {v}", "", "", True, first, 100 * v, "usd") for v in range(1, LADDERS + 1)
    ]
    assignments, grants = [], []
    for i, p in enumerate(parent):
        sid = i + 1
        at = _stamp(confirmed[i], sqlite)
        r = rng.random()
        status, stage, unsub = "active", "confirmed", None
        if r < 0.08:
            status, unsub = "unsubscribed", _stamp(confirmed[i] + rng.random() * 60 * 86400, sqlite)
        elif r < 0.30:
            stage = "engaged"
        subscribers.append(
            (
                sid,
                f"r{sid}@bench.example",
                f"r{sid}@bench.example",
                status,
                stage,
                f"c{sid:09d}",
                p + 1 if p is not None else None,
                "referral" if p is not None else "organic",
                at,
                at,
                unsub,
                at,
                at,
            )
        )
        assignments.append((sid, sid % LADDERS + 1, at))
        if data["direct"][i]:
            grants.append((sid, sid % LADDERS + 1, "granted", at))
        if p is not None:
            referrals.append((p + 1, sid, "counted", at, at, at))
            visits.append((p + 1, at, False, False, True))
            if rng.random() < 0.5:
                visits.append((p + 1, at, False, False, True))
        if p is not None or data["direct"][i]:
            nodes.append(
                (
                    sid,
                    p + 1 if p is not None else None,
                    data["root"][i] + 1,
                    data["depth"][i],
                    data["direct"][i],
                    data["downstream"][i],
                    False,
                )
            )
    return subscribers, referrals, nodes, visits, variants, milestones, assignments, grants


INSERTS = {
    "subscribers": (
        "subscribers",
        "id, email, email_normalized, status, stage, referral_code, referrer_id, source, "
        "created_at, confirmed_at, unsubscribed_at, status_changed_at, stage_changed_at",
    ),
    "referrals": (
        "referrals",
        "referrer_id, referred_id, status, created_at, confirmed_at, counted_at",
    ),
    "nodes": (
        "referral_nodes",
        "subscriber_id, parent_id, root_id, depth, direct_count, downstream_count, leaderboard_opt_in",
    ),
    "visits": ("referral_visits", "referrer_id, at, is_bot, is_self, counted"),
    "variants": ("referral_ladder_variants", "id, name, share, active, created_at"),
    "milestones": (
        "referral_milestones",
        "id, variant_id, referrals_required, reward_name, description, fulfilment_note, active, "
        "created_at, cost_cents, currency",
    ),
    "assignments": ("referral_ladder_assignments", "subscriber_id, variant_id, assigned_at"),
    "grants": ("referral_reward_grants", "subscriber_id, milestone_id, status, granted_at"),
}


def bulk_load(url: str, n: int) -> dict[str, float]:
    """Migrate, empty, then load n subscribers with their referrals, forest and visits."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    upgrade_database(url)
    data = generate(n)
    tables = rows(data, url.startswith("sqlite"))
    timings["generate"] = time.perf_counter() - clock
    clock = time.perf_counter()
    engine = make_engine(url)
    with engine.begin() as conn:
        if url.startswith("postgresql"):
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
        else:
            for table in TABLES:
                conn.execute(text(f"DELETE FROM {table}"))
        raw = conn.connection.driver_connection
        for key, batch in zip(INSERTS, tables, strict=True):
            table, columns = INSERTS[key]
            if url.startswith("postgresql"):
                with raw.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(columns.split(",")))
                raw.cursor().executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", batch)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    timings["load_db"] = time.perf_counter() - clock
    timings["referred"] = sum(1 for p in data["parent"] if p is not None)
    timings["max_depth"] = max(data["depth"])
    timings["max_direct"] = max(data["direct"])
    return timings


def report_phase(url: str, with_networkx: bool) -> dict[str, float]:
    """Run in the child: time the report phase by phase and its peak memory."""
    from referrals import report

    clock = time.perf_counter()
    engine = make_engine(url)
    timings: dict[str, float] = {}
    with Session(engine) as session:
        now = START + dt.timedelta(days=SPAN_DAYS + 1)
        result = report.referral_report(session, now, cohort="month", horizon_days=30, timings=timings)
        timings["total"] = time.perf_counter() - clock
        timings["peak_rss_mb"] = peak_rss_mb()
        timings["k_factor"] = result["k_factor"]
        timings["amplification"] = result["amplification"]
        timings["max_generation"] = result["max_generation"]
        timings["top_share"] = result["concentration"]["top_share"]
        timings["virality_mean"] = result["structural_virality"]["mean"]
        timings["virality_cascades"] = result["structural_virality"]["cascades"]
        timings["ladders_judged"] = sum(row["judged"] for row in result["ladders"])
        if with_networkx:
            clock = time.perf_counter()
            report.build_graph(session)
            timings["networkx_reference_build"] = time.perf_counter() - clock
    engine.dispose()
    return timings


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (reset by exec, unlike ru_maxrss, which a
    child started from this large parent inherits), ru_maxrss where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_phase(url: str, fmt: str) -> dict[str, float]:
    """Run in the child: stream the whole graph export into a byte counter."""
    from referrals import graph_export

    before = peak_rss_mb()
    clock = time.perf_counter()
    engine = make_engine(url)
    size = lines = 0
    with Session(engine) as session:
        source = graph_export.referral_graph(session, with_revenue=True, with_email=False)
        write = graph_export.graphml_lines if fmt == "graphml" else graph_export.node_link_chunks
        out = write(source)
        for chunk in out:
            size += len(chunk.encode()) + 1
            lines += chunk.count("\n") + 1
    engine.dispose()
    return {
        "seconds": time.perf_counter() - clock,
        "mb_written": size / 1e6,
        "lines": lines,
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
    }


def _child(*args: str) -> dict[str, float]:
    child = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(child.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated subscriber counts")
    parser.add_argument("--networkx", action="store_true", help="also time the networkx reference build")
    parser.add_argument("--no-export", action="store_true", help="skip the graph export figures")
    parser.add_argument("--report-only", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--export-only", nargs=2, metavar=("URL", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.report_only:
        print(json.dumps(report_phase(args.report_only, args.networkx)))
        return
    if args.export_only:
        print(json.dumps(export_phase(*args.export_only)))
        return
    configured = os.environ.get("DATABASE_URL")
    where = "configured DATABASE_URL" if configured else "temporary SQLite"
    print(f"database: {where}; python {sys.version.split()[0]}")
    header = (
        f"{'subscribers':>12}{'load db':>9}{'report':>9}{'  load':>8}{'metrics':>9}{'peak MB':>9}"
        "  k      amp   depth  virality"
    )
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            url = normalise_database_url(configured) if configured else f"sqlite:///{tmp}/bench.db"
            loaded = bulk_load(url, n)
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--report-only",
                    url,
                    *(["--networkx"] if args.networkx else []),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            timed = json.loads(child.stdout.strip().splitlines()[-1])
            results.append((n, loaded, timed))
            if not args.no_export:
                for fmt in ("graphml", "json"):
                    e = _child("--export-only", url, fmt)
                    print(
                        f"   graph export {fmt}: {e['seconds']:.1f}s, {e['mb_written']:.0f} MB written "
                        f"({int(e['lines'])} lines), peak RSS {e['peak_rss_mb']:.0f} MB "
                        f"(interpreter and imports before it: {e['rss_before_mb']:.0f} MB)",
                        flush=True,
                    )
            print(
                f"n={n}: generated in {loaded['generate']:.1f}s, "
                f"loaded in {loaded['load_db']:.1f}s; "
                f"{int(loaded['referred'])} referred, deepest {int(loaded['max_depth'])}, "
                f"top referrer {int(loaded['max_direct'])} friends",
                flush=True,
            )
            print(
                "   report phases: " + ", ".join(f"{k} {v:.2f}" for k, v in timed.items()),
                flush=True,
            )
    print()
    print(header)
    for n, loaded, t in results:
        print(
            f"{n:>12}{loaded['load_db']:>8.1f}s{t['total']:>8.2f}s{t['load']:>7.2f}s{t['metrics']:>8.2f}s"
            f"{t['peak_rss_mb']:>9.0f}  {t['k_factor']:.3f}  {t['amplification']:.2f}"
            f"  {t['max_generation']}  {t['virality_mean'] or 0:.2f} over {int(t['virality_cascades'])}"
        )
    if len(results) > 1:
        (n0, _, a), (n1, _, b) = results[0], results[-1]
        print(
            f"\nreport time x{b['total'] / a['total']:.1f} for x{n1 / n0:.0f} subscribers "
            f"(linear would be x{n1 / n0:.0f}); target at 1M: <= 10 s and <= 2048 MB"
        )


if __name__ == "__main__":
    main()
