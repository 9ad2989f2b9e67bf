"""Bare extension instances; the factory calls their init_app."""

from __future__ import annotations

from flask import current_app, request
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect

from growth import ratelimits
from growth.fields import valid_ip


def client_ip() -> str | None:
    """The client's address, validated; behind TRUSTED_PROXY_COUNT proxies, from X-Forwarded-For.

    ProxyFix copies the forwarded value as it came; anything that is not an IP address (a long
    string, a name, a NUL) falls back to the address of the proxy that spoke to us.
    """
    forwarded = valid_ip(request.remote_addr)
    if forwarded is not None:
        return forwarded
    original = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR")
    return valid_ip(original)


def _limit_key() -> str:
    return client_ip() or "unknown"


def _signup_limit() -> str:
    return current_app.config["MASTHEAD"].signup_rate_limit  # type: ignore[no-any-return]


class MastheadLimiter(Limiter):
    """flask-limiter, without its before-request pass when that pass has nothing to check.

    The pass applies default, application, blueprint and meta limits; a decorated route's own
    limit is checked by its decorator (flask-limiter skips it in the pass, even with Redis down).
    Masthead sets only decorated limits, so the pass only cost time, on every request (about a
    tenth of a signup's in process, bench/signup_profile.py). Any such limit set later, or an
    attribute this version of flask-limiter does not have, brings the pass back.
    """

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware and not self._has_middleware_limits():
            return
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)

    def _has_middleware_limits(self) -> bool:
        manager = self.limit_manager
        return bool(
            manager.application_limits
            or manager.default_limits
            or getattr(manager, "_blueprint_limits", True)
            or getattr(self, "_meta_limits", True)
        )


# Fixed window, as flask-limiter's default, in one Redis round trip a request (growth.ratelimits).
limiter = MastheadLimiter(key_func=_limit_key, strategy=ratelimits.NAME)
csrf = CSRFProtect()

# The form, the embed and the API share one allowance per client IP.
signup_limit = limiter.shared_limit(_signup_limit, scope="signup", methods=["POST"])
