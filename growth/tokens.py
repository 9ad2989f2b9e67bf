"""Signed tokens for links in emails: confirm, unsubscribe, manage.

Tokens are itsdangerous URL-safe timed tokens (HMAC-SHA1 over the payload and a timestamp,
keyed by SECRET_KEY and a salt per purpose), and itsdangerous checks them on the way in. On the
way out, a bulk send signs three links for each of 100,000 readers, so `make_token` builds the
same token format directly from a prepared HMAC: a fraction of the cost of
`URLSafeTimedSerializer.dumps`, whose result it equals for any payload that zlib cannot shorten
(ours are a few ids; a longer one is simply left uncompressed, which `loads` reads as well).
"""

from __future__ import annotations

import base64
import functools
import hmac
import json
import time
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from growth.errors import DomainError


class InvalidToken(DomainError):
    """A link token that is forged, damaged or expired."""

    status = 400
    code = "invalid_token"


def _b64(data: bytes) -> bytes:
    # itsdangerous.encoding.base64_encode: URL-safe alphabet, no padding.
    return base64.urlsafe_b64encode(data).rstrip(b"=")


# json.dumps with options builds an encoder per call; one encoder, as itsdangerous's JSON does it.
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class TokenSigner:
    """Signs payloads for one purpose in itsdangerous's URLSafeTimedSerializer format."""

    def __init__(self, secret_key: str, purpose: str):
        self.serializer = URLSafeTimedSerializer(secret_key, salt=f"masthead.{purpose}")
        signer = self.serializer.make_signer()
        # The key derivation and digest itsdangerous would use, done once instead of per token.
        self._mac = hmac.new(signer.derive_key(), digestmod=signer.digest_method)
        self._sep = signer.sep.encode() if isinstance(signer.sep, str) else signer.sep
        self._stamp: tuple[int, bytes] = (-1, b"")  # the last second, encoded

    def _encoded_stamp(self, stamp: int) -> bytes:
        last = self._stamp
        if last[0] != stamp:
            last = (stamp, _b64(stamp.to_bytes(8, "big").lstrip(b"\x00")))
            self._stamp = last  # one tuple, swapped whole: safe between threads
        return last[1]

    def sign(self, payload: Any, timestamp: int | None = None) -> str:
        """payload.timestamp.signature, each part URL-safe base64."""
        stamp = int(time.time()) if timestamp is None else timestamp
        value = _b64(_encode_json(payload).encode()) + self._sep + self._encoded_stamp(stamp)
        mac = self._mac.copy()
        mac.update(value)
        return (value + self._sep + _b64(mac.digest())).decode("ascii")


@functools.lru_cache(maxsize=64)
def signer_for(secret_key: str, purpose: str) -> TokenSigner:
    """The signer of one purpose under one secret (cached: deriving its key costs a hash)."""
    return TokenSigner(secret_key, purpose)


def signer(purpose: str) -> TokenSigner:
    """The app's signer for one purpose (a bulk send holds on to it for a whole batch)."""
    return signer_for(current_app.config["SECRET_KEY"], purpose)


def make_token(purpose: str, payload: Any) -> str:
    """Sign a payload for one purpose."""
    return signer(purpose).sign(payload)


def read_token(purpose: str, token: str, max_age: int | None = None) -> Any:
    """Check a token's signature (and age); raise InvalidToken when it does not hold."""
    try:
        return signer(purpose).serializer.loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise InvalidToken("This link has expired.", code="expired_token") from exc
    except BadSignature as exc:
        raise InvalidToken("This link is not valid.") from exc
