"""The rate limiter's one-round-trip fixed window: limits' semantics, its headers from the hit."""

from __future__ import annotations

import time
import uuid

import pytest
from limits import parse
from limits.storage import MemoryStorage, RedisStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from growth.ratelimits import OneTripFixedWindow
from tests.conftest import REDIS_URL

needs_redis = pytest.mark.skipif(not REDIS_URL, reason="the one-trip script runs on Redis (REDIS_URL)")


@needs_redis
def test_hits_count_and_expire_as_limits_fixed_window(app):
    storage = storage_from_string(REDIS_URL, key_prefix=f"test-{uuid.uuid4().hex[:8]}")
    assert isinstance(storage, RedisStorage)
    ours, theirs = OneTripFixedWindow(storage), FixedWindowRateLimiter(storage)
    item = parse("3/minute")
    with app.test_request_context():
        answers = [ours.hit(item, "ours") for _ in range(5)]
        reference = [theirs.hit(item, "theirs") for _ in range(5)]
    assert answers == reference == [True, True, True, False, False]
    # the same key, count and expiry as limits' own script leaves
    assert storage.get(item.key_for("ours")) == storage.get(item.key_for("theirs")) == 5
    ttl = storage.get_connection().ttl(storage.prefixed_key(item.key_for("ours")))
    assert 55 <= ttl <= 60
    # limits' reading of our key is the same as of its own
    assert theirs.get_window_stats(item, "ours").remaining == 0
    assert theirs.test(item, "ours") is False


@needs_redis
def test_the_window_stats_come_from_the_hit_of_the_same_request(app):
    storage = storage_from_string(REDIS_URL, key_prefix=f"test-{uuid.uuid4().hex[:8]}")
    ours = OneTripFixedWindow(storage)
    item = parse("10/minute")
    with app.test_request_context():
        ours.hit(item, "a")
        ours.hit(item, "a")
        # another process counts one more in Redis: this request's headers show what its hit saw
        storage.incr(item.key_for("a"), item.get_expiry())
        stats = ours.get_window_stats(item, "a")
        assert stats.remaining == 8
        assert time.time() + 55 <= stats.reset_time <= time.time() + 61
        # asked again (no hit kept): read from Redis, like limits
        assert ours.get_window_stats(item, "a").remaining == 7
    with app.test_request_context():  # another request starts with nothing kept
        assert ours.get_window_stats(item, "a").remaining == 7


def test_other_storages_get_limits_fixed_window(app):
    ours = OneTripFixedWindow(MemoryStorage())
    item = parse("2/minute")
    with app.test_request_context():
        assert [ours.hit(item, "m") for _ in range(3)] == [True, True, False]
        assert ours.get_window_stats(item, "m").remaining == 0


def test_the_signup_answers_carry_the_limit_headers(app_factory):
    app = app_factory(signup_rate_limit="3/minute")
    client = app.test_client()
    seen = []
    for n in range(4):
        answer = client.post(
            "/api/v1/subscribers",
            json={"email": f"headers{n}@example.com"},
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
        )
        seen.append((answer.status_code, answer.headers.get("X-RateLimit-Remaining")))
        reset = int(answer.headers["X-RateLimit-Reset"])
        assert time.time() + 50 <= reset <= time.time() + 62
        assert answer.headers["X-RateLimit-Limit"] == "3"
    assert seen == [(202, "2"), (202, "1"), (202, "0"), (429, "0")]


def test_the_before_request_pass_is_skipped_only_while_it_has_nothing_to_check(app):
    from flask import Blueprint, Flask

    from growth.extensions import MastheadLimiter, limiter

    with app.app_context():
        assert not limiter._has_middleware_limits()  # Masthead's limits are all decorated

    def limited_app(**limits):  # type: ignore[no-untyped-def]
        other = Flask("other")
        other.config["RATELIMIT_STORAGE_URI"] = "memory://"
        ours = MastheadLimiter(key_func=lambda: "one client", app=other, **limits)
        bp = Blueprint("bp", __name__)
        bp.add_url_rule("/bp", "bp", lambda: "bp")
        other.add_url_rule("/plain", "plain", lambda: "plain")
        return other, ours, bp

    other, ours, bp = limited_app(default_limits=["2/minute"])
    other.register_blueprint(bp)
    client = other.test_client()
    assert [client.get("/plain").status_code for _ in range(3)] == [200, 200, 429]

    other, ours, bp = limited_app(application_limits=["1/minute"])
    other.register_blueprint(bp)
    client = other.test_client()
    assert [client.get("/plain").status_code for _ in range(2)] == [200, 429]

    other, ours, bp = limited_app()
    ours.limit("1/minute")(bp)
    other.register_blueprint(bp)
    client = other.test_client()
    assert [client.get("/bp").status_code for _ in range(2)] == [200, 429]
    assert [client.get("/plain").status_code for _ in range(3)] == [200, 200, 200]  # none set

    other, ours, bp = limited_app(meta_limits=["1/hour"], default_limits=["1/minute"])
    other.register_blueprint(bp)
    assert ours._has_middleware_limits()
