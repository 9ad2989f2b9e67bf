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


# Fixed window, as flask-limiter's default, in one Redis round trip a request (growth.ratelimits).
limiter = Limiter(key_func=_limit_key, strategy=ratelimits.NAME)
csrf = CSRFProtect()

# The form, the embed and the API share one allowance per client IP.
signup_limit = limiter.shared_limit(_signup_limit, scope="signup", methods=["POST"])
