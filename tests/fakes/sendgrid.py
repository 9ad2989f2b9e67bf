"""A local fake of SendGrid's v3 Mail Send: records each request's JSON, answers like SendGrid."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from tests.fakes.http import FakeServer


class FakeSendGrid:
    """POST /v3/mail/send → 202 with X-Message-Id; `fail_next` queues error statuses."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.fail_next: list[int] = []
        self.lock = threading.Lock()
        self.server = FakeServer(self.handle)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes):  # type: ignore[no-untyped-def]
        if method != "POST" or path != "/v3/mail/send":
            return 404, {}, {"errors": [{"message": "not found"}]}
        if not headers.get("Authorization", "").startswith("Bearer "):
            return 401, {}, {"errors": [{"message": "authorization required"}]}
        payload = json.loads(body)
        with self.lock:
            if self.fail_next:
                status = self.fail_next.pop(0)
                return status, {"X-RateLimit-Remaining": "0"}, {"errors": [{"message": f"fake {status}"}]}
            personalizations = payload.get("personalizations", [])
            if not 1 <= len(personalizations) <= 1000:
                return 400, {}, {"errors": [{"message": "personalizations must be 1..1000"}]}
            self.requests.append(payload)
            self.headers.append(headers)
        return 202, {"X-Message-Id": uuid.uuid4().hex[:22]}, b""

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> FakeSendGrid:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.headers.clear()
            self.fail_next.clear()


class HoldingSendGrid(FakeSendGrid):
    """A FakeSendGrid that can hold requests open: a provider call in flight, for outage tests.

    `hold(n)`: the next n mail sends wait (`arrived` is set) until `release()`, then answer.
    """

    def __init__(self) -> None:
        super().__init__()
        self.holding = 0
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.held: list[dict[str, Any]] = []  # the bodies of the requests held

    def hold(self, n: int = 1) -> None:
        with self.lock:
            self.holding = n
        self.arrived.clear()
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes):  # type: ignore[no-untyped-def]
        with self.lock:
            held = method == "POST" and self.holding > 0
            if held:
                self.holding -= 1
        if held:
            with self.lock:
                self.held.append(json.loads(body))
            self.arrived.set()
            self.released.wait(timeout=120)
        return super().handle(method, path, headers, body)
