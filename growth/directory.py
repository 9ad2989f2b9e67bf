"""The admin's subscriber directory: search by email or name, filters, pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from growth import access
from growth.db import ids_in
from growth.engagement import HUMAN_ENGAGEMENT, MACHINE_OPEN
from growth.errors import InvalidRequest, ValidationFailed
from growth.fields import Rule
from growth.models import EmailEvent, Membership, MembershipStatus, Stage, Status, Subscriber
from growth.params import DB_INT_MAX, query_int
from growth.stages import Engagement

PER_PAGE = 50
MAX_PAGE = DB_INT_MAX // PER_PAGE
QUERY = Rule("q", 320)
SOURCE = Rule.of(Subscriber.source, "source")


@dataclass(frozen=True)
class Filters:
    """What the operator asked for; empty fields filter nothing (every status by default)."""

    q: str = ""
    status: str = ""
    stage: str = ""
    newsletter: int | None = None
    source: str = ""
    tier: int | None = None
    engagement: str = ""
    page: int = 1

    def as_args(self, **changes: object) -> dict[str, object]:
        """Query-string arguments for a link to these filters (another page, say)."""
        values = {k: getattr(self, k) for k in self.__dataclass_fields__} | changes
        return {k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)}


def _choice(args: Mapping[str, str], name: str, allowed: set[str]) -> str:
    value = (args.get(name) or "").strip()
    if value and value not in allowed:
        raise InvalidRequest(f"unknown {name} {value[:40]!r}", code=f"invalid_{name}")
    return value


def parse_filters(args: Mapping[str, str]) -> Filters:
    """Filters from a query string; an unknown status, stage or class, or a bad number, is a 400."""
    try:
        q = QUERY.clean(args.get("q") or "")
        source = SOURCE.clean(args.get("source") or "")
    except ValidationFailed as exc:  # in a query string it is a bad request
        raise InvalidRequest(exc.message, code="invalid_query") from exc
    return Filters(
        q=q,
        status=_choice(args, "status", set(Status)),
        stage=_choice(args, "stage", set(Stage)),
        newsletter=query_int(args, "newsletter", None) if args.get("newsletter") else None,
        source=source,
        tier=query_int(args, "tier", None) if args.get("tier") else None,
        engagement=_choice(args, "engagement", set(Engagement)),
        page=query_int(args, "page", 1, maximum=MAX_PAGE) or 1,
    )


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def engagement_condition(engagement: str, now: dt.datetime, window_days: int):  # type: ignore[no-untyped-def]
    """SQL for one engagement class, as growth.stages.classify decides it."""
    start = now - dt.timedelta(days=window_days)

    def seen(kind):  # type: ignore[no-untyped-def]
        return exists().where(
            EmailEvent.subscriber_id == Subscriber.id, kind, EmailEvent.at >= start, EmailEvent.at <= now
        )

    human, machine = seen(HUMAN_ENGAGEMENT), seen(MACHINE_OPEN)
    if engagement == Engagement.ENGAGED:
        return human
    if engagement == Engagement.UNKNOWN:
        return and_(~human, machine)
    return and_(~human, ~machine)


def query_for(session: Session, f: Filters, now: dt.datetime, window_days: int) -> Select:  # type: ignore[type-arg]
    """The SELECT of subscribers matching `f` (unordered)."""
    query = select(Subscriber)
    if f.q:
        pattern = _like(f.q)
        query = query.where(
            or_(
                func.lower(Subscriber.email).like(pattern, escape="\\"),
                func.lower(Subscriber.name).like(pattern, escape="\\"),
            )
        )
    if f.status:
        query = query.where(Subscriber.status == f.status)
    if f.stage:
        query = query.where(Subscriber.stage == f.stage)
    if f.source:
        query = query.where(Subscriber.source == f.source)
    if f.newsletter is not None:
        query = query.where(
            exists().where(
                Membership.subscriber_id == Subscriber.id,
                Membership.newsletter_id == f.newsletter,
                Membership.status != MembershipStatus.UNSUBSCRIBED,
            )
        )
    if f.tier is not None:
        ids = [sid for sid, tier in access.paying_tiers(session).items() if tier == f.tier]
        query = query.where(ids_in(Subscriber.id, ids)) if ids else query.where(Subscriber.id.is_(None))
    if f.engagement:
        query = query.where(engagement_condition(f.engagement, now, window_days))
    return query


@dataclass
class Page:
    """One page of results."""

    rows: list[Subscriber]
    total: int
    page: int
    per_page: int = PER_PAGE
    tiers: dict[int, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search(session: Session, f: Filters, now: dt.datetime, window_days: int) -> Page:
    """The page `f.page` of matching subscribers, newest first."""
    query = query_for(session, f, now, window_days)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(
        session.scalars(query.order_by(Subscriber.id.desc()).limit(PER_PAGE).offset((f.page - 1) * PER_PAGE))
    )
    tiers = access.paying_tiers(session, [s.id for s in rows]) if rows else {}
    return Page(rows, total, f.page, tiers=tiers)


def sources(session: Session) -> list[str]:
    """The sources seen so far (for the filter's list)."""
    return [s for s in session.scalars(select(Subscriber.source).distinct().order_by(Subscriber.source)) if s]
