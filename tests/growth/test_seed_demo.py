"""seed-demo end to end: the CLI on a fresh embedded database, as `make demo` runs it.

Each run is a process of its own on a new SQLite file (the command commits as it goes, and the
app reads its database from the environment). Mail goes to SendGrid at a closed port: a single
provider call would leave a delivery failed or queued.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.demo_db import ROOT, demo_env, flask, fresh, is_reserved_domain, last_json, seeded_copy

SEED = 7


def counts(db_file: Path) -> dict[str, Any]:
    with sqlite3.connect(db_file) as conn:
        one = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
        return {
            "deliveries": one("SELECT state, provider, count(*) FROM deliveries GROUP BY 1, 2 ORDER BY 1, 2"),
            "email_events": one("SELECT count(*) FROM email_events"),
            "stripe_events": one("SELECT outcome, count(*) FROM billing_events GROUP BY 1"),
            "subscribers": one("SELECT status, stage, count(*) FROM subscribers GROUP BY 1, 2 ORDER BY 1, 2"),
            "enrolment_claims": one("SELECT count(*) FROM sequence_step_claims"),
        }


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("demo")
    _, made = seeded_copy(folder, SEED)
    return folder, made


def test_the_last_line_says_what_it_made(seeded: tuple[Path, dict[str, Any]]) -> None:
    folder, result = seeded
    assert list(result)[:5] == ["k", "subscribers", "confirmed", "paying", "mrr_cents"]
    assert result["subscribers"] > result["confirmed"] > 0
    assert result["paying"] > 0 and result["mrr_cents"] > 0
    assert result["k"] == pytest.approx(result["referrals_counted"] / result["confirmed"], abs=1e-4)
    assert result["machine_opens"] > 0 and result["scanner_clicks"] > 0 and result["human_opens"] > 0
    assert result["deliveries_sent"]["value"] > 0 and result["deliveries_sent"]["pitch"] > 0
    assert result["billing"]["conversions"] > 0
    assert result["billing"]["failed_payments"] > 0 and result["billing"]["churned"] > 0
    assert result["billing"]["upgrades"] > 0
    assert len(result["by_source"]) >= 4 and "referral" in result["by_source"]


def test_it_went_through_the_services_and_sent_nothing(seeded: tuple[Path, dict[str, Any]]) -> None:
    folder, _ = seeded
    found = counts(folder / "masthead.db")
    # Every delivery the simulated backend took (skipped ones never went); none failed or waits.
    assert {state for state, _, _ in found["deliveries"]} <= {"sent", "skipped"}
    assert {provider for state, provider, _ in found["deliveries"] if state == "sent"} == {"demo"}
    assert dict(found["stripe_events"]) == {"applied": dict(found["stripe_events"])["applied"]}
    assert not (folder / "outbox").exists() or not any((folder / "outbox").iterdir())
    with sqlite3.connect(folder / "masthead.db") as conn:
        emails = [e for (e,) in conn.execute("SELECT email FROM subscribers")]
        ips = [ip for (ip,) in conn.execute("SELECT signup_ip FROM subscribers")]
        lease = conn.execute("SELECT lease_holder FROM scheduled_tasks WHERE name = 'tick'").fetchone()
    assert len(set(ips)) == len(ips) and all(ips)
    domains = {e.rsplit("@", 1)[1] for e in emails}
    assert all(is_reserved_domain(d) for d in domains) and len(domains) >= 4, domains
    assert lease == (None,)  # given back


def test_reading_is_judged_by_the_engagement_code(seeded: tuple[Path, dict[str, Any]]) -> None:
    """Readers whose only signals are machine opens or scanner clicks never count as engaged."""
    folder, _ = seeded
    with sqlite3.connect(folder / "masthead.db") as conn:
        unread = conn.execute(
            """SELECT s.stage, count(*) FROM subscribers s
               WHERE EXISTS (SELECT 1 FROM email_events e WHERE e.subscriber_id = s.id
                             AND (e.is_machine OR e.is_scanner))
                 AND NOT EXISTS (SELECT 1 FROM email_events e WHERE e.subscriber_id = s.id
                                 AND e.type IN ('open', 'click') AND NOT e.is_machine AND NOT e.is_scanner)
               GROUP BY s.stage"""
        ).fetchall()
        engaged_readers = conn.execute(
            "SELECT count(*) FROM subscribers WHERE stage IN ('engaged', 'nurtured')"
        ).fetchone()[0]
        second_generation = conn.execute(
            """SELECT count(*) FROM referrals r JOIN subscribers s ON s.id = r.referrer_id
               WHERE r.status = 'counted' AND s.referrer_id IS NOT NULL"""
        ).fetchone()[0]
    assert unread and not {stage for stage, _ in unread} & {"engaged", "nurtured"}
    assert engaged_readers > 0
    assert second_generation > 0  # cascades: referred readers refer in turn


def test_the_reports_agree_with_what_it_says(seeded: tuple[Path, dict[str, Any]]) -> None:
    folder, result = seeded
    probe = subprocess.run(
        [sys.executable, "-m", "tests.growth.demo_probe"],
        cwd=ROOT,
        env=demo_env(folder),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    reports = json.loads(probe.stdout.strip().splitlines()[-1])
    assert abs(reports["referrals"]["k_factor"] - result["k"]) <= 0.05
    assert reports["revenue"]["mrr_cents"] == result["mrr_cents"] > 0


def test_the_rollups_it_leaves_equal_a_rebuild(seeded: tuple[Path, dict[str, Any]]) -> None:
    """The rollups run once after the simulated year, not in its ticks: they still hold everyone."""
    folder, result = seeded
    probe = subprocess.run(
        [sys.executable, "-m", "tests.growth.demo_probe", "rollups"],
        cwd=ROOT,
        env=demo_env(folder),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    cells = json.loads(probe.stdout.strip().splitlines()[-1])
    signups = sum(int(c[-1]) for c in cells["stored"] if c[0] == "growth" and c[6] == "signups")
    assert signups == result["subscribers"] > 0
    assert cells["stored"] == cells["rebuilt"]


def test_a_tick_right_after_sends_and_enqueues_nothing(seeded: tuple[Path, dict[str, Any]]) -> None:
    folder, _ = seeded
    before = counts(folder / "masthead.db")
    queued_before = _queued()
    tick = flask(folder, "tick")
    assert tick.returncode == 0, tick.stderr[-3000:]
    assert counts(folder / "masthead.db") == before
    assert _queued() == queued_before
    assert not (folder / "outbox").exists() or not any((folder / "outbox").iterdir())


def _queued() -> int | None:
    """Jobs waiting in Redis (the suite's REDIS_URL), None without Redis."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    from redis import Redis
    from rq import Queue

    return len(Queue("masthead", connection=Redis.from_url(url)))


def test_it_refuses_a_database_that_has_subscribers(seeded: tuple[Path, dict[str, Any]]) -> None:
    folder, result = seeded
    before = counts(folder / "masthead.db")
    again = flask(folder, "seed-demo", "--small")
    assert again.returncode != 0
    assert f"already has {result['subscribers']} subscribers" in again.stderr
    assert counts(folder / "masthead.db") == before


def test_same_seed_same_year_while_another_connection_reads_and_writes(
    seeded: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """A second run with the seed makes the same year, while a server-like connection writes."""
    _, first = seeded
    db_file = fresh(tmp_path)
    with sqlite3.connect(db_file) as conn:
        conn.execute("CREATE TABLE probe_writes (at REAL)")
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "seed-demo", "--small", "--seed", str(SEED)],
        cwd=ROOT,
        env=demo_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: dict[str, Any] = {"writes": 0, "reads": 0, "errors": [], "holders": set()}
    stop = threading.Event()

    def serve_beside() -> None:
        # A server's unit of work: BEGIN IMMEDIATE, read, write, commit; 5 s at most to get the
        # lock (the app waits 30 s): a seed-demo transaction longer than that fails it.
        conn = sqlite3.connect(db_file, timeout=5, isolation_level=None)
        while not stop.is_set():
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("SELECT count(*) FROM subscribers").fetchone()
                holder = conn.execute(
                    "SELECT lease_holder FROM scheduled_tasks WHERE name = 'tick'"
                ).fetchone()
                conn.execute("INSERT INTO probe_writes VALUES (?)", (time.time(),))
                conn.execute("COMMIT")
                seen["writes"] += 1
                if holder and holder[0]:
                    seen["holders"].add(holder[0].split(":")[0])
            except sqlite3.Error as exc:
                seen["errors"].append(str(exc))
                conn.execute("ROLLBACK") if conn.in_transaction else None
            time.sleep(0.05)
        conn.close()

    writer = threading.Thread(target=serve_beside)
    writer.start()
    try:
        out, err = process.communicate(timeout=600)
    finally:
        stop.set()
        writer.join()
    assert process.returncode == 0, err[-3000:]
    second = last_json(subprocess.CompletedProcess([], 0, out, err))
    assert seen["errors"] == [] and seen["writes"] > 10
    assert seen["holders"] == {"seed-demo"}  # the server's tick stays out while it runs
    first, second = dict(first), dict(second)
    first.pop("seconds"), second.pop("seconds")
    assert second == first
