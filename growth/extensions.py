"""Bare extension instances; the factory calls their init_app."""

from __future__ import annotations

from flask import current_app, request
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect


def client_ip() -> str:
    """The client's address; behind TRUSTED_PROXY_COUNT proxies ProxyFix has set it."""
    return request.remote_addr or "unknown"


def _signup_limit() -> str:
    return current_app.config["MASTHEAD"].signup_rate_limit  # type: ignore[no-any-return]


limiter = Limiter(key_func=client_ip)
csrf = CSRFProtect()

# The form, the embed and the API share one allowance per client IP.
signup_limit = limiter.shared_limit(_signup_limit, scope="signup", methods=["POST"])
