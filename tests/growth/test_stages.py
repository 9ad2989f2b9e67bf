"""Pure rules: classification, score, summary, next stage, sunset decision (no app, no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from growth.stages import (
    Engagement,
    Fact,
    Policy,
    classify,
    disengaged_since,
    next_stage,
    score,
    summarize,
    time_in_stages,
)
from growth.sunset import Action, NoticeState, sunset_action

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
POLICY = Policy(engaged_window_days=30, nurture_min_value=3, lapsed_after_days=90)


def days_ago(n: float) -> dt.datetime:
    return NOW - dt.timedelta(days=n)


@pytest.mark.parametrize(
    ("last_human", "last_machine", "expected"),
    [
        (days_ago(29), None, Engagement.ENGAGED),
        (days_ago(30), None, Engagement.ENGAGED),  # the window's edge is inside
        (days_ago(31), days_ago(2), Engagement.UNKNOWN),  # only machine opens lately
        (days_ago(31), days_ago(31), Engagement.DISENGAGED),
        (None, None, Engagement.DISENGAGED),
        (days_ago(1), days_ago(1), Engagement.ENGAGED),  # a human beats the machine
    ],
)
def test_classify(last_human, last_machine, expected):
    assert classify(last_human, last_machine, NOW, 30) == expected


def test_disengaged_since_is_quiet_since_plus_the_window():
    # Last engagement 100 days ago, joined 300 days ago: quiet since 100 days ago, so disengaged
    # since 100 - 30 = 70 days ago.
    assert disengaged_since(Engagement.DISENGAGED, days_ago(100), days_ago(300), 30) == days_ago(70)
    # Never engaged, joined 50 days ago: disengaged since 20 days ago.
    assert disengaged_since(Engagement.DISENGAGED, None, days_ago(50), 30) == days_ago(20)
    assert disengaged_since(Engagement.UNKNOWN, None, days_ago(50), 30) is None


def test_score_by_hand():
    # click today 3 * 1 = 3; open 30 days ago 1 * 0.5 = 0.5; web visit 60 days ago 2 * 0.25 = 0.5;
    # machine open and scanner click 0; an event in the future is ignored. Total 4.0.
    facts = [
        Fact("click", NOW),
        Fact("open", days_ago(30)),
        Fact("web_visit", days_ago(60)),
        Fact("open", days_ago(1), is_machine=True),
        Fact("click", days_ago(1), is_scanner=True),
        Fact("click", NOW + dt.timedelta(days=1)),
    ]
    assert score(facts, NOW) == 4.0
    assert score([], NOW) == 0.0


def test_summarize_counts_windows_and_flags():
    facts = [
        Fact("open", days_ago(1)),
        Fact("click", days_ago(2)),
        Fact("click", days_ago(2), is_scanner=True),
        Fact("web_visit", days_ago(40)),
        Fact("open", days_ago(95)),
        Fact("open", days_ago(3), is_machine=True),
        Fact("open", days_ago(100), is_machine=True),
    ]
    s = summarize(facts, NOW, joined_at=days_ago(365), window_days=30)
    assert s.engagement == Engagement.ENGAGED
    assert s.last_engagement_at == days_ago(1) and s.last_machine_open_at == days_ago(3)
    assert (s.engagements_30d, s.engagements_90d) == (2, 3)
    assert (s.opens_30d, s.clicks_30d, s.web_visits_30d) == (1, 1, 0)
    assert (s.machine_opens_90d, s.scanner_clicks_90d) == (1, 1)
    assert s.disengaged_since is None


def test_summarize_only_machine_opens_is_unknown_not_silent():
    s = summarize([Fact("open", days_ago(5), is_machine=True)], NOW, joined_at=days_ago(200))
    assert s.engagement == Engagement.UNKNOWN and s.score == 0 and s.disengaged_since is None


@pytest.mark.parametrize(
    ("current", "engagement", "value", "since", "expected"),
    [
        ("confirmed", Engagement.ENGAGED, 0, None, "engaged"),
        ("confirmed", Engagement.ENGAGED, 3, None, "nurtured"),
        ("engaged", Engagement.ENGAGED, 2, None, "engaged"),
        ("lapsed", Engagement.ENGAGED, 5, None, "nurtured"),  # came back
        ("nurtured", Engagement.DISENGAGED, 5, days_ago(89), "nurtured"),  # not yet 90 days
        ("nurtured", Engagement.DISENGAGED, 5, days_ago(90), "lapsed"),
        ("confirmed", Engagement.DISENGAGED, 0, days_ago(120), "lapsed"),
        ("engaged", Engagement.UNKNOWN, 0, None, "engaged"),  # machine opens: keep what we know
        ("confirmed", Engagement.UNKNOWN, 0, None, "confirmed"),
        ("paying", Engagement.DISENGAGED, 0, days_ago(400), "paying"),  # billing's
        ("churned", Engagement.ENGAGED, 9, None, "churned"),  # billing's
        ("signed_up", Engagement.ENGAGED, 9, None, "signed_up"),  # not confirmed yet
    ],
)
def test_next_stage(current, engagement, value, since, expected):
    assert next_stage(current, engagement, value, since, NOW, POLICY) == expected


@pytest.mark.parametrize(
    ("engagement", "since", "notice", "last_human", "expected"),
    [
        (Engagement.DISENGAGED, days_ago(179), None, None, None),
        (Engagement.DISENGAGED, days_ago(180), None, None, Action.NOTIFY),
        (Engagement.UNKNOWN, None, None, None, None),  # machine opens are not silence
        (Engagement.DISENGAGED, days_ago(200), NoticeState(days_ago(13)), None, None),  # grace
        (Engagement.DISENGAGED, days_ago(200), NoticeState(days_ago(14)), None, Action.INACTIVATE),
        (
            Engagement.DISENGAGED,
            days_ago(200),
            NoticeState(days_ago(20), kept_at=days_ago(19)),
            None,
            None,
        ),
        (
            Engagement.DISENGAGED,
            days_ago(200),
            NoticeState(days_ago(20), inactivated_at=days_ago(5)),
            None,
            None,
        ),
        (
            Engagement.DISENGAGED,
            days_ago(200),
            NoticeState(days_ago(20)),
            days_ago(19),
            None,
        ),  # answered
        (Engagement.UNKNOWN, None, NoticeState(days_ago(20)), None, None),  # machine opens since
    ],
)
def test_sunset_action(engagement, since, notice, last_human, expected):
    assert sunset_action(engagement, since, notice, last_human, NOW, 180, 14) == expected


def test_time_in_stages_by_hand():
    # confirmed for 10 days, engaged 5, nurtured 20, lapsed 15, engaged again up to now (10):
    # confirmed 10, engaged 5 + 10 = 15, nurtured 20, lapsed 15. A future row is ignored.
    transitions = [
        (days_ago(60), "confirmed"),
        (days_ago(50), "engaged"),
        (days_ago(45), "nurtured"),
        (days_ago(25), "lapsed"),
        (days_ago(10), "engaged"),
        (NOW + dt.timedelta(days=1), "churned"),
    ]
    spent = {k: v.days for k, v in time_in_stages(transitions, NOW).items()}
    assert spent == {"confirmed": 10, "engaged": 15, "nurtured": 20, "lapsed": 15}
    assert time_in_stages([], NOW) == {}
