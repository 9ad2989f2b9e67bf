"""The login throttle: failed logins counted per account and IP, and per IP, over 15 minutes.

Ten failures for one account from one IP, or thirty from one IP, and that IP's logins answer 429
until the oldest failure leaves the window. The account is never locked for everyone: a stranger
elsewhere only spends their own IP's allowance. Counts live in Redis when REDIS_URL is set (shared
by every process), else in this process's memory. While Redis cannot be reached the throttle
lets logins through and logs it, as the rest of the admin stays usable then too.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, current_app
from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

KEY = "masthead_login_throttle"
PER_ACCOUNT_AND_IP = RateLimitItemPerMinute(10, 15)
PER_IP = RateLimitItemPerMinute(30, 15)


class LoginThrottle:
    """Counts failed logins in a moving window; asked before each login attempt."""

    def __init__(self, storage_uri: str, prefix: str):
        options: dict[str, str | float | bool] = {}
        if storage_uri.startswith("redis"):
            options = {
                "key_prefix": f"{prefix}-login",
                "wrap_exceptions": True,
                "socket_connect_timeout": 2.0,
            }
        self.storage = storage_from_string(storage_uri, **options)
        self.window = MovingWindowRateLimiter(self.storage)
        self.prefix = prefix

    def _limits(self, email: str, ip: str) -> list[tuple[RateLimitItemPerMinute, tuple[str, ...]]]:
        account = email.strip().lower()[:320]
        return [
            (PER_ACCOUNT_AND_IP, (self.prefix, "login-account", ip, account)),
            (PER_IP, (self.prefix, "login-ip", ip)),
        ]

    def retry_after(self, email: str, ip: str) -> int | None:
        """Seconds until this IP may try this account again, or None when it may now."""
        waits = []
        try:
            for item, keys in self._limits(email, ip):
                if not self.window.test(item, *keys):
                    reset_at = self.window.get_window_stats(item, *keys).reset_time
                    waits.append(max(1, math.ceil(reset_at - time.time())))
        except StorageError as exc:
            log.error("login throttle unavailable, login not throttled: %s", exc)
        return max(waits) if waits else None

    def failed(self, email: str, ip: str) -> None:
        """Count a wrong password (or an unknown account)."""
        try:
            for item, keys in self._limits(email, ip):
                self.window.hit(item, *keys)
        except StorageError as exc:
            log.error("login throttle unavailable, failure not counted: %s", exc)

    def succeeded(self, email: str, ip: str) -> None:
        """A right password forgets this account's failures from this IP (not the IP's total)."""
        item, keys = self._limits(email, ip)[0]
        try:
            self.window.clear(item, *keys)
        except StorageError as exc:
            log.error("login throttle unavailable: %s", exc)

    def reset(self) -> None:
        """Forget every count (tests)."""
        self.storage.reset()


def init_app(app: Flask) -> None:
    """One throttle per app, on the app's Redis when it has one."""
    config = app.config["MASTHEAD"]
    app.extensions[KEY] = LoginThrottle(
        config.redis_url or "memory://", config.extra.get("ratelimit_prefix", "masthead")
    )


def login_throttle() -> LoginThrottle:
    """The current app's throttle."""
    return current_app.extensions[KEY]  # type: ignore[no-any-return]
