"""The 14-day rule and each partner's numbers, by hand (no app, no database)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from growth.partner_metrics import InboundSignup, OutboundTick, partner_rows, signup_state

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("confirmed", "engaged", "now", "state"),
    [
        (T0 + DAY, T0 + 3 * DAY, T0 + 5 * DAY, "verified"),  # confirmed, engaged on day 3
        (T0 + DAY, T0 + 14 * DAY, T0 + 20 * DAY, "verified"),  # engaged on the deadline itself
        (T0 + DAY, T0 + 14 * DAY + dt.timedelta(seconds=1), T0 + 20 * DAY, "rejected"),  # a second late
        (T0 + DAY, None, T0 + 13 * DAY, "pending"),  # confirmed, not engaged yet, still in time
        (T0 + DAY, None, T0 + 15 * DAY, "rejected"),  # never engaged as a person
        (None, T0 + 2 * DAY, T0 + 10 * DAY, "pending"),  # (engaged, not confirmed): waits
        (None, None, T0 + 15 * DAY, "rejected"),  # never confirmed
        (T0 + 15 * DAY, T0 + 16 * DAY, T0 + 20 * DAY, "rejected"),  # confirmed after the deadline
        (T0 + DAY, T0 - DAY, T0 + 20 * DAY, "rejected"),  # an engagement before signing up is not one
    ],
)
def test_fourteen_day_rule(confirmed, engaged, now, state):  # type: ignore[no-untyped-def]
    assert signup_state(T0, confirmed, engaged, now) == state


def test_partner_rows_by_hand():  # type: ignore[no-untyped-def]
    paid = SimpleNamespace(
        id=1, code="daily", name="The Daily", price_per_subscriber_cents=250, currency="usd"
    )
    free = SimpleNamespace(
        id=2, code="weekly", name="The Weekly", price_per_subscriber_cents=None, currency="eur"
    )
    now = T0 + 20 * DAY
    inbound = [
        InboundSignup(1, T0, T0 + DAY, T0 + 2 * DAY),  # verified
        InboundSignup(1, T0, T0 + DAY, T0 + 3 * DAY),  # verified
        InboundSignup(1, T0, None, None),  # rejected (20 days on)
        InboundSignup(1, now - 2 * DAY, now - DAY, None),  # pending: two days old
        InboundSignup(2, T0, T0 + DAY, T0 + 2 * DAY),  # verified, but no price
    ]
    outbound = [
        OutboundTick(2, "api", "subscribed"),
        OutboundTick(2, "api", "failed"),
        OutboundTick(1, "page", "opened"),
    ]
    daily, weekly = partner_rows([paid, free], inbound, outbound, now)
    assert daily == {
        "partner_id": 1,
        "code": "daily",
        "name": "The Daily",
        "signups": 4,
        "pending": 1,
        "verified": 2,
        "rejected": 1,
        "price_per_subscriber_cents": 250,
        "currency": "usd",
        "billable_cents": 500,  # 2 verified x 250
        "clicks": 1,
        "subscriptions": 0,
    }
    assert (weekly["signups"], weekly["verified"], weekly["billable_cents"]) == (1, 1, None)
    assert (weekly["clicks"], weekly["subscriptions"]) == (2, 1)


def test_no_partners_no_rows():  # type: ignore[no-untyped-def]
    assert partner_rows([], [], [], T0) == []
