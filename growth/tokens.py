"""Signed tokens for links in emails: confirm, unsubscribe, manage."""

from __future__ import annotations

import functools
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from growth.errors import DomainError


class InvalidToken(DomainError):
    """A link token that is forged, damaged or expired."""

    status = 400
    code = "invalid_token"


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return _cached_serializer(current_app.config["SECRET_KEY"], purpose)


@functools.lru_cache(maxsize=64)
def _cached_serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    # Building a serializer derives its key each time; a bulk send signs three links a reader.
    return URLSafeTimedSerializer(secret_key, salt=f"masthead.{purpose}")


def make_token(purpose: str, payload: Any) -> str:
    """Sign a payload for one purpose."""
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str, max_age: int | None = None) -> Any:
    """Check a token's signature (and age); raise InvalidToken when it does not hold."""
    try:
        return _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise InvalidToken("This link has expired.", code="expired_token") from exc
    except BadSignature as exc:
        raise InvalidToken("This link is not valid.") from exc
