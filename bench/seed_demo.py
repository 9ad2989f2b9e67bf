"""Benchmark: `flask seed-demo` at full size on a fresh embedded (SQLite) database, as `make demo`.

Runs the command in a process of its own (its peak memory is its own) on a new SQLite file, and
prints wall time, peak resident memory, the file's size and what the run made. The target: under
two minutes. The load average is printed too: on a shared machine it explains the time.

    .venv/bin/python bench/seed_demo.py [--seed N] [--small]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str]) -> None:
    from growth.cli import upgrade_database

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'masthead.db'}"
        upgrade_database(url)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "SENDGRID_"))}
        env.update(MASTHEAD_INSTANCE=str(folder), DATABASE_URL=url, SCHEDULER="off")
        env.pop("REDIS_URL", None)
        load = os.getloadavg()[0]
        began = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "seed-demo", *argv],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - began
        if run.returncode != 0:
            sys.exit(run.stderr)
        made = json.loads(run.stdout.strip().splitlines()[-1])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        size_mb = sum(f.stat().st_size for f in folder.glob("masthead.db*")) / 1e6
        print(
            f"seed-demo {' '.join(argv) or '(full year)'}: {wall:.1f} s wall, peak {peak_mb:.0f} MB, "
            f"database {size_mb:.1f} MB, load average at start {load:.1f}"
        )
        keys = ("k", "subscribers", "confirmed", "paying", "mrr_cents", "posts", "referrals_counted")
        print("  " + ", ".join(f"{k}={made.get(k)}" for k in keys))
        print(f"  deliveries {made.get('deliveries_sent')}, billing {made.get('billing')}")


if __name__ == "__main__":
    main(sys.argv[1:])
