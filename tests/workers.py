"""Real `flask --app wsgi worker` processes for the outage tests, on given services."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    """One `flask worker` subprocess (no tick: the test drives the tick), its log in a file."""

    def __init__(self, database_url: str, redis_url: str, directory: Path, **env: str):
        self.log_path = directory / f"worker-{len(list(directory.glob('worker-*.log')))}.log"
        environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "test-secret-key",
            "BASE_URL": "http://masthead.test",
            "MASTHEAD_INSTANCE": str(directory / "instance"),
            "OUTBOX_DIR": str(directory / "outbox"),
            "SCHEDULER": "off",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        environment.pop("TEST_DATABASE_URL", None)
        flask = Path(sys.executable).with_name("flask")
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(flask), "--app", "wsgi", "worker"],
            cwd=ROOT,
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when the machine or the OOM killer stops it."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
