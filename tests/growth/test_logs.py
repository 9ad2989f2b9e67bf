"""Production logs: JSON lines, one per request, a request id that reaches queued jobs, no tokens."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator

import pytest

from growth import jobs, logs
from growth.db import commit
from tests.conftest import REDIS_URL

SECRET = "a-production-secret-key-of-forty-bytes!!"
SIGNED = re.compile(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}")  # an itsdangerous token


class Lines(logging.Handler):
    """Every record of the test, formatted as production formats it."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(logs.JsonFormatter())
        self.addFilter(logs.RequestIdFilter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def parsed(self) -> list[dict]:  # type: ignore[type-arg]
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def production(app_factory, **overrides):  # type: ignore[no-untyped-def]
    return app_factory(
        env="production",
        secret_key=SECRET,
        base_url="https://news.example.com",
        extra={"ratelimit": "off", "ratelimit_prefix": uuid.uuid4().hex[:8]},
        **overrides,
    )


def test_production_lines_are_json_and_hold_no_token(app_factory, fake_sendgrid, lines):  # type: ignore[no-untyped-def]
    app = production(
        app_factory, mail_backend="sendgrid", sendgrid_api_key="SG.test", sendgrid_api_host=fake_sendgrid.url
    )
    client = app.test_client()
    assert client.post("/api/v1/subscribers", json={"email": "quiet@example.com"}).status_code == 202
    body = json.dumps(fake_sendgrid.requests)
    link = re.search(r"https://news\.example\.com(/confirm/([^\"\\\s]+))", body)
    assert link, body
    path, token = link.group(1), link.group(2)
    confirmed = client.get(path)
    assert confirmed.status_code == 200
    me = re.search(r'href="(/me/[^"]+)"', confirmed.text)
    if me:
        client.get(me.group(1))
    client.get("/p/none?r=" + token)  # a token in a query string is not logged either

    records = lines.parsed()
    assert records
    for line in lines.lines:
        assert token not in line
        assert not SIGNED.search(line), line
        assert SECRET not in line
    requests = [r for r in records if r["logger"] == "masthead.request"]
    confirm = next(r for r in requests if r["route"] == "/confirm/<token>")
    assert confirm["path"] == "/confirm/[redacted]" and confirm["status"] == 200
    assert confirm["request_id"] == confirmed.headers["X-Request-ID"]
    assert {"ts", "level", "message", "method", "duration_ms", "ip"} <= set(confirm)
    assert any(r["message"].startswith("confirmation email queued for subscriber") for r in records)


def test_with_the_outbox_the_confirmation_link_is_logged(app_factory, lines):  # type: ignore[no-untyped-def]
    client = production(app_factory).test_client()
    client.post("/api/v1/subscribers", json={"email": "local@example.com"})
    assert any("confirmation link for subscriber" in r["message"] for r in lines.parsed())


def test_one_line_per_request_only_in_production(app_factory, lines):  # type: ignore[no-untyped-def]
    app_factory().test_client().get("/healthz")
    assert not [r for r in lines.parsed() if r["logger"] == "masthead.request"]
    production(app_factory).test_client().get("/healthz")
    assert len([r for r in lines.parsed() if r["logger"] == "masthead.request"]) == 1


def test_request_id_from_the_proxy_or_drawn(client):  # type: ignore[no-untyped-def]
    assert (
        client.get("/healthz", headers={"X-Request-ID": "edge-42.a"}).headers["X-Request-ID"] == "edge-42.a"
    )
    drawn = client.get("/healthz", headers={"X-Request-ID": "bad id\x01" * 30}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", drawn)
    assert client.get("/healthz").headers["X-Request-ID"] != client.get("/healthz").headers["X-Request-ID"]


@jobs.task("tests.request_id")
def _report_request_id() -> str | None:
    logging.getLogger("tests.job").info("job ran")
    return logs.current_request_id()


def test_the_request_id_reaches_an_rq_job(app_factory, lines):  # type: ignore[no-untyped-def]
    from fakeredis import FakeRedis
    from rq import Queue, SimpleWorker

    app = app_factory()
    connection = FakeRedis()
    queue = Queue("ids", connection=connection)
    app.extensions["masthead_queue"] = queue
    with app.app_context(), logs.request_id_context("req-from-the-edge"):
        jobs.enqueue("tests.request_id")
        commit()
    (job,) = queue.jobs
    assert job.meta["request_id"] == "req-from-the-edge"
    with app.app_context():  # the worker runs outside any request: the id comes from the job
        SimpleWorker([queue], connection=connection).work(burst=True)
    assert job.return_value() == "req-from-the-edge"
    ran = [r for r in lines.parsed() if r["logger"] == "tests.job"]
    assert ran and ran[0]["request_id"] == "req-from-the-edge"


def test_in_process_jobs_log_under_their_request(app_factory, lines):  # type: ignore[no-untyped-def]
    if REDIS_URL:
        pytest.skip("with Redis, jobs go through RQ (the test above)")
    response = (
        production(app_factory).test_client().post("/api/v1/subscribers", json={"email": "j@example.com"})
    )
    wrote = [r for r in lines.parsed() if r["logger"] == "growth.mailer"]
    assert wrote and {r["request_id"] for r in wrote} == {response.headers["X-Request-ID"]}


def test_json_formatter_keeps_extra_fields_and_exceptions():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), None)
    record.batch = 7
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["message"] == "failed here" and line["level"] == "ERROR" and line["batch"] == 7
    assert "ValueError: boom" in line["exc"]


def test_safe_path():
    assert logs.safe_path("/me/abc.def/referrals", {"token": "abc.def"}) == "/me/[redacted]/referrals"
    assert logs.safe_path("/p/hello", {"slug": "hello"}) == "/p/hello"
