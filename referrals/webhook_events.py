"""The referrals domain's outgoing webhook events: referral.counted and reward.granted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from growth.models import Subscriber
from growth.outgoing.outbox import emit
from growth.outgoing.payloads import DATE_TIME, SUBSCRIBER_SCHEMA, iso, subscriber_data, with_subscriber
from growth.outgoing.registry import register_event_type
from referrals.models import Milestone, Referral

COUNT = {"type": "integer", "minimum": 1, "description": "the referrer's counted referrals now"}
MILESTONE_SCHEMA = {
    "type": "object",
    "required": ["id", "reward_name", "referrals_required"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "reward_name": {"type": "string"},
        "referrals_required": {"type": "integer"},
    },
}


def register() -> None:
    """Register the referral event types (the service emits them)."""
    register_event_type(
        "referral.counted",
        "A referral counted for its referrer (the subscriber): the referred reader confirmed, rules passed.",
        with_subscriber(
            {
                "referral_id": {"type": "integer"},
                "referred": SUBSCRIBER_SCHEMA,
                "referrals_counted": COUNT,
                "counted_at": DATE_TIME,
            },
            ("referral_id", "referred", "referrals_counted", "counted_at"),
        ),
    )
    register_event_type(
        "reward.granted",
        "A reader (the subscriber) reached a referral milestone and was granted its reward.",
        with_subscriber(
            {"milestone": MILESTONE_SCHEMA, "referrals_counted": COUNT, "granted_at": DATE_TIME},
            ("milestone", "referrals_counted", "granted_at"),
        ),
    )


def referral_counted(session: Session, referral: Referral, direct: int, now: dt.datetime) -> None:
    """Emit referral.counted for a referral that has just been counted."""
    referrer = session.get(Subscriber, referral.referrer_id)
    referred = session.get(Subscriber, referral.referred_id)
    if referrer is None or referred is None:
        return
    data: dict[str, Any] = {
        "subscriber": subscriber_data(referrer),
        "referral_id": referral.id,
        "referred": subscriber_data(referred),
        "referrals_counted": direct,
        "counted_at": iso(now),
    }
    emit(session, "referral.counted", data, now)


def reward_granted(
    session: Session, reader: Subscriber, milestone: Milestone, counted: int, now: dt.datetime
) -> None:
    """Emit reward.granted for a grant that has just been inserted."""
    data = {
        "subscriber": subscriber_data(reader),
        "milestone": {
            "id": milestone.id,
            "reward_name": milestone.reward_name,
            "referrals_required": milestone.referrals_required,
        },
        "referrals_counted": max(counted, 1),
        "granted_at": iso(now),
    }
    emit(session, "reward.granted", data, now)
