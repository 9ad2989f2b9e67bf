"""Referral state changes: visits, attribution, the rules, holds, milestone rewards.

Services take the session first, may flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app, g
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from growth import emails, referral_asks, rollups
from growth.db import ids_in
from growth.errors import Conflict, NotFound, ValidationFailed
from growth.fields import Rule, printable, single_line
from growth.models import DeliveryKind, Status, Subscriber
from referrals import fraud, ladders, ring_review, tree, webhook_events
from referrals.models import (
    RING_HOLD_REASON,
    AddressKey,
    GrantStatus,
    Milestone,
    Referral,
    ReferralNode,
    ReferralStatus,
    ReferralVisit,
    RejectReason,
    RewardGrant,
)

log = logging.getLogger(__name__)


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def hash_ip(ip: str | None) -> str | None:
    """The client IP as a keyed hash: enough to compare, nothing to leak."""
    return fraud.keyed_hash(_secret(), ip, "ip") if ip and ip != "unknown" else None


def address_key(email: str) -> str:
    return fraud.keyed_hash(_secret(), fraud.fold_address(email), "address")


def network_hash(ip: str | None) -> str | None:
    """The client's network (an IPv6 /64 as one) as a keyed hash: a ring signal, never a limit."""
    network = fraud.network_of(ip)
    return fraud.keyed_hash(_secret(), network, "network") if network else None


def agent_hash(user_agent: str | None) -> str | None:
    text = (user_agent or "").strip()
    return fraud.keyed_hash(_secret(), text[:500], "agent") if text else None


def pattern_hash(email: str | None) -> str | None:
    pattern = fraud.address_pattern(email or "")
    return fraud.keyed_hash(_secret(), pattern, "pattern") if pattern else None


def referrer_for_code(session: Session, code: str) -> Subscriber | None:
    """The subscriber a referral code belongs to; None for unknown codes and erased readers."""
    if not single_line(code):  # a NUL would reach the query
        return None
    referrer = session.scalars(
        select(Subscriber).where(Subscriber.referral_code == code.strip().lower())
    ).first()
    return None if referrer is None or referrer.status == Status.ERASED else referrer


def record_visit(
    session: Session,
    code: str,
    ip: str | None,
    user_agent: str | None,
    now: dt.datetime,
    visitor_id: int | None = None,
    post_id: int | None = None,
    placement: str | None = None,
) -> Subscriber | None:
    """Keep a visit to /r/<code> (or a post's share link); crawlers and the referrer's own are not counted."""
    referrer = referrer_for_code(session, code)
    if referrer is None:
        return None
    ip_hash = hash_ip(ip)
    is_bot = fraud.is_crawler(user_agent)
    is_self = visitor_id == referrer.id or (ip_hash is not None and ip_hash == hash_ip(referrer.signup_ip))
    session.add(
        ReferralVisit(
            referrer_id=referrer.id,
            at=now,
            ip_hash=ip_hash,
            user_agent=printable(user_agent, 500),
            is_bot=is_bot,
            is_self=is_self,
            counted=not (is_bot or is_self),
            post_id=post_id,
            placement=referral_asks.clean_placement(placement),
        )
    )
    session.flush()
    return referrer


def on_link_visit(
    _shared: object,
    *,
    session: Session,
    ref: str,
    ip: str | None = None,
    user_agent: str | None = None,
    now: dt.datetime,
    post_id: int | None = None,
    ask: str | None = None,
    **_: object,
) -> None:
    """A share link elsewhere (a post's ?ref=) is a referral visit like /r/<code>, kept with its post."""
    record_visit(session, ref[:64], ip, user_agent, now, post_id=post_id, placement=ask)


def on_signed_up(
    subscriber: Subscriber,
    *,
    session: Session,
    ip: str | None = None,
    user_agent: str | None = None,
    now: dt.datetime,
    ask: str | None = None,
    **_: object,
) -> None:
    """A new subscriber: remember their folded address; a referred one gets a pending referral.

    `ask` is the referral ask the link came from: the referral is credited to that placement.
    """
    if subscriber.email_normalized:
        session.add(
            AddressKey(
                subscriber_id=subscriber.id,
                key=address_key(subscriber.email_normalized),
                created_at=now,
            )
        )
    if subscriber.referrer_id is not None and subscriber.referrer_id != subscriber.id:
        try:
            with session.begin_nested():
                session.add(
                    Referral(
                        referrer_id=subscriber.referrer_id,
                        referred_id=subscriber.id,
                        status=ReferralStatus.PENDING,
                        ip_hash=hash_ip(ip),
                        signup_net_hash=network_hash(ip),
                        signup_agent_hash=agent_hash(user_agent),
                        address_pattern_hash=pattern_hash(subscriber.email_normalized),
                        created_at=now,
                        placement=referral_asks.clean_placement(ask),
                    )
                )
                session.flush()
        except IntegrityError:  # a replayed signal: the referral is already there
            log.info("referral for subscriber %s already recorded", subscriber.id)
    session.flush()


def on_changed(subscriber: Subscriber, *, session: Session, field: str, new: str, **_: object) -> None:
    """Erasure removes the address hash too: an erased reader is forgotten, also here."""
    if field == "status" and new == Status.ERASED:
        session.execute(delete(AddressKey).where(AddressKey.subscriber_id == subscriber.id))


def on_confirmed(
    subscriber: Subscriber,
    *,
    session: Session,
    first_time: bool,
    now: dt.datetime,
    ip: str | None = None,
    user_agent: str | None = None,
    **_: object,
) -> None:
    """The referred reader confirmed: apply the rules, then count, hold or reject."""
    if not first_time:
        return
    referral = session.scalars(
        select(Referral).where(
            Referral.referred_id == subscriber.id, Referral.status == ReferralStatus.PENDING
        )
    ).first()
    if referral is None:
        return
    config = current_app.config["MASTHEAD"]
    tree.ensure_node(session, referral.referrer_id)  # locks the referrer: the rules and counts agree
    referral.confirmed_at = now
    referral.confirm_net_hash, referral.confirm_agent_hash = network_hash(ip), agent_hash(user_agent)
    reason = rejection_reason(session, referral, subscriber, now, config.referral_max_per_ip_per_day)
    if reason is not None:
        referral.status, referral.reason, referral.decided_at = ReferralStatus.REJECTED, reason, now
        log.info("referral %s rejected: %s", referral.id, reason)
    elif config.referral_ring_action == "hold" and ring_review.in_ring(session, referral, config):
        # held until an operator decides: no hold_until, so release_due never counts it
        referral.status, referral.reason = ReferralStatus.HELD, RING_HOLD_REASON
        log.info("referral %s held: possible ring under referrer %s", referral.id, referral.referrer_id)
    elif config.referral_hold_days > 0:
        referral.status = ReferralStatus.HELD
        referral.hold_until = now + dt.timedelta(days=config.referral_hold_days)
    else:
        count_referral(session, referral, now)
    session.flush()


def rejection_reason(
    session: Session,
    referral: Referral,
    referred: Subscriber,
    now: dt.datetime,
    max_per_ip_per_day: int,
) -> str | None:
    """The first rule the referral breaks, or None when it may count."""
    referrer = session.get(Subscriber, referral.referrer_id)
    address = referred.email_normalized or ""
    if (
        referrer is not None
        and referrer.email_normalized
        and (fraud.fold_address(referrer.email_normalized) == fraud.fold_address(address))
    ):
        return RejectReason.SELF
    if fraud.is_disposable(address):
        return RejectReason.DISPOSABLE
    folded = fraud.fold_address(address)
    earlier = session.scalar(
        select(func.count())
        .select_from(AddressKey)
        .where(AddressKey.key == address_key(address), AddressKey.subscriber_id != referred.id)
    ) or session.scalar(
        select(func.count())
        .select_from(Subscriber)
        .where(Subscriber.email_normalized == folded, Subscriber.id != referred.id)
    )
    if earlier:
        return RejectReason.RETURNING
    if referral.ip_hash is not None:
        day = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        same_ip_today = session.scalar(
            select(func.count())
            .select_from(Referral)
            .where(
                Referral.referrer_id == referral.referrer_id,
                Referral.ip_hash == referral.ip_hash,
                Referral.status.in_([ReferralStatus.COUNTED, ReferralStatus.HELD]),
                Referral.confirmed_at >= day,
                Referral.confirmed_at < day + dt.timedelta(days=1),
                Referral.id != referral.id,
            )
        )
        if (same_ip_today or 0) >= max_per_ip_per_day:
            return RejectReason.IP_LIMIT
    return None


def count_referral(session: Session, referral: Referral, now: dt.datetime) -> None:
    """Count it: extend the tree, then grant every milestone now reached."""
    referral.status, referral.counted_at = ReferralStatus.COUNTED, now
    session.flush()
    direct = tree.attach(session, referral.referred_id, referral.referrer_id)
    webhook_events.referral_counted(session, referral, direct, now)
    grant_milestones(session, referral.referrer_id, direct, now)


def grant_milestones(session: Session, referrer_id: int, counted: int, now: dt.datetime) -> list[RewardGrant]:
    """Grant the milestones this count has just reached; the unique constraint settles races.

    A counted referral adds one, so the milestones it reaches are those at exactly `counted`, on
    the referrer's own ladder (their variant's, or the default one when they have none).
    Milestones the reader had already passed when they were added, lowered or switched on are
    the operator's call (`rewards.offer_to_readers_past`), never granted behind their back.
    """
    granted = []
    reached = session.scalars(
        select(Milestone).where(
            Milestone.active.is_(True),
            Milestone.referrals_required == counted,
            ladders.on_ladder(ladders.ladder_of(session, referrer_id)),
        )
    ).all()
    have = set(
        session.scalars(select(RewardGrant.milestone_id).where(RewardGrant.subscriber_id == referrer_id))
    )
    for milestone in reached:
        if milestone.id in have:
            continue
        grant = RewardGrant(subscriber_id=referrer_id, milestone_id=milestone.id, granted_at=now)
        try:
            with session.begin_nested():
                session.add(grant)
                session.flush()
        except IntegrityError:
            log.info("milestone %s already granted to %s", milestone.id, referrer_id)
            continue
        referrer = session.get(Subscriber, referrer_id)
        if referrer is not None:
            webhook_events.reward_granted(session, referrer, milestone, counted, now)
            announce_reward(session, referrer, milestone, counted)
        granted.append(grant)
    return granted


def announce_reward(session: Session, reader: Subscriber, milestone: Milestone, counted: int) -> None:
    """The reward email, to readers we may still write to."""
    if reader.status in {Status.ERASED, Status.BOUNCED, Status.COMPLAINED}:
        return
    emails.queue_email(
        session,
        reader,
        "referral_reward",
        kind=DeliveryKind.TRANSACTIONAL,
        list_mail=False,
        milestone=milestone,
        counted=counted,
    )


def get_referral(session: Session, referral_id: int) -> Referral:
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise NotFound("No such referral.", code="unknown_referral")
    return referral


def approve(session: Session, referral_id: int, operator: str, now: dt.datetime) -> Referral:
    """An operator lets a held referral count."""
    referral = get_referral(session, referral_id)
    if referral.status != ReferralStatus.HELD:
        raise Conflict(
            f"Only held referrals can be approved; this one is {referral.status}.", code="not_held"
        )
    tree.ensure_node(session, referral.referrer_id)
    referral.decided_at, referral.decided_by = now, operator
    count_referral(session, referral, now)
    return referral


def reject(session: Session, referral_id: int, operator: str, now: dt.datetime) -> Referral:
    """An operator rejects a held or counted referral; grants it no longer supports get flagged."""
    referral = get_referral(session, referral_id)
    if referral.status not in {ReferralStatus.HELD, ReferralStatus.COUNTED, ReferralStatus.PENDING}:
        raise Conflict("This referral is already rejected.", code="already_rejected")
    was_counted = referral.status == ReferralStatus.COUNTED
    referral.status, referral.reason = ReferralStatus.REJECTED, RejectReason.OPERATOR
    referral.decided_at, referral.decided_by = now, operator
    session.flush()
    rollups.mark_dirty(session, [referral.referred_id])  # no longer counted under `referral`
    if was_counted:
        tree.detach(session, referral.referred_id)
        left = (
            session.scalar(
                select(ReferralNode.direct_count).where(ReferralNode.subscriber_id == referral.referrer_id)
            )
            or 0
        )
        for grant in session.scalars(
            select(RewardGrant)
            .join(Milestone)
            .where(
                RewardGrant.subscriber_id == referral.referrer_id,
                Milestone.referrals_required > left,
                RewardGrant.status != GrantStatus.FLAGGED,
            )
        ):
            grant.status = GrantStatus.FLAGGED
            grant.flag_reason = f"referral {referral.id} rejected; {left} counted referrals left"
    session.flush()
    return referral


def release_due(session: Session, now: dt.datetime) -> int:
    """Held referrals whose hold has passed without a decision count now."""
    due = session.scalars(
        select(Referral)
        .where(Referral.status == ReferralStatus.HELD, Referral.hold_until <= now)
        .order_by(Referral.id)
    ).all()
    for referral in due:
        tree.ensure_node(session, referral.referrer_id)
        count_referral(session, referral, now)
    return len(due)


def held_referrals(session: Session) -> list[tuple[Referral, Subscriber, Subscriber]]:
    """Held referrals with both readers, oldest first."""
    from sqlalchemy.orm import aliased

    referrer, referred = aliased(Subscriber), aliased(Subscriber)
    rows = session.execute(
        select(Referral, referrer, referred)
        .join(referrer, referrer.id == Referral.referrer_id)
        .join(referred, referred.id == Referral.referred_id)
        .where(Referral.status == ReferralStatus.HELD)
        .order_by(Referral.id)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


# Milestones and fulfilment -----------------------------------------------------------------


ALL_LADDERS = "all"


def milestones(
    session: Session, active_only: bool = False, ladder: int | None | str = ALL_LADDERS
) -> list[Milestone]:
    """Milestones by referral count: of every ladder (the default ladder's first), or of one
    (`ladder` a variant id, None the default ladder)."""
    query = select(Milestone).order_by(
        Milestone.variant_id.is_not(None), Milestone.variant_id, Milestone.referrals_required
    )
    if ladder != ALL_LADDERS:
        query = query.where(ladders.on_ladder(ladder if isinstance(ladder, int) else None))
    if active_only:
        query = query.where(Milestone.active.is_(True))
    return list(session.scalars(query))


def reader_milestones(session: Session, subscriber: Subscriber) -> list[Milestone]:
    """The active milestones of the reader's own ladder."""
    return milestones(session, active_only=True, ladder=ladders.ladder_of(session, subscriber.id))


MAX_REFERRALS_REQUIRED = 1_000_000
CURRENCY = re.compile(r"[a-z]{3}")  # an ISO 4217 code, lower case as Stripe writes it
MAX_COST_CENTS = 100_000_000  # a million in the currency's main unit per reward
# What a milestone's text accepts (the admin form and the API; referrals.schemas documents it).
MILESTONE_RULES = {
    "reward_name": Rule.of(Milestone.reward_name),
    "description": Rule("description", 5000, multiline=True),
    "fulfilment_note": Rule("fulfilment_note", 5000, multiline=True),
}


def get_milestone(session: Session, milestone_id: int) -> Milestone:
    milestone = session.get(Milestone, milestone_id)
    if milestone is None:
        raise NotFound("No such milestone.", code="unknown_milestone")
    return milestone


def _milestone_ladder(session: Session, data: dict, milestone: Milestone, creating: bool) -> int | None:
    """The ladder a milestone is on: chosen when it is created (variant_id; none: the default)."""
    if not creating:
        if "variant_id" in data and data["variant_id"] != milestone.variant_id:
            raise ValidationFailed(
                "A milestone stays on its ladder; add one to the other.", code="ladder_fixed"
            )
        return milestone.variant_id
    variant_id = data.get("variant_id")
    if variant_id is None:
        return None
    if not isinstance(variant_id, int) or isinstance(variant_id, bool) or variant_id < 1:
        raise ValidationFailed("variant_id must be a ladder's id.", code="invalid_ladder")
    return ladders.get_variant(session, variant_id).id


def _cost(data: dict, milestone: Milestone) -> tuple[int, str]:
    cost = data.get("cost_cents", milestone.cost_cents if milestone.cost_cents is not None else 0)
    if not isinstance(cost, int) or isinstance(cost, bool) or not 0 <= cost <= MAX_COST_CENTS:
        raise ValidationFailed(
            f"cost_cents must be a whole number of cents from 0 to {MAX_COST_CENTS}.", code="invalid_cost"
        )
    currency = data.get("currency", milestone.currency or "usd")
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency.strip().lower()):
        raise ValidationFailed(
            "currency must be a three-letter ISO code such as usd.", code="invalid_currency"
        )
    return cost, currency.strip().lower()


def save_milestone(session: Session, data: dict, milestone_id: int | None = None) -> Milestone:
    """Create or change a milestone; one milestone per referral count on each ladder, and one
    currency for a ladder's costs."""
    milestone = Milestone() if milestone_id is None else get_milestone(session, milestone_id)
    variant_id = _milestone_ladder(session, data, milestone, milestone_id is None)
    cost, currency = _cost(data, milestone)
    required = data.get("referrals_required", milestone.referrals_required)
    if (
        not isinstance(required, int)
        or isinstance(required, bool)
        or not 1 <= required <= MAX_REFERRALS_REQUIRED
    ):
        raise ValidationFailed(
            f"referrals_required must be a whole number from 1 to {MAX_REFERRALS_REQUIRED}.",
            code="invalid_count",
        )
    name = MILESTONE_RULES["reward_name"].clean(data.get("reward_name", milestone.reward_name) or "")
    if not name:
        raise ValidationFailed("A milestone needs a reward name.", code="missing_reward_name")
    description = MILESTONE_RULES["description"].clean(data.get("description", milestone.description) or "")
    note = MILESTONE_RULES["fulfilment_note"].clean(
        data.get("fulfilment_note", milestone.fulfilment_note) or ""
    )
    same_ladder = ladders.on_ladder(variant_id)
    others = select(Milestone).where(same_ladder, Milestone.id != milestone_id)
    clash = session.scalars(others.where(Milestone.referrals_required == required)).first()
    if clash is not None:
        raise Conflict(
            f"A milestone at {required} referrals exists already on this ladder.", code="duplicate_milestone"
        )
    other_currency = session.scalars(others.where(Milestone.currency != currency)).first()
    if other_currency is not None:
        raise Conflict(
            f"This ladder's rewards are priced in {other_currency.currency}; use it here too.",
            code="currency_mismatch",
        )
    milestone.variant_id, milestone.cost_cents, milestone.currency = variant_id, cost, currency
    milestone.referrals_required, milestone.reward_name = required, name
    milestone.description, milestone.fulfilment_note = description, note
    milestone.active = bool(data.get("active", True if milestone.active is None else milestone.active))
    if milestone_id is None:
        session.add(milestone)
    try:
        session.flush()
    except IntegrityError as exc:  # the same count saved at once by another request: the check
        raise Conflict(  # above saw nothing, the unique index did (callers hold a savepoint)
            f"A milestone at {required} referrals exists already on this ladder.", code="duplicate_milestone"
        ) from exc
    return milestone


def grants(session: Session, status: str | None = None) -> list[tuple[RewardGrant, Subscriber]]:
    """The fulfilment list: grants with their readers, newest first."""
    query = select(RewardGrant, Subscriber).join(Subscriber, Subscriber.id == RewardGrant.subscriber_id)
    if status:
        if status not in set(GrantStatus):
            raise ValidationFailed(f"unknown grant status {status!r}", code="invalid_status")
        query = query.where(RewardGrant.status == status)
    return [(g, s) for g, s in session.execute(query.order_by(RewardGrant.id.desc()))]


def mark_fulfilled(session: Session, grant_id: int, now: dt.datetime) -> RewardGrant:
    grant = session.get(RewardGrant, grant_id)
    if grant is None:
        raise NotFound("No such grant.", code="unknown_grant")
    grant.status, grant.fulfilled_at = GrantStatus.FULFILLED, now
    session.flush()
    return grant


# The subscriber's side -----------------------------------------------------------------------


@dataclass
class Progress:
    """A reader's counted referrals and the next milestone."""

    counted: int
    next_milestone: Milestone | None
    remaining: int | None


def progress(session: Session, subscriber: Subscriber) -> Progress:
    """Counted referrals and the next milestone (from a batch prefetch when one was made)."""
    prefetched = g.get("referral_progress")
    if prefetched is not None and subscriber.id in prefetched["counts"]:
        # used once: a referral counted later in this unit of work must not read a stale count
        counted = prefetched["counts"].pop(subscriber.id)
        milestones = prefetched["milestones"].get(prefetched["ladders"].get(subscriber.id), [])
    else:
        counted = (
            session.scalar(
                select(ReferralNode.direct_count).where(ReferralNode.subscriber_id == subscriber.id)
            )
            or 0
        )
        milestones = None
    if milestones is None:
        upcoming = session.scalars(
            select(Milestone)
            .where(
                Milestone.active.is_(True),
                Milestone.referrals_required > counted,
                ladders.on_ladder(ladders.ladder_of(session, subscriber.id)),
            )
            .order_by(Milestone.referrals_required)
            .limit(1)
        ).first()
    else:
        upcoming = next((m for m in milestones if m.referrals_required > counted), None)
    return Progress(counted, upcoming, upcoming.referrals_required - counted if upcoming else None)


def prefetch_progress(session: Session, subscribers: list[Subscriber]) -> None:
    """Load the counts and ladders of a batch of readers and the active milestones in a few queries."""
    ids = [s.id for s in subscribers]
    counts = dict.fromkeys(ids, 0)
    for start in range(0, len(ids), 1000):
        part = ids[start : start + 1000]
        rows = session.execute(
            select(ReferralNode.subscriber_id, ReferralNode.direct_count).where(
                ids_in(ReferralNode.subscriber_id, part)
            )
        )
        counts.update((sid, n) for sid, n in rows)
    by_ladder: dict[int | None, list[Milestone]] = {}
    for milestone in session.scalars(
        select(Milestone).where(Milestone.active.is_(True)).order_by(Milestone.referrals_required)
    ):
        by_ladder.setdefault(milestone.variant_id, []).append(milestone)
    g.referral_progress = {
        "counts": {k: v or 0 for k, v in counts.items()},
        "ladders": ladders.ladders_of(session, ids),
        "milestones": by_ladder,
    }


def progress_sentence(p: Progress) -> str:
    """'2 more friends to the sticker pack.'"""
    if p.next_milestone is None or p.remaining is None:
        return ""
    friends = "friend" if p.remaining == 1 else "friends"
    return f"{p.remaining} more {friends} to the {p.next_milestone.reward_name}."


def set_leaderboard_opt_in(session: Session, subscriber: Subscriber, opt_in: bool) -> None:
    tree.ensure_node(session, subscriber.id)
    node = session.get(ReferralNode, subscriber.id, populate_existing=True)
    assert node is not None
    node.leaderboard_opt_in = opt_in
    session.flush()


def leaderboard(session: Session, limit: int = 10) -> list[tuple[str, int]]:
    """Opted-in referrers by counted referrals, shown by first name or 'anonymous'."""
    rows = session.execute(
        select(Subscriber.name, ReferralNode.direct_count)
        .join(Subscriber, Subscriber.id == ReferralNode.subscriber_id)
        .where(
            ReferralNode.leaderboard_opt_in.is_(True),
            ReferralNode.direct_count > 0,
            Subscriber.status != Status.ERASED,
        )
        .order_by(ReferralNode.direct_count.desc(), ReferralNode.subscriber_id)
        .limit(limit)
    )
    return [((name or "").split(" ")[0] or "anonymous", count) for name, count in rows]


def is_on_leaderboard(session: Session, subscriber: Subscriber) -> bool:
    return bool(
        session.scalar(
            select(ReferralNode.leaderboard_opt_in).where(ReferralNode.subscriber_id == subscriber.id)
        )
    )


def email_context(session: Session, subscriber: Subscriber, context: Mapping[str, Any]) -> dict[str, str]:
    """referral_block / referral_block_html for every email: the link and the progress."""
    from markupsafe import escape

    publication = context["publication"]
    url = context["referral_url"]
    p = progress(session, subscriber)
    counted = (
        f"You have brought {p.counted} friend{'' if p.counted == 1 else 's'} so far. " if p.counted else ""
    )
    sentence = progress_sentence(p)
    text = f"Share {publication} with a friend: {url}\n{counted}{sentence}".rstrip()
    html = (
        f"<p>Share {escape(publication)} with a friend: "
        f'<a href="{escape(url)}">{escape(url)}</a><br>'
        f"{escape(counted)}{escape(sentence)}</p>"
    )
    return {"referral_block": text, "referral_block_html": html}


def referred_lookup(session: Session, subscriber_ids: Collection[int]) -> set[int]:
    """For the reports: which of these subscribers came through a referral link not rejected."""
    ids = list(subscriber_ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Referral.referred_id).where(
                ids_in(Referral.referred_id, ids), Referral.status != ReferralStatus.REJECTED
            )
        )
    )
