"""The rate limiter's strategy: limits' fixed window in one Redis round trip a request.

flask-limiter's fixed window makes three round trips per limited request on Redis: the hit
(INCRBY + EXPIRE in a script), then GET and TTL for the X-RateLimit headers. Our script returns
the count and the TTL with the hit, kept for the headers of the same request (flask.g): one round
trip, the same keys, counts and expiry as limits' own (`incr_expire.lua`). On any other storage
(the in-memory one when Redis is down, `memory://` without Redis) it is limits' fixed window.
"""

from __future__ import annotations

import time

from flask import g, has_app_context
from limits import RateLimitItem
from limits.storage import RedisStorage, StorageTypes
from limits.strategies import STRATEGIES, FixedWindowRateLimiter, WindowStats

NAME = "masthead-fixed-window"

# limits' incr_expire.lua, which also answers the key's TTL (seconds) for the headers.
HIT_SCRIPT = b"""
local amount = tonumber(ARGV[2])
local current = redis.call("incrby", KEYS[1], amount)
if tonumber(current) == amount then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1])}
"""


class OneTripFixedWindow(FixedWindowRateLimiter):
    """Fixed window whose hit also answers the window's stats (one Redis round trip)."""

    def __init__(self, storage: StorageTypes):
        super().__init__(storage)
        self._hit_script = (
            storage.get_connection().register_script(HIT_SCRIPT)
            if isinstance(storage, RedisStorage)
            else None
        )

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        """Consume `cost`; True when still within the limit (limits' semantics)."""
        if self._hit_script is None or not isinstance(self.storage, RedisStorage):
            return super().hit(item, *identifiers, cost=cost)
        key = item.key_for(*identifiers)
        current, ttl = self._hit_script([self.storage.prefixed_key(key)], [item.get_expiry(), cost])
        current = int(current)
        _seen()[key] = WindowStats(max(int(ttl), 0) + time.time(), max(0, item.amount - current))
        return current <= item.amount

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        """The stats this request's hit answered, else limits' (GET and TTL)."""
        seen = _seen().pop(item.key_for(*identifiers), None)
        return seen if seen is not None else super().get_window_stats(item, *identifiers)


def _seen() -> dict[str, WindowStats]:
    """The window stats answered by this request's hits, by key (nothing kept outside a request)."""
    if not has_app_context():
        return {}
    return g.setdefault("ratelimit_windows", {})  # type: ignore[no-any-return]


STRATEGIES[NAME] = OneTripFixedWindow  # flask-limiter finds a strategy by its name here
