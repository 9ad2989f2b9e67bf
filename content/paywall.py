"""Who may read a post: the audience rule as a pure function, and the reader behind a cookie."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from content.posts import parse_audience
from growth import access
from growth.models import Stage, Status, Subscriber
from growth.readers import (  # noqa: F401  (the paywall's names for them)
    READER_COOKIE,
    READER_COOKIE_DAYS,
    READER_PURPOSE,
    read_reader_token,
    reader_token,
    reader_tokens,
)

REF_COOKIE = "mh_ref"
REF_COOKIE_DAYS = 30
_REF = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True)
class Reader:
    """What the paywall needs to know about a known reader."""

    subscriber_id: int
    active: bool
    paying: bool
    tier_id: int | None


def can_read(audience: str, reader: Reader | None) -> bool:
    """Whether this reader sees the whole post.

    public: anyone; free: any active subscriber; paid: a paying subscriber; tier:<id>: a
    subscriber paying for that tier.
    """
    kind, tier_id = parse_audience(audience)
    if kind == "public":
        return True
    if reader is None or not reader.active:
        return False
    if kind == "free":
        return True
    if kind == "paid":
        return reader.paying
    return reader.paying and reader.tier_id == tier_id


def full_readers(session: Session, audience: str, people: list[tuple[int, str]]) -> set[int] | None:
    """Which of these active (subscriber id, stage) may read the whole post; None means all."""
    kind, _ = parse_audience(audience)
    if kind in ("public", "free"):
        return None
    tiers = access.reading_tiers(session, [sid for sid, _ in people])
    return {
        sid
        for sid, stage in people
        if can_read(
            audience,
            Reader(
                sid,
                active=True,
                paying=sid in tiers or stage == Stage.PAYING,
                tier_id=tiers.get(sid),
            ),
        )
    }


def reader_for(session: Session, subscriber: Subscriber) -> Reader:
    """A subscriber's access, asking billing (through growth.access) for their tier.

    `paying` here means "may read paid posts": a comp or a redeemed gift opens them too.
    """
    tiers = access.reading_tiers(session, [subscriber.id])
    tier_id = tiers.get(subscriber.id)
    return Reader(
        subscriber_id=subscriber.id,
        active=subscriber.status == Status.ACTIVE,
        paying=tier_id is not None or subscriber.stage == Stage.PAYING,
        tier_id=tier_id,
    )


def known_subscriber(session: Session, subscriber_id: int) -> bool:
    """Whether a reader link names a subscriber we still know (erased ones are forgotten)."""
    subscriber = session.get(Subscriber, subscriber_id)
    return subscriber is not None and subscriber.status != Status.ERASED


def known_reader(session: Session, cookie: str | None) -> tuple[Subscriber, Reader] | None:
    """The subscriber a reader cookie names, with their access; None for strangers."""
    found = read_reader_token(cookie)
    if found is None:
        return None
    subscriber = session.get(Subscriber, found[0])
    if subscriber is None or subscriber.status == Status.ERASED:
        return None
    return subscriber, reader_for(session, subscriber)


def clean_ref(raw: str | None) -> str:
    """A referral code from a share link, or "" when it cannot be one (kept out of cookies)."""
    value = (raw or "").strip()
    return value if _REF.fullmatch(value) else ""
