"""`make serve` for real: gunicorn in production mode with only the three required settings.

SQLite, no Redis and the outbox are warned about, not refused; any Host is served over plain
http without a redirect; /readyz, /metrics (every worker's counts, multiprocess mode) and the
JSON log lines are checked on the running server.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORT = int(os.environ.get("MASTHEAD_TEST_SERVE_PORT", "5105"))
SECRET = "serve-test-secret-key-that-is-long-enough"
BASE = f"http://127.0.0.1:{PORT}"
SIGNUPS = 4

pytestmark = pytest.mark.skipif(
    not (ROOT / ".venv" / "bin" / "gunicorn").exists(), reason="no .venv gunicorn"
)


def call(path: str, method: str = "GET", body: dict | None = None, headers: dict | None = None):  # type: ignore[no-untyped-def, type-arg]
    """(status, headers, text) of a request to the server; never raises on an HTTP status."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:  # type: ignore[type-arg]
    instance = tmp_path_factory.mktemp("serve-instance")
    log_path = instance / "server.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "MASTHEAD_ENV": "production",
        "SECRET_KEY": SECRET,
        "BASE_URL": "https://news.example.com",
        # Where this test's server keeps its files (SQLite, outbox, pid), and its port.
        "MASTHEAD_INSTANCE": str(instance),
        "PORT": str(PORT),
    }
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "serve"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if call("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("make serve did not come up:\n" + log_path.read_text())
            time.sleep(0.5)
        yield {"instance": instance, "log": log_path, "process": process}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_serves_any_host_over_http_without_redirect(server):  # type: ignore[no-untyped-def]
    status, headers, text = call("/subscribe", headers={"Host": "whatever.example.org"})
    assert status == 200 and "Location" not in headers
    assert headers["Server"].startswith("gunicorn")
    assert headers["Strict-Transport-Security"]  # from the https BASE_URL, not from a redirect


def test_ready_on_sqlite_without_redis(server):  # type: ignore[no-untyped-def]
    status, _, text = call("/readyz")
    assert status == 200, text
    assert json.loads(text)["checks"] == {"database": {"ok": True}, "migrations": {"ok": True}}


def test_metrics_count_signups_across_workers(server):  # type: ignore[no-untyped-def]
    for i in range(SIGNUPS):
        status, _, text = call("/api/v1/subscribers", "POST", {"email": f"served-{i}@example.com"})
        assert status == 202, text
    status, _, text = call("/metrics")
    assert status == 200
    assert re.search(rf"^masthead_signups_total {SIGNUPS}\.0$", text, re.M), text
    labels = r'method="POST",route="/api/v1/subscribers",status="202"'
    assert re.search(rf"^masthead_http_requests_total\{{{labels}\}} {SIGNUPS}\.0$", text, re.M), text
    # The counts live in the multiprocess directory make serve set, summed over the workers.
    assert len(list((server["instance"] / "prometheus").glob("counter_*.db"))) >= 1


def test_metrics_refused_to_a_relayed_caller(server):  # type: ignore[no-untyped-def]
    status, _, text = call("/metrics", headers={"X-Forwarded-For": "198.51.100.4"})
    assert status == 403 and json.loads(text)["error"]["code"] == "forbidden"


def test_log_lines_are_json_without_tokens_or_secrets(server):  # type: ignore[no-untyped-def]
    outbox = server["instance"] / "outbox"
    message = next(outbox.glob("*-confirmation.eml")).read_text()
    token = re.search(r"https://news\.example\.com/confirm/([A-Za-z0-9._-]+)", message).group(1)  # type: ignore[union-attr]
    status, headers, _ = call(f"/confirm/{token}")
    assert status == 200
    request_id = headers["X-Request-ID"]
    time.sleep(0.5)
    text = server["log"].read_text()
    assert SECRET not in text
    served = text.split("gunicorn -c gunicorn.conf.py wsgi:app\n", 1)[1]
    records = [json.loads(line) for line in served.splitlines() if line.strip()]  # every line is JSON
    warnings = " ".join(r["message"] for r in records if r["level"] == "WARNING")
    assert "SQLite" in warnings and "REDIS_URL is not set" in warnings and "outbox" in warnings
    confirm = [r for r in records if r.get("route") == "/confirm/<token>"]
    assert confirm and confirm[0]["path"] == "/confirm/[redacted]" and confirm[0]["request_id"] == request_id
    # With the outbox backend alone the link is logged (the outbox holds it too); nowhere else.
    holding = [r for r in records if token in json.dumps(r)]
    assert holding and all(r["logger"] == "growth.subscribers" for r in holding)
