"""The tick: a lease in the database, every registered task when due, a failure kept to itself."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from growth import scheduler
from growth.models import ScheduledTask

T = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def counting() -> Iterator[list[dt.datetime]]:
    """A registered hourly task recording each run; unregistered after."""
    runs: list[dt.datetime] = []

    def work(_session, now):  # type: ignore[no-untyped-def]
        runs.append(now)
        return {"ran": len(runs)}

    scheduler.register_scheduled("test-counting", work, dt.timedelta(hours=1))
    yield runs
    scheduler._registry.pop("test-counting", None)


def test_a_held_lease_stops_a_second_tick_and_an_expired_one_does_not(session):  # type: ignore[no-untyped-def]
    assert scheduler.acquire_lease(session, "first", T)
    assert not scheduler.acquire_lease(session, "second", T + dt.timedelta(minutes=1))
    assert scheduler.acquire_lease(session, "first", T + dt.timedelta(minutes=1))  # its holder renews
    # The first tick was killed: its lease runs out and blocks nobody.
    assert scheduler.acquire_lease(
        session, "second", T + dt.timedelta(minutes=1) + scheduler.LEASE + dt.timedelta(seconds=1)
    )
    scheduler.release_lease(session, "first")  # not the holder: changes nothing
    assert session.get(ScheduledTask, "tick", populate_existing=True).lease_holder == "second"


def test_a_tick_that_finds_the_lease_held_does_nothing(session, counting):  # type: ignore[no-untyped-def]
    now = dt.datetime.now(dt.UTC)
    assert scheduler.acquire_lease(session, "someone else", now)
    report = scheduler.tick()
    assert report.leased is False and counting == []


def test_tasks_run_when_due_and_the_lease_is_given_back(session, counting):  # type: ignore[no-untyped-def]
    clock = [T]
    report = scheduler.tick(now=lambda: clock[0], only=None)
    assert report.leased and counting == [T]
    assert {"send-due", "sequences", "engagement", "referrals-release"} <= set(report.ran) | set(
        report.failed
    )
    clock[0] = T + dt.timedelta(minutes=30)
    scheduler.tick(now=lambda: clock[0])
    assert counting == [T]  # hourly: not due yet
    clock[0] = T + dt.timedelta(hours=1)
    scheduler.tick(now=lambda: clock[0])
    assert counting == [T, T + dt.timedelta(hours=1)]
    row = session.get(ScheduledTask, "test-counting", populate_existing=True)
    assert row.last_started_at == T + dt.timedelta(hours=1) and "ran" in row.last_outcome
    assert session.get(ScheduledTask, "tick", populate_existing=True).lease_holder is None


def test_a_failing_task_does_not_stop_the_others(session, counting):  # type: ignore[no-untyped-def]
    def broken(_session, _now):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    scheduler.register_scheduled("test-broken", broken, dt.timedelta(minutes=1))
    try:
        report = scheduler.tick(now=lambda: T, only=["test-broken", "test-counting"])
    finally:
        scheduler._registry.pop("test-broken", None)
    assert "boom" in report.failed["test-broken"] and report.ran["test-counting"] == {"ran": 1}
    assert (
        "failed"
        in session.scalars(
            select(ScheduledTask.last_outcome).where(ScheduledTask.name == "test-broken")
        ).one()
    )


def test_the_tick_command(app, session):  # type: ignore[no-untyped-def]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["tick", "--only", "referrals-release"])
    assert result.exit_code == 0, result.output
    assert "referrals-release: {'released': 0}" in result.output
    assert runner.invoke(args=["tick", "--only", "nope"]).exit_code != 0
    scheduler.acquire_lease(session, "another", dt.datetime.now(dt.UTC))
    held = runner.invoke(args=["tick"])
    assert held.exit_code == 0 and "lease" in held.output


def test_due():  # type: ignore[no-untyped-def]
    minute = dt.timedelta(minutes=1)
    assert scheduler.due(None, minute, T)
    assert scheduler.due(T, minute, T + dt.timedelta(seconds=57))  # a tick a little early still runs it
    assert not scheduler.due(T, minute, T + dt.timedelta(seconds=30))


def test_the_loop_is_off_with_scheduler_off(app_factory):  # type: ignore[no-untyped-def]
    assert scheduler.start_in_background(app_factory(scheduler="off")) is None


def test_sends_and_sequence_steps_run_on_every_tick(session):  # type: ignore[no-untyped-def]
    """A manual `flask tick` right after the scheduler's must still send what became due meanwhile."""
    clock = [T]
    first = scheduler.tick(now=lambda: clock[0])
    clock[0] = T + dt.timedelta(seconds=20)
    second = scheduler.tick(now=lambda: clock[0])
    for name in ("send-due", "sequences"):
        assert name in set(first.ran) | set(first.failed)
        assert name in set(second.ran) | set(second.failed)
    assert "engagement" not in set(second.ran) | set(second.failed)  # daily: not due again


def test_the_scheduler_command_ends_on_sigterm_after_its_tick(tmp_path):  # type: ignore[no-untyped-def]
    # systemctl stop and docker stop send SIGTERM: the loop ends cleanly (exit 0), not killed
    # mid-tick by the signal's default action.
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'masthead.db'}",
        "MASTHEAD_INSTANCE": str(tmp_path / "instance"),
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "SECRET_KEY": "test-secret-key",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("TEST_DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db-upgrade"], cwd=root, env=env, check=True, capture_output=True, timeout=120)
    log_path = tmp_path / "scheduler.log"
    log = log_path.open("wb")
    command = [*flask, "scheduler", "--interval", "0.5"]
    process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while b"ticking every" not in log_path.read_bytes():
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        time.sleep(1.5)  # a tick or more under way
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
