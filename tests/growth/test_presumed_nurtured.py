"""Readers hidden by Apple Mail: presumed nurtured on hand-built histories (pure, then stored)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from content.metrics import NOT_NURTURED, pitch_skip_reason
from content.segments import skip_reasons
from growth.engagement import recompute_stages
from growth.models import SubscriberEvent
from growth.stages import Engagement, Policy, next_stage, presumed_nurtured
from growth.subscribers import set_status
from tests.fakes.engagement_data import T0, make_delivery, make_event, make_subscriber

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
POLICY = Policy(engaged_window_days=30, nurture_min_value=3, lapsed_after_days=90)
OFF = Policy(engaged_window_days=30, nurture_min_value=3, lapsed_after_days=90, presume_nurtured=False)


def days_ago(n: float) -> dt.datetime:
    return NOW - dt.timedelta(days=n)


# Six value emails (2 x NURTURE_MIN_VALUE 3), one every 6 days: first 31 days ago, last 1 day ago.
SIX_OVER_30 = [days_ago(31 - 6 * i) for i in range(6)]


@pytest.mark.parametrize(
    ("engagement", "received", "objections", "policy", "expected"),
    [
        (Engagement.UNKNOWN, SIX_OVER_30, [], POLICY, True),
        # five value emails: one short of twice the minimum
        (Engagement.UNKNOWN, SIX_OVER_30[1:], [], POLICY, False),
        # six, but the first and last only 29 days apart
        (Engagement.UNKNOWN, [days_ago(30 - 5.8 * i) for i in range(6)], [], POLICY, False),
        # exactly 30 days apart: the edge is inside
        (Engagement.UNKNOWN, [days_ago(31 - 6 * i) for i in range(5)] + [days_ago(1)], [], POLICY, True),
        # unsubscribed 20 days ago (and came back): only the three emails since count
        (Engagement.UNKNOWN, SIX_OVER_30, [days_ago(20)], POLICY, False),
        # a complaint before all of them changes nothing
        (Engagement.UNKNOWN, SIX_OVER_30, [days_ago(40)], POLICY, True),
        # engaged or disengaged readers are judged on their own signals
        (Engagement.ENGAGED, SIX_OVER_30, [], POLICY, False),
        (Engagement.DISENGAGED, SIX_OVER_30, [], POLICY, False),
        # the setting off
        (Engagement.UNKNOWN, SIX_OVER_30, [], OFF, False),
        # emails after `now` do not count
        (Engagement.UNKNOWN, SIX_OVER_30[:5] + [NOW + dt.timedelta(days=1)], [], POLICY, False),
    ],
)
def test_presumed_nurtured_by_hand(engagement, received, objections, policy, expected):  # type: ignore[no-untyped-def]
    assert presumed_nurtured(engagement, received, objections, NOW, policy) is expected


@pytest.mark.parametrize(
    ("current", "engagement", "value", "presumed", "expected"),
    [
        ("confirmed", Engagement.UNKNOWN, 0, True, "presumed"),
        ("engaged", Engagement.UNKNOWN, 1, True, "presumed"),
        ("nurtured", Engagement.UNKNOWN, 3, True, "nurtured"),  # human signals outrank a presumption
        ("confirmed", Engagement.UNKNOWN, 0, False, "confirmed"),
        ("paying", Engagement.UNKNOWN, 0, True, "paying"),  # billing's
        ("presumed", Engagement.ENGAGED, 1, False, "presumed"),  # a click does not take the offer away
        ("presumed", Engagement.ENGAGED, 3, False, "nurtured"),  # nurtured on human signals now
        ("presumed", Engagement.UNKNOWN, 0, False, "presumed"),
    ],
)
def test_next_stage_of_presumed_readers(current, engagement, value, presumed, expected):  # type: ignore[no-untyped-def]
    assert next_stage(current, engagement, value, None, NOW, POLICY, presumed=presumed) == expected


def test_a_presumed_reader_may_be_pitched():
    assert pitch_skip_reason(0, None, NOW, 3, 7) == NOT_NURTURED
    assert pitch_skip_reason(0, None, NOW, 3, 7, presumed=True) is None
    assert pitch_skip_reason(0, days_ago(2), NOW, 3, 7, presumed=True) == "pitch_cooldown"


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def apple_reader(session, email: str, sent_days: list[float]):  # type: ignore[no-untyped-def]
    """A reader whose every value email was 'opened' by Apple's proxy, and nothing else."""
    sub = make_subscriber(session, email)
    for n in sent_days:
        d = make_delivery(session, sub, day(n))
        make_event(session, sub, "open", day(n) + dt.timedelta(minutes=1), delivery=d, is_machine=True)
    return sub


def test_recompute_presumes_apple_mail_readers_and_says_why(session):
    hidden = apple_reader(session, "hidden@example.com", [100, 106, 112, 118, 124, 130])
    short = apple_reader(session, "short@example.com", [120, 122, 124, 126, 128, 130])  # 10 days
    few = apple_reader(session, "few@example.com", [100, 115, 130])
    objected = apple_reader(session, "objected@example.com", [100, 106, 112, 118, 124, 130])
    set_status(session, objected, "unsubscribed", day(110), reason="test")
    set_status(session, objected, "active", day(111), reason="test")

    now = day(131)
    assert recompute_stages(session, now, POLICY) == {"presumed": 1}
    assert (hidden.stage, short.stage, few.stage, objected.stage) == (
        "presumed",
        "confirmed",
        "confirmed",
        "confirmed",
    )
    [event] = session.scalars(
        select(SubscriberEvent).where(
            SubscriberEvent.subscriber_id == hidden.id, SubscriberEvent.field == "stage"
        )
    )
    assert (event.from_value, event.to_value, event.reason) == (
        "confirmed",
        "presumed",
        "presumed:machine_opens_only",
    )
    # Presumed readers pass the pitch gate; the others still wait for value engaged with.
    reasons = skip_reasons(session, "pitch", [hidden.id, short.id], now, 3, 7)
    assert reasons == {short.id: NOT_NURTURED}


def test_recompute_with_the_setting_off_presumes_nobody(session):
    hidden = apple_reader(session, "hidden@example.com", [100, 106, 112, 118, 124, 130])
    assert recompute_stages(session, day(131), OFF) == {}
    assert hidden.stage == "confirmed"
