"""Link tokens: signed in itsdangerous's format without its per-token cost, read by itsdangerous."""

from __future__ import annotations

import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from growth.tokens import InvalidToken, TokenSigner, make_token, read_token

PAYLOADS = [
    {"s": 1},
    {"s": 123456789, "n": None},
    {"s": 42, "d": 987654},
    {"s": 7, "e": "zoë@example.com"},
    {"s": 2**40, "k": 3},
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_token_equals_itsdangerous_dumps_at_the_same_second(monkeypatch, payload):
    now = 1_790_000_000
    monkeypatch.setattr(time, "time", lambda: now + 0.25)
    reference = URLSafeTimedSerializer("s3cret", salt="masthead.manage").dumps(payload)
    assert TokenSigner("s3cret", "manage").sign(payload) == reference


def test_a_compressible_payload_is_left_uncompressed_and_still_reads():
    payload = {"s": 1, "e": "a" * 200}
    signer = TokenSigner("s3cret", "confirm")
    token = signer.sign(payload)
    reference = URLSafeTimedSerializer("s3cret", salt="masthead.confirm")
    assert reference.dumps(payload).startswith(".")  # itsdangerous zlib-compresses this one
    assert not token.startswith(".")
    assert reference.loads(token) == payload


def test_round_trip_and_purpose_binding(app):
    with app.app_context():
        token = make_token("unsubscribe", {"s": 5, "n": 1})
        assert read_token("unsubscribe", token) == {"s": 5, "n": 1}
        with pytest.raises(InvalidToken):
            read_token("manage", token)  # another purpose's salt


def test_tampered_and_foreign_tokens_are_refused(app):
    with app.app_context():
        token = make_token("manage", {"s": 5})
        body, stamp, sig = token.split(".")
        forged = make_token("manage", {"s": 6}).split(".")[0]
        for bad in (f"{forged}.{stamp}.{sig}", token[:-2], TokenSigner("other", "manage").sign({"s": 5})):
            with pytest.raises(InvalidToken):
                read_token("manage", bad)


def test_expiry_uses_the_signed_timestamp(app, monkeypatch):
    with app.app_context():
        monkeypatch.setattr(time, "time", lambda: 1_790_000_000.0)
        token = make_token("confirm", {"s": 1})
        monkeypatch.setattr(time, "time", lambda: 1_790_000_000.0 + 3601)
        with pytest.raises(InvalidToken) as err:
            read_token("confirm", token, max_age=3600)
        assert err.value.code == "expired_token"
        assert read_token("confirm", token, max_age=3700) == {"s": 1}
