"""The pure rules of sequences, against hand-worked cases."""

from __future__ import annotations

import datetime as dt

import pytest

from content import sequence_metrics as sm

MON_NOON = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)  # a Monday


def test_next_step_never_goes_back_and_takes_what_is_ahead():  # type: ignore[no-untyped-def]
    steps = [(10, 1), (11, 2), (12, 3)]
    assert sm.next_step(steps, []) == 10
    assert sm.next_step(steps, [10]) == 11
    assert sm.next_step(steps, [10, 11, 12]) is None
    # 13 inserted first: behind a reader who got 10 already.
    assert sm.next_step([(13, 1), (10, 2), (11, 3)], [10]) == 11
    # 11 moved after 12: a reader who got 10 and 12 still gets it, one past 11 does not get 12 twice.
    assert sm.next_step([(10, 1), (12, 2), (11, 3)], [10, 12]) == 11
    assert sm.next_step([(10, 1), (12, 2), (11, 3)], [10, 11]) is None


def test_windows_in_the_publication_time_zone():  # type: ignore[no-untyped-def]
    assert sm.next_window_start(MON_NOON, "UTC", None, None, None) == MON_NOON
    assert sm.next_window_start(MON_NOON, "UTC", [1], 9, 17) == MON_NOON
    assert sm.next_window_start(MON_NOON, "UTC", [2], 9, 11) == dt.datetime(2026, 6, 2, 9, tzinfo=dt.UTC)
    # 12:00 UTC is 14:00 in Paris (summer): a 9-to-12 Paris window opens Tuesday 07:00 UTC.
    assert sm.next_window_start(MON_NOON, "Europe/Paris", None, 9, 12) == dt.datetime(
        2026, 6, 2, 7, tzinfo=dt.UTC
    )
    # Across midnight: 22 to 6.
    assert sm.in_window(dt.datetime(2026, 6, 1, 23, tzinfo=dt.UTC), "UTC", None, 22, 6)
    assert not sm.in_window(MON_NOON, "UTC", None, 22, 6)


def test_days_in_the_publication_time_zone():  # type: ignore[no-untyped-def]
    late = dt.datetime(2026, 6, 1, 23, 30, tzinfo=dt.UTC)  # already Tuesday in Paris
    assert sm.local_day_start(late, "Europe/Paris") == dt.datetime(2026, 6, 1, 22, tzinfo=dt.UTC)
    assert sm.next_local_day_start(late, "Europe/Paris") == dt.datetime(2026, 6, 2, 22, tzinfo=dt.UTC)
    assert sm.next_local_day_start(late, "UTC") == dt.datetime(2026, 6, 2, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("days", "start", "end", "ok"),
    [
        (None, None, None, True),
        ([1, 7], 9, 17, True),
        ([0], None, None, False),
        ([], None, None, False),
        (None, 9, None, False),
        (None, 9, 9, False),
        (None, 22, 6, True),
        (None, 0, 25, False),
    ],
)
def test_window_validation(days, start, end, ok):  # type: ignore[no-untyped-def]
    assert (sm.validate_window(days, start, end) is None) is ok


def test_holdout_comparison_with_its_interval():  # type: ignore[no-untyped-def]
    c = sm.compare_rates(1000, 100, 100, 5)
    assert c.rate == 0.1 and c.holdout_rate == 0.05 and c.difference == pytest.approx(0.05)
    # se = sqrt(.1*.9/1000 + .05*.95/100) = sqrt(0.00009 + 0.000475) = 0.02377
    assert c.low == pytest.approx(0.05 - 1.96 * 0.023770, abs=1e-5)
    assert c.high == pytest.approx(0.05 + 1.96 * 0.023770, abs=1e-5)
    empty = sm.compare_rates(10, 1, 0, 0)
    assert empty.holdout_rate is None and empty.difference is None and empty.low is None


def test_holdout_draw_and_reach_within():  # type: ignore[no-untyped-def]
    assert sm.is_held_out(0.049, 5) and not sm.is_held_out(0.05, 5) and not sm.is_held_out(0.0, 0)
    t = MON_NOON
    claims = [(1, t), (2, t), (3, t)]
    moments = {1: [t + dt.timedelta(days=29)], 2: [t + dt.timedelta(days=31)], 3: [t - dt.timedelta(days=1)]}
    assert sm.reached_within(claims, moments, 30) == 1
