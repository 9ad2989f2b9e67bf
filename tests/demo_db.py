"""A seeded demo database for tests that need a believable install (reports, pages, browsers).

`seeded_copy(folder)` runs `seed-demo --small` once per test process, on a fresh SQLite file,
and hands each caller its own copy of the result: seconds for the first caller, a file copy
for the next. The command runs in a process of its own, as `make demo` runs it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "seed-demo-test-secret-key-of-32-bytes!!"
_made: dict[int, tuple[Path, dict[str, Any]]] = {}


def demo_env(folder: Path, **extra: str) -> dict[str, str]:
    """The environment of a command on `folder`'s database: no Stripe, SendGrid at a closed port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "SENDGRID_", "DATABASE_"))}
    env.update(
        MASTHEAD_INSTANCE=str(folder),
        DATABASE_URL=f"sqlite:///{folder / 'masthead.db'}",
        SECRET_KEY=SECRET_KEY,
        BASE_URL="http://masthead.test",
        MAIL_BACKEND="sendgrid",
        SENDGRID_API_KEY="SG.not-a-key",
        SENDGRID_API_HOST="http://127.0.0.1:9",  # nothing listens: a send would fail
        SCHEDULER="off",
    )
    env.update(extra)
    return env


def is_reserved_domain(domain: str) -> bool:
    """Reserved for examples by RFC 2606 / RFC 6761: never a real mailbox."""
    labels = domain.lower().split(".")
    return labels[-1] in ("example", "test", "invalid") or labels[-2:] in (
        ["example", "com"],
        ["example", "net"],
        ["example", "org"],
    )


def flask(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`flask --app wsgi <args>` on `folder`'s database."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=demo_env(folder),
        capture_output=True,
        text=True,
        timeout=600,
    )


def fresh(folder: Path) -> Path:
    """A migrated, empty SQLite database in `folder`."""
    from growth.cli import upgrade_database

    folder.mkdir(parents=True, exist_ok=True)
    upgrade_database(f"sqlite:///{folder / 'masthead.db'}")
    return folder / "masthead.db"


def last_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON object on the last line of a successful seed-demo."""
    if result.returncode != 0:
        raise AssertionError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def seeded_copy(folder: Path, seed: int = 1) -> tuple[Path, dict[str, Any]]:
    """`folder/masthead.db` filled by `seed-demo --small --seed <seed>`, and what it made."""
    if seed not in _made:
        origin = Path(tempfile.mkdtemp(prefix="masthead-demo-"))
        fresh(origin)
        _made[seed] = origin, last_json(flask(origin, "seed-demo", "--small", "--seed", str(seed)))
    origin, made = _made[seed]
    folder.mkdir(parents=True, exist_ok=True)
    # SQLite's backup, not a file copy: the last commits may still be in the -wal file only.
    with sqlite3.connect(origin / "masthead.db") as source, sqlite3.connect(folder / "masthead.db") as copy:
        source.backup(copy)
    return folder / "masthead.db", dict(made)
