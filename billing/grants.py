"""Tiers given without Stripe: comps an operator grants, gifts a recipient redeems.

A grant opens its tier's paywalls for its period (through growth.access) and counts nowhere
in revenue: no MRR, no paying subscriber, no `paying` stage, no conversion, no ARPPU.
Functions take the session first, may flush, and never commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from billing.models import Grant, Tier
from growth.db import ids_in, lock_row, utcnow
from growth.errors import Conflict, NotFound, ValidationFailed
from growth.models import Status, Subscriber

log = logging.getLogger(__name__)

MIN_COMP_DAYS = 7  # "a week to forever"
MAX_COMP_DAYS = 36_600  # a hundred years; null is forever


def _live(now: dt.datetime):  # type: ignore[no-untyped-def]
    return (
        Grant.revoked_at.is_(None),
        Grant.starts_at <= now,
        or_(Grant.ends_at.is_(None), Grant.ends_at > now),
    )


def check_days(days: object) -> int | None:
    """A comp's length: a whole number of days from a week, or None for forever."""
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_COMP_DAYS <= days <= MAX_COMP_DAYS:
        raise ValidationFailed(
            f"days must be a whole number from {MIN_COMP_DAYS} to {MAX_COMP_DAYS}, or null for forever",
            code="invalid_days",
        )
    return days


@dataclass(frozen=True)
class CompResult:
    grant: Grant
    created: bool  # False: the subscriber's live comp of this tier was given the new end


def give_comp(
    session: Session,
    subscriber_id: int,
    tier_id: int,
    days: int | None,
    now: dt.datetime,
    granted_by: str | None,
) -> CompResult:
    """Give a subscriber a tier for `days` (None: forever) from now, without Stripe.

    The subscriber row is locked first, so a retried or doubled request finds the comp the
    first one made and gives it the new end instead of a second comp.
    """
    days = check_days(days)
    subscriber = lock_row(session, Subscriber, subscriber_id)
    if subscriber is None or subscriber.status == Status.ERASED:
        raise NotFound(f"no subscriber {subscriber_id}", code="unknown_subscriber")
    tier = session.get(Tier, tier_id)
    if tier is None:
        raise NotFound(f"no tier {tier_id}", code="unknown_tier")
    if not tier.active:
        raise Conflict("This tier is no longer offered.", code="tier_inactive")
    ends_at = now + dt.timedelta(days=days) if days is not None else None
    existing = session.scalars(
        select(Grant)
        .where(Grant.subscriber_id == subscriber.id, Grant.tier_id == tier.id, Grant.kind == "comp")
        .where(*_live(now))
        .order_by(Grant.id)
    ).first()
    if existing is not None:
        existing.ends_at = ends_at
        existing.granted_by = granted_by or existing.granted_by
        session.flush()
        return CompResult(existing, created=False)
    grant = Grant(
        subscriber_id=subscriber.id,
        tier_id=tier.id,
        kind="comp",
        starts_at=now,
        ends_at=ends_at,
        granted_by=granted_by,
        created_at=now,
    )
    session.add(grant)
    session.flush()
    log.info("comp %s: subscriber %s gets tier %s until %s", grant.id, subscriber.id, tier.id, ends_at)
    return CompResult(grant, created=True)


def end_grant(session: Session, grant_id: int, subscriber_id: int, now: dt.datetime) -> Grant:
    """End a subscriber's grant now (ending it twice changes nothing)."""
    grant = session.get(Grant, grant_id)
    if grant is None or grant.subscriber_id != subscriber_id:
        raise NotFound(f"no grant {grant_id} for this subscriber", code="unknown_grant")
    if grant.revoked_at is None:
        grant.revoked_at = now
        session.flush()
    return grant


def grants_of(session: Session, subscriber_id: int, now: dt.datetime) -> list[Grant]:
    """The subscriber's live grants, newest first."""
    return list(
        session.scalars(
            select(Grant).where(Grant.subscriber_id == subscriber_id, *_live(now)).order_by(Grant.id.desc())
        )
    )


def granted_tier_lookup(session: Session, subscriber_ids: Iterable[int] | None) -> dict[int, int]:
    """{subscriber_id: tier_id} of live grants now (growth.access asks, for the paywall)."""
    query = select(Grant.subscriber_id, Grant.tier_id).where(*_live(utcnow())).order_by(Grant.id)
    if subscriber_ids is not None:
        ids = list(subscriber_ids)
        if not ids:
            return {}
        query = query.where(ids_in(Grant.subscriber_id, ids))
    return {sid: tid for sid, tid in session.execute(query)}


def grant_summaries(session: Session, subscriber_id: int) -> list[dict[str, object]]:
    """The subscriber's live grants as the admin page shows them (growth.access asks)."""
    names = {tier_id: name for tier_id, name in session.execute(select(Tier.id, Tier.name))}
    return [
        {"id": g.id, "tier": names.get(g.tier_id, "?"), "kind": g.kind, "ends_at": g.ends_at}
        for g in grants_of(session, subscriber_id, utcnow())
    ]


def live_count(session: Session, kind: str, now: dt.datetime) -> int:
    """How many subscribers hold a live grant of this kind (the revenue report's `comps`)."""
    return int(
        session.scalar(
            select(func.count(func.distinct(Grant.subscriber_id))).where(Grant.kind == kind, *_live(now))
        )
        or 0
    )
