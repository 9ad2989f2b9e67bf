"""growth.series: days cut in the publication's zone, hand-computed."""

from __future__ import annotations

import datetime as dt

from growth.series import daily_counts, last_days

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_last_days_end_today_in_the_zone() -> None:
    now = at("2026-03-10T23:30:00")  # already 11 March in Paris (UTC+1)
    assert last_days(now, 3, "UTC") == [dt.date(2026, 3, 8), dt.date(2026, 3, 9), dt.date(2026, 3, 10)]
    assert last_days(now, 2, "Europe/Paris") == [dt.date(2026, 3, 10), dt.date(2026, 3, 11)]


def test_counts_fall_on_their_local_day_and_outside_moments_are_left_out() -> None:
    now = at("2026-03-10T12:00:00")
    signups = [
        at("2026-03-08T10:00:00"),
        at("2026-03-09T23:30:00"),  # 10 March in Paris, 9 March in UTC
        at("2026-03-10T01:00:00"),
        at("2026-03-01T00:00:00"),  # before the window
    ]
    confirmations = [None, at("2026-03-10T11:00:00")]
    utc = daily_counts({"Signups": signups, "Confirmations": confirmations}, now, 3, "UTC")
    assert utc.labels == ["2026-03-08", "2026-03-09", "2026-03-10"]
    assert utc.columns == {"Signups": [1, 1, 1], "Confirmations": [0, 0, 1]}
    paris = daily_counts({"Signups": signups}, now, 3, "Europe/Paris")
    assert paris.columns == {"Signups": [1, 0, 2]}
    assert paris.rows() == [["2026-03-08", 1], ["2026-03-09", 0], ["2026-03-10", 2]]
    assert paris.chart("bar") == {
        "type": "bar",
        "labels": ["2026-03-08", "2026-03-09", "2026-03-10"],
        "series": [{"label": "Signups", "data": [1, 0, 2]}],
    }
