"""What an admin does to one subscriber from their page: resend the confirmation, change newsletters."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from growth import subscribers
from growth.errors import Conflict
from growth.models import Membership, MembershipStatus, Newsletter, Status, Subscriber


def resend_confirmation(
    session: Session, subscriber: Subscriber, now: dt.datetime, resend_after: int
) -> bool:
    """Queue the confirmation again for a pending reader; False when one went out too recently."""
    if subscriber.status != Status.PENDING:
        raise Conflict("Only a pending subscriber has a confirmation to resend.", code="not_pending")
    return subscribers.queue_confirmation(session, subscriber, now, resend_after)


def change_newsletters(
    session: Session, subscriber: Subscriber, newsletter_ids: set[int], now: dt.datetime
) -> None:
    """Keep exactly these of the offered newsletters (archived ones stay as they are).

    An active reader's chosen newsletters become active; a pending reader's stay pending until
    they confirm. A reader who left, was suppressed or erased gets nothing new: only they can
    come back (their own page), or an admin lifts a suppression first. Unchecking every
    newsletter unsubscribes, as the reader's own page does.
    """
    if subscriber.status not in {Status.ACTIVE, Status.PENDING}:
        raise Conflict(
            f"This subscriber is {subscriber.status}: only they can join newsletters again.",
            code="not_subscribed",
        )
    offered = set(session.scalars(select(Newsletter.id).where(Newsletter.archived_at.is_(None))))
    wanted = newsletter_ids & offered
    if not wanted:
        subscribers.unsubscribe(session, subscriber, now, reason="operator")
        session.flush()
        return
    current = {m.newsletter_id: m for m in subscriber.memberships}
    joined = MembershipStatus.ACTIVE if subscriber.status == Status.ACTIVE else MembershipStatus.PENDING
    for nid in wanted:
        membership = current.get(nid)
        if membership is None:
            membership = Membership(
                subscriber_id=subscriber.id, newsletter_id=nid, created_at=now, status=joined
            )
            subscriber.memberships.append(membership)
        elif membership.status != joined and membership.status != MembershipStatus.ACTIVE:
            membership.status = joined
            membership.unsubscribed_at = None
        if membership.status == MembershipStatus.ACTIVE and membership.confirmed_at is None:
            membership.confirmed_at = now
    for nid, membership in current.items():
        if nid in offered and nid not in wanted and membership.status != MembershipStatus.UNSUBSCRIBED:
            membership.status = MembershipStatus.UNSUBSCRIBED
            membership.unsubscribed_at = now
    session.flush()
