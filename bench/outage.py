"""Requests during a 15 s database outage: how many answer 500 (target 0), 503, 2xx.

Starts a private PostgreSQL (tests/services.py), serves the app on a threaded local server,
and keeps four clients busy (signup API, archive page, signup page) while the database is
stopped for OUTAGE_SECONDS and started again; then checks that the same process serves again.
Usage: .venv/bin/python bench/outage.py
"""

from __future__ import annotations

import collections
import logging
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from werkzeug.serving import make_server  # noqa: E402

from growth.app import create_app  # noqa: E402
from growth.cli import upgrade_database  # noqa: E402
from growth.config import Config  # noqa: E402
from tests.services import PrivatePostgres, free_port, wait_for  # noqa: E402

OUTAGE_SECONDS = float(os.environ.get("OUTAGE_SECONDS", "15"))
CLIENTS = 4


def request(base: str, n: int) -> int:
    """One request of the mix; its status (599 when no HTTP answer came)."""
    kind = n % 3
    if kind == 0:
        body = f'{{"email": "bench{uuid.uuid4().hex[:10]}@example.com"}}'.encode()
        req = urllib.request.Request(
            f"{base}/api/v1/subscribers", data=body, headers={"Content-Type": "application/json"}
        )
    else:
        req = urllib.request.Request(f"{base}/" if kind == 1 else f"{base}/subscribe")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 599


def main() -> None:
    logging.basicConfig(level=logging.CRITICAL)  # thousands of request and 503 lines otherwise
    cluster = PrivatePostgres()
    instance = Path(tempfile.mkdtemp(prefix="masthead-p2-bench-"))
    try:
        cluster.start()
        upgrade_database(cluster.url)
        config = Config.from_env(
            {},
            database_url=cluster.url,
            instance_path=instance,
            secret_key="bench-secret",
            base_url="http://127.0.0.1",
            outbox_dir=instance / "outbox",
            signup_rate_limit="100000/minute",
        )
        app = create_app(config)
        port = free_port()
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{port}"
        phase = ["before"]
        counts: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
        stop = threading.Event()

        def client(offset: int) -> None:
            n = offset
            while not stop.is_set():
                status = request(base, n)
                counts[phase[0]][status] += 1
                n += 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(3)
        phase[0] = "outage"
        cluster.stop()
        stopped = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        phase[0] = "restart"
        cluster.start()
        outage = time.monotonic() - stopped
        wait_for(lambda: request(base, 0) == 202, 60, "signups accepted again")
        phase[0] = "after"
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join()
        server.shutdown()
        print(f"database down for {outage:.1f} s; {CLIENTS} clients (signup API, archive, signup page)")
        for name in ("before", "outage", "restart", "after"):
            got = counts[name]
            total = sum(got.values())
            fives = got.get(500, 0)
            print(f"  {name:8} {total:6d} requests: 500s {fives}, by status {dict(sorted(got.items()))}")
        all_500 = sum(c.get(500, 0) for c in counts.values())
        during = sum(counts["outage"].values()) + sum(counts["restart"].values())
        print(f"500s during the outage and restart: {all_500} of {during} requests (target 0)")
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()
