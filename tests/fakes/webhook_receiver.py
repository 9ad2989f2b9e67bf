"""A local webhook endpoint: records every request and answers from a script of statuses."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from tests.fakes.http import FakeServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        return next(v for k, v in self.headers.items() if k.lower() == name)


class WebhookReceiver:
    """Answers the next scripted status (then `default`), after `delay` seconds."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: list[int] = []
        self.default = 200
        self.delay = 0.0
        self.gate: threading.Event | None = None  # when set here, every answer waits until it opens
        self.arrived = threading.Event()
        self.server = FakeServer(self._handle)
        # a client that timed out on purpose has hung up: its broken pipe is expected, not news
        self.server.server.handle_error = lambda *_: None  # type: ignore[method-assign]

    def _handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        self.received.append(Received(path, headers, body))
        self.arrived.set()
        if self.gate is not None:
            self.gate.wait(30)
        if self.delay:
            time.sleep(self.delay)
        status = self.script.pop(0) if self.script else self.default
        return status, {}, {"ok": status < 300}

    @property
    def url(self) -> str:
        return self.server.url + "/hooks"

    def start(self) -> WebhookReceiver:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def reset(self) -> None:
        self.received.clear()
        self.script.clear()
        self.default, self.delay, self.gate = 200, 0.0, None
        self.arrived.clear()
