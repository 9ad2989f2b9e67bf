"""What the browser tests share: Debian's Chromium, and the app served for real on a loopback port."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from werkzeug.serving import make_server

from growth.app import create_app
from growth.cli import upgrade_database
from growth.config import Config
from growth.db import db
from tests.conftest import make_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

T = TypeVar("T")


@contextmanager
def served(root: Path, populate: Callable[[dt.datetime], T]) -> Iterator[tuple[str, Config, T]]:
    """Serve a fresh SQLite app from `root`, filled by `populate(now)` in its app context.

    Yields (base URL, config, what populate returned); the suite's database is given back after.
    """
    saved = (db.engine, db.session_factory)
    url = f"sqlite:///{root / 'browser.db'}"
    upgrade_database(url)
    holder: list[Any] = []
    server = make_server("127.0.0.1", 0, lambda environ, start: holder[0](environ, start))
    base = f"http://127.0.0.1:{server.server_port}"
    config = make_config(url, root / "instance", base_url=base, redis_url=None)
    app = create_app(config.replace(extra={"ratelimit": "off", "ratelimit_prefix": uuid.uuid4().hex}))
    holder.append(app)
    with app.app_context():
        data = populate(dt.datetime.now(dt.UTC))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, config, data
    finally:
        server.shutdown()
        thread.join(5)
        db.engine, db.session_factory = saved  # type: ignore[assignment]


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by playwright (its own browser downloads cannot be reached)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def log_in(page: Any, base: str, email: str, password: str) -> None:
    """Log an operator in through the admin's login form and wait for the desk."""
    page.goto(base + "/admin/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/admin/")


def page_errors(page: Any) -> list[str]:
    """A list that fills with the page's script errors and failed loads (told by URL)."""
    found: list[str] = []
    page.on("pageerror", lambda e: found.append(str(e)))
    # The console's "Failed to load resource" names no URL: the responses do.
    page.on(
        "response",
        lambda r: found.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None,
    )
    return found
