"""Reward ladders under test: variants, the one-time assignment of new readers, their data.

A variant is a set of milestones given to a fixed share of new readers. A reader is assigned at
signup, once: the unique subscriber on referral_ladder_assignments makes a second attempt (a
replayed signal, a race) do nothing, and changing shares later never moves anyone. Readers
without an assignment (from before variants existed) keep the default ladder (milestones with
no variant) and are part of no comparison. Services take the session first and never commit.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import itertools
from collections.abc import Sequence
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from growth.db import ids_in
from growth.errors import Conflict, NotFound, ValidationFailed
from growth.fields import Rule
from growth.models import Subscriber
from referrals.models import LadderAssignment, LadderVariant, Milestone

MAX_SHARE = 10_000
NAME_RULE = Rule.of(LadderVariant.name, min_length=1)


def pick_variant(variants: Sequence[tuple[int, int]], subscriber_id: int, salt: str) -> int | None:
    """The variant id for a reader, from (id, share) pairs: a keyed hash of the subscriber id read
    as a number in [0, total share), so each variant gets readers in proportion to its share.

    Deterministic (the same reader and salt always land on the same variant) and unguessable
    without the salt. Variants are ordered by id, so the order they are listed in does not matter.
    """
    weighted = sorted((vid, share) for vid, share in variants if share > 0)
    if not weighted:
        return None
    bounds = list(itertools.accumulate(share for _vid, share in weighted))
    digest = hashlib.sha256(f"{salt}:ladder:{subscriber_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % bounds[-1]
    return weighted[bisect.bisect_right(bounds, point)][0]


def _salt() -> str:
    return str(current_app.config["SECRET_KEY"])


def assign_ladder(session: Session, subscriber_id: int, now: dt.datetime) -> int | None:
    """Give a new reader a ladder variant when active ones exist; a reader keeps the first.

    INSERT .. ON CONFLICT DO NOTHING on the subscriber: a second attempt, concurrent or later,
    leaves the first assignment. Returns the reader's variant id (None: the default ladder).
    """
    active = session.execute(
        select(LadderVariant.id, LadderVariant.share).where(LadderVariant.active.is_(True))
    ).all()
    chosen = pick_variant([(vid, share) for vid, share in active], subscriber_id, _salt())
    if chosen is not None:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(
            insert(LadderAssignment)
            .values(subscriber_id=subscriber_id, variant_id=chosen, assigned_at=now)
            .on_conflict_do_nothing(index_elements=["subscriber_id"])
        )
    return ladder_of(session, subscriber_id)


def on_signed_up(subscriber: Subscriber, *, session: Session, now: dt.datetime, **_: object) -> None:
    """A new reader gets a ladder variant (when there are variants)."""
    assign_ladder(session, subscriber.id, now)


def ladder_of(session: Session, subscriber_id: int) -> int | None:
    """The reader's variant id; None for the default ladder."""
    return session.scalar(
        select(LadderAssignment.variant_id).where(LadderAssignment.subscriber_id == subscriber_id)
    )


def ladders_of(session: Session, subscriber_ids: Sequence[int]) -> dict[int, int]:
    """Variant ids of those of these readers who have one."""
    out: dict[int, int] = {}
    for start in range(0, len(subscriber_ids), 1000):
        part = list(subscriber_ids[start : start + 1000])
        rows = session.execute(
            select(LadderAssignment.subscriber_id, LadderAssignment.variant_id).where(
                ids_in(LadderAssignment.subscriber_id, part)
            )
        )
        out.update((sid, vid) for sid, vid in rows)
    return out


def on_ladder(variant_id: int | None) -> Any:
    """The SQL condition 'a milestone of this ladder'."""
    if variant_id is None:
        return Milestone.variant_id.is_(None)
    return Milestone.variant_id == variant_id


# Variants -------------------------------------------------------------------------------------


def variants(session: Session) -> list[LadderVariant]:
    return list(session.scalars(select(LadderVariant).order_by(LadderVariant.id)))


def get_variant(session: Session, variant_id: int) -> LadderVariant:
    variant = session.get(LadderVariant, variant_id)
    if variant is None:
        raise NotFound("No such ladder.", code="unknown_ladder")
    return variant


def _share(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SHARE:
        raise ValidationFailed(f"share must be a whole number from 1 to {MAX_SHARE}.", code="invalid_share")
    return value


def save_variant(session: Session, data: dict[str, Any], variant_id: int | None = None) -> LadderVariant:
    """Create or change a variant (name, share, active). A new share applies to readers assigned
    from now on; nobody already assigned moves."""
    variant = LadderVariant(share=1, active=True) if variant_id is None else get_variant(session, variant_id)
    if variant_id is None or "name" in data:
        name = NAME_RULE.clean(data.get("name", ""))
        clash = session.scalars(
            select(LadderVariant.id).where(LadderVariant.name == name, LadderVariant.id != variant_id)
        ).first()
        if clash is not None:
            raise Conflict(f"A ladder named {name!r} exists already.", code="duplicate_ladder")
        variant.name = name
    if "share" in data:
        variant.share = _share(data["share"])
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise ValidationFailed("active must be true or false.", code="invalid_field")
        variant.active = data["active"]
    if variant_id is None:
        session.add(variant)
    session.flush()
    return variant


def assigned_counts(session: Session) -> dict[int, int]:
    """Readers assigned to each variant."""
    rows = session.execute(
        select(LadderAssignment.variant_id, func.count()).group_by(LadderAssignment.variant_id)
    )
    return {vid: n for vid, n in rows}
