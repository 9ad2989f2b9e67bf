"""Who a web reader is: the signed reader token of email links, kept in a long-lived cookie.

The paywall (content) sets the cookie and other domains (billing's pricing page) read it, so it
lives in the core; neither domain imports the other.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from growth.models import Status, Subscriber
from growth.tokens import InvalidToken, make_token, read_token, signer

READER_PURPOSE = "reader"
READER_COOKIE = "mh_reader"
READER_COOKIE_DAYS = 365


def reader_token(subscriber_id: int, delivery_id: int | None = None) -> str:
    """Signed token of a web link in an email: who arrives, from which delivery."""
    return make_token(READER_PURPOSE, {"s": subscriber_id, "d": delivery_id})


def reader_tokens(pairs: Iterable[tuple[int, int | None]]) -> list[str]:
    """Reader tokens for a whole batch, with one signer (a send signs one per recipient)."""
    sign = signer(READER_PURPOSE).sign
    return [sign({"s": s, "d": d}) for s, d in pairs]


def read_reader_token(token: str | None) -> tuple[int, int | None] | None:
    """(subscriber id, delivery id) of a link or cookie token, None when absent or forged."""
    if not token:
        return None
    try:
        payload = read_token(READER_PURPOSE, token)
    except InvalidToken:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int):
        return None
    delivery = payload.get("d")
    return payload["s"], delivery if isinstance(delivery, int) else None


def reader_subscriber(session: Session, *tokens: str | None) -> Subscriber | None:
    """The subscriber the first valid reader token names (a link, then the cookie); None if none."""
    for token in tokens:
        found = read_reader_token(token)
        if found is None:
            continue
        subscriber = session.get(Subscriber, found[0])
        if subscriber is not None and subscriber.status != Status.ERASED:
            return subscriber
    return None
