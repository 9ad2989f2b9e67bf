"""Segments: who a send reaches, resolved at send time a page of subscribers at a time.

Every segment is a newsletter's active members, narrowed by one rule; only subscribers with
status `active` who are not paused are ever candidates.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select, type_coerce
from sqlalchemy.orm import Session

from content import metrics, related
from content.models import PollVote, Post, Send
from growth import access, engagement
from growth.config import Config
from growth.db import UTCDateTime, ids_in
from growth.errors import ValidationFailed
from growth.fields import single_line
from growth.models import (
    CustomField,
    Delivery,
    DeliveryKind,
    DeliveryState,
    FieldValue,
    Membership,
    MembershipStatus,
    Stage,
    Status,
    Subscriber,
)

STAGES = (Stage.ENGAGED.value, Stage.NURTURED.value, Stage.PRESUMED.value)
# Pitches that went out or may have: they all start the cooldown.
PITCH_COUNTING_STATES = (
    DeliveryState.QUEUED,
    DeliveryState.SENDING,
    DeliveryState.SENT,
    DeliveryState.UNKNOWN,
)


@dataclass(frozen=True)
class Segment:
    """all | free | paying | tier (value=id) | stage | source | interest (topic slug) | field
    ("name=value") | poll ("id=answer")."""

    kind: str
    value: str | int | None = None

    def __str__(self) -> str:
        return self.kind if self.value is None else f"{self.kind}:{self.value}"


_TIER_ID = re.compile(r"[0-9]{1,9}")
_TOPIC_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def parse_segment(raw: str) -> Segment:
    """A segment from its text form; ValidationFailed names what is accepted."""
    raw = (raw or "all").strip()
    kind, _, value = raw.partition(":")
    if kind in ("all", "free", "paying") and not value:
        return Segment(kind)
    if kind == "tier" and _TIER_ID.fullmatch(value):
        return Segment("tier", int(value))
    if kind == "stage" and value in STAGES:
        return Segment("stage", value)
    if kind == "source" and 0 < len(value) <= 100 and single_line(value):
        return Segment("source", value)
    if kind == "interest" and _TOPIC_SLUG.fullmatch(value) and len(value) <= 80:
        return Segment("interest", value)
    name, eq, wanted = value.partition("=")
    wanted = wanted.strip()
    if eq and 0 < len(wanted) <= 100 and single_line(wanted):
        if kind == "field" and _FIELD_NAME.fullmatch(name):
            return Segment("field", f"{name}={wanted}")
        if kind == "poll" and _TIER_ID.fullmatch(name):
            return Segment("poll", f"{int(name)}={wanted}")
    raise ValidationFailed(
        "segment must be all, free, paying, tier:<id>, stage:engaged, stage:nurtured, stage:presumed,"
        " source:<name>, interest:<topic>, field:<name>=<value> or poll:<id>=<answer>",
        code="invalid_segment",
    )


def field_filter(segment: Segment):  # type: ignore[no-untyped-def]
    """The subscribers a field: or poll: segment names (a subquery of ids; case does not matter).

    A field's value is compared in its canonical text (growth.custom_fields: 7, not 07; dates
    YYYY-MM-DD); a poll's answer by its words.
    """
    key, _, wanted = str(segment.value).partition("=")
    if segment.kind == "field":
        return (
            select(FieldValue.subscriber_id)
            .join(CustomField, CustomField.id == FieldValue.field_id)
            .where(CustomField.name == key, func.lower(FieldValue.value) == wanted.lower())
        )
    return select(PollVote.subscriber_id).where(
        PollVote.poll_id == int(key), func.lower(PollVote.answer_text) == wanted.lower()
    )


@dataclass(frozen=True)
class Candidate:
    """A subscriber a send may reach."""

    id: int
    email: str
    stage: str


def base_query(newsletter_id: int, segment: Segment, now: dt.datetime):  # type: ignore[no-untyped-def]
    """Active, unpaused members of the newsletter matching the segment's column rules."""
    query = (
        select(Subscriber.id, Subscriber.email, Subscriber.stage)
        .join(Membership, Membership.subscriber_id == Subscriber.id)
        .where(
            Membership.newsletter_id == newsletter_id,
            Membership.status == MembershipStatus.ACTIVE,
            Subscriber.status == Status.ACTIVE,
            or_(Subscriber.paused_until.is_(None), Subscriber.paused_until <= now),
        )
    )
    if segment.kind == "stage":
        query = query.where(Subscriber.stage == segment.value)
    elif segment.kind == "source":
        query = query.where(Subscriber.source == segment.value)
    elif segment.kind == "interest":  # clicked or read on the web a post of that topic, 90 days
        query = query.where(Subscriber.id.in_(related.interested_subscribers(str(segment.value), now)))
    elif segment.kind in ("field", "poll"):
        query = query.where(Subscriber.id.in_(field_filter(segment)))
    return query


def candidate_page(
    session: Session,
    newsletter_id: int,
    segment: Segment,
    now: dt.datetime,
    after_id: int,
    limit: int,
) -> tuple[list[Candidate], int | None]:
    """Up to `limit` members after `after_id` in id order, filtered by the segment's rule.

    Returns them and the last subscriber id looked at (None when the list is exhausted), so
    resolution resumes by keyset even when the page's rule filtered everybody out.
    """
    # Keyset on memberships(newsletter_id, status, subscriber_id): each page is an index range,
    # so resolving a list of any length costs the same per page.
    rows = session.execute(
        base_query(newsletter_id, segment, now)
        # Both sides bounded: a merge join must not walk subscribers from the first id again.
        .where(Membership.subscriber_id > after_id, Subscriber.id > after_id)
        .order_by(Membership.subscriber_id)
        .limit(limit)
    ).all()
    if not rows:
        return [], None
    last = rows[-1][0]
    if segment.kind in ("free", "paying", "tier"):
        tiers = access.paying_tiers(session, [r[0] for r in rows])

        def paying(sid: int, stage: str) -> bool:
            return sid in tiers or stage == Stage.PAYING

        if segment.kind == "free":
            rows = [r for r in rows if not paying(r[0], r[2])]
        elif segment.kind == "paying":
            rows = [r for r in rows if paying(r[0], r[2])]
        else:
            rows = [r for r in rows if tiers.get(r[0]) == segment.value]
    return [Candidate(r[0], r[1], r[2]) for r in rows], last


def last_pitch_times(
    session: Session, subscriber_ids: Iterable[int], exclude_send_id: int | None = None
) -> dict[int, dt.datetime]:
    """When each subscriber was last pitched (sent, or on its way)."""
    ids = list(subscriber_ids)
    if not ids:
        return {}
    query = (
        select(
            Delivery.subscriber_id,
            # max() loses the column type on SQLite; coerce so rows come back as aware UTC.
            type_coerce(func.max(func.coalesce(Delivery.sent_at, Delivery.created_at)), UTCDateTime()),
        )
        .where(
            ids_in(Delivery.subscriber_id, ids),
            Delivery.kind == DeliveryKind.PITCH,
            Delivery.state.in_(PITCH_COUNTING_STATES),
        )
        .group_by(Delivery.subscriber_id)
    )
    if exclude_send_id is not None:
        query = query.where(or_(Delivery.send_id.is_(None), Delivery.send_id != exclude_send_id))
    return {sid: at for sid, at in session.execute(query)}


def skip_reasons(
    session: Session,
    kind: str,
    subscriber_ids: list[int],
    now: dt.datetime,
    min_value: int,
    cooldown_days: int,
    exclude_send_id: int | None = None,
) -> dict[int, str]:
    """{subscriber_id: reason} of those a send of this kind must skip now (value skips nobody)."""
    if kind != DeliveryKind.PITCH or not subscriber_ids:
        return {}
    engaged = engagement.engaged_value_counts(session, subscriber_ids)
    pitched = last_pitch_times(session, subscriber_ids, exclude_send_id)
    presumed = set(
        session.scalars(
            select(Subscriber.id).where(
                ids_in(Subscriber.id, subscriber_ids), Subscriber.stage == Stage.PRESUMED
            )
        )
    )
    reasons = {}
    for sid in subscriber_ids:
        reason = metrics.pitch_skip_reason(
            engaged.get(sid, 0), pitched.get(sid), now, min_value, cooldown_days, presumed=sid in presumed
        )
        if reason:
            reasons[sid] = reason
    return reasons


def skips_for_send(
    session: Session, send: Send, subscriber_ids: list[int], now: dt.datetime, config: Config
) -> dict[int, str]:
    """skip_reasons for these recipients of a send, by the publication's nurture and cooldown rules."""
    return skip_reasons(
        session,
        send.kind,
        subscriber_ids,
        now,
        config.nurture_min_value,
        config.pitch_cooldown_days,
        exclude_send_id=send.id,
    )


@dataclass
class Preview:
    """What a send would do if it ran now."""

    will_receive: int
    skipped: dict[str, int]

    @property
    def sentence(self) -> str:
        return metrics.preview_sentence(self.will_receive, self.skipped)


def preview(
    session: Session,
    newsletter_id: int,
    segment: Segment,
    kind: str,
    now: dt.datetime,
    min_value: int,
    cooldown_days: int,
    page_size: int = 1000,
) -> Preview:
    """Count who would receive a send and who would be skipped, and why, without writing."""
    will, skipped, after = 0, dict[str, int](), 0
    while True:
        page, last = candidate_page(session, newsletter_id, segment, now, after, page_size)
        if last is None:
            return Preview(will, skipped)
        reasons = skip_reasons(session, kind, [c.id for c in page], now, min_value, cooldown_days)
        for reason in reasons.values():
            skipped[reason] = skipped.get(reason, 0) + 1
        will += len(page) - len(reasons)
        after = last


def preview_post(
    session: Session,
    post: Post,
    segment: Segment,
    now: dt.datetime,
    config: Config,
    when: dt.datetime | None = None,
) -> Preview:
    """`preview` of sending `post` to `segment`, with the publication's nurture and cooldown rules.

    A send on a day with a booked sponsor is a pitch, whatever the post's kind (`when`: its start).
    """
    from content.sponsorships import send_kind

    return preview(
        session,
        post.newsletter_id,
        segment,
        send_kind(session, post, when or now),
        now,
        config.nurture_min_value,
        config.pitch_cooldown_days,
    )


def segment_counts(
    session: Session,
    newsletter_id: int,
    now: dt.datetime,
    tier_ids: Iterable[int] = (),
    max_sources: int = 20,
    page_size: int = 5000,
) -> dict[str, int]:
    """How many members each segment reaches now, in one pass over the list (pitch skips aside).

    Keys are segment texts: all, free, paying, tier:<id>, stage:engaged, stage:nurtured,
    stage:presumed, source:<name> for the most common sources and interest:<topic> for the most
    read topics.
    """
    counts: dict[str, int] = {"all": 0, "free": 0, "paying": 0}
    counts.update({f"tier:{t}": 0 for t in tier_ids})
    counts.update({f"stage:{s}": 0 for s in STAGES})
    sources: dict[str, int] = {}
    after = 0
    while True:
        rows = session.execute(
            base_query(newsletter_id, Segment("all"), now)
            .add_columns(Subscriber.source)
            .where(Membership.subscriber_id > after, Subscriber.id > after)
            .order_by(Membership.subscriber_id)
            .limit(page_size)
        ).all()
        if not rows:
            break
        after = rows[-1][0]
        tiers = access.paying_tiers(session, [r[0] for r in rows])
        for sid, _email, stage, source in rows:
            counts["all"] += 1
            paying = sid in tiers or stage == Stage.PAYING
            counts["paying" if paying else "free"] += 1
            if f"tier:{tiers.get(sid)}" in counts:
                counts[f"tier:{tiers[sid]}"] += 1
            if stage in STAGES:
                counts[f"stage:{stage}"] += 1
            if source:
                sources[source] = sources.get(source, 0) + 1
    for source, n in sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))[:max_sources]:
        counts[f"source:{source}"] = n
    members = base_query(newsletter_id, Segment("all"), now).with_only_columns(Subscriber.id)
    interested = related.interest_counts(session, now, members, limit=max_sources)
    counts.update({f"interest:{slug}": n for slug, n in interested})
    return counts
