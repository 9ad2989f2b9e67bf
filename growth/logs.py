"""Logging: JSON lines in production, a request id on every line, one line per request.

The request id comes from the proxy's `X-Request-ID` when it looks like one, else is drawn
here; it is answered in `X-Request-ID`, carried into the jobs a request queues (growth.jobs)
and set on every log record made meanwhile. Request lines name the route and a path whose
signed tokens are replaced (`/confirm/<token>` links confirm a reader: a log is no place for
them), and never the query string (`?t=`, `?r=` carry signed tokens too).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Flask, request, request_started

REQUEST_ID_HEADER = "X-Request-ID"
ROUTE_KEY = "masthead.route"
PATH_KEY = "masthead.safe_path"
REDACTED = "[redacted]"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
# Path variables that carry a secret (signed links, their signatures).
SECRET_VARIABLES = ("token",)

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("masthead_request_id", default=None)
request_log = logging.getLogger("masthead.request")

# The attributes every LogRecord has; anything else was passed in `extra` and goes in the line.
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


def current_request_id() -> str | None:
    """The id of the request (or of the job it queued) being handled, if any."""
    return _request_id.get()


@contextlib.contextmanager
def request_id_context(request_id: str | None) -> Iterator[None]:
    """Log under this request id (a job run for a request) until the block ends."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def new_request_id(offered: str | None) -> str:
    """The proxy's id when it is a plausible one, else a fresh one."""
    if offered and _VALID_REQUEST_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Put the current request id on every record (None outside requests and their jobs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class LogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Our stderr handler (gunicorn.conf.py installs it before the app exists)."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RequestIdFilter())


def configure_logging(production: bool) -> None:
    """JSON lines on stderr in production, plain lines elsewhere; the request id on both."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, LogHandler)), None)
    if handler is None:
        handler = LogHandler()
        root.addHandler(handler)
    if production:
        handler.setFormatter(JsonFormatter())
        # Our request line replaces the development server's, which prints raw paths (tokens).
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # Alembic announces its plugins whenever it loads the migrations (readiness does): noise.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    root.setLevel(logging.INFO)


def safe_path(path: str, view_args: dict[str, Any] | None) -> str:
    """The path with the values of secret path variables replaced."""
    for name in SECRET_VARIABLES:
        value = (view_args or {}).get(name)
        if isinstance(value, str) and value:
            path = path.replace(value, REDACTED)
    return path


def _remember_route(_sender: Flask, **_kw: Any) -> None:
    # Routing is done when a request starts: keep what the request line and metrics need.
    rule = request.url_rule
    request.environ[ROUTE_KEY] = rule.rule if rule is not None else None
    request.environ[PATH_KEY] = safe_path(request.path, request.view_args)


def route_of(environ: dict[str, Any]) -> str:
    """The route template that served a request, or 'unmatched' (bounded metric labels)."""
    return environ.get(ROUTE_KEY) or "unmatched"


Observer = Callable[[dict[str, Any], str, int, float], None]


class RequestMiddleware:
    """WSGI: give each request its id, then log it (and tell observers) once the app answered."""

    def __init__(self, wsgi_app: Any, log_requests: bool, observers: list[Observer]):
        self.wsgi_app = wsgi_app
        self.log_requests = log_requests
        self.observers = observers

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request_id = new_request_id(environ.get("HTTP_X_REQUEST_ID"))
        started = time.perf_counter()
        status_holder: list[int] = [500]

        def _start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status_holder[0] = int(status.split(" ", 1)[0])
            headers = [h for h in headers if h[0].lower() != REQUEST_ID_HEADER.lower()]
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        token = _request_id.set(request_id)
        try:
            return self.wsgi_app(environ, _start)  # type: ignore[no-any-return]
        finally:
            # Once the app has answered: a streamed body (a CSV export) is still being sent.
            self._finish(environ, request_id, status_holder[0], started)
            _request_id.reset(token)

    def _finish(self, environ: dict[str, Any], request_id: str, status: int, started: float) -> None:
        duration = time.perf_counter() - started
        method = environ.get("REQUEST_METHOD", "")
        route = route_of(environ)
        for observe in self.observers:
            observe(environ, method, status, duration)
        if self.log_requests:
            with request_id_context(request_id):
                request_log.info(
                    "%s %s %s",
                    method,
                    environ.get(PATH_KEY) or route,
                    status,
                    extra={
                        "method": method,
                        "route": route,
                        "path": environ.get(PATH_KEY) or route,
                        "status": status,
                        "duration_ms": round(duration * 1000, 1),
                        "ip": environ.get("REMOTE_ADDR"),
                    },
                )


def init_app(app: Flask, observers: list[Observer] | None = None) -> None:
    """Configure logging; wrap the app to give each request its id and (production) its line."""
    config = app.config["MASTHEAD"]
    configure_logging(config.is_production)
    request_started.connect(_remember_route, app)
    app.wsgi_app = RequestMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, log_requests=config.is_production, observers=observers or []
    )
