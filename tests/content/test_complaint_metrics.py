"""The complaint guard's thresholds and minimum counts on hand-built counts (pure)."""

from __future__ import annotations

import pytest

from content.complaint_metrics import (
    Counts,
    Level,
    judge_complaints,
    judge_hard_bounces,
    reports_complaints,
    unreported_domains,
)


@pytest.mark.parametrize(
    ("counted", "complaints", "level", "too_few"),
    [
        (10_000, 9, Level.OK, False),  # 0.09%
        (10_000, 10, Level.WARN, False),  # 0.1%: the warning's edge is inside
        (10_000, 29, Level.WARN, False),  # 0.29%
        (10_000, 30, Level.PAUSE, False),  # 0.3% with 30 complaints and 10,000 deliveries
        (1_000, 5, Level.PAUSE, False),  # 0.5%, exactly the minimum counts
        (999, 5, Level.WARN, True),  # 0.5%, one delivery short of judging
        (1_000, 4, Level.WARN, True),  # 0.4%, one complaint short
        (300, 1, Level.WARN, True),  # 0.33% from a single complaint
        (500, 1, Level.WARN, True),  # 0.2%, below the pause rate and the counts
        (0, 0, Level.OK, False),  # nothing sent: no rate
    ],
)
def test_complaint_thresholds_and_minimum_counts(counted, complaints, level, too_few):  # type: ignore[no-untyped-def]
    verdict = judge_complaints(Counts(sent=counted + 500, counted=counted, complaints=complaints))
    assert (verdict.level, verdict.too_few) == (level, too_few)
    assert verdict.rate == (complaints / counted if counted else None)


def test_the_rate_is_over_reporting_providers_only():
    # 2,000 sent, 1,500 of them to Gmail: 3 complaints over the other 500 is 0.6%, too few to judge.
    verdict = judge_complaints(Counts(sent=2_000, counted=500, complaints=3))
    assert verdict.rate == pytest.approx(0.006)
    assert verdict.sentence == "complaint rate 0.60% (3 of 500): too few to judge"
    paused = judge_complaints(Counts(sent=5_000, counted=1_200, complaints=5))
    assert paused.sentence == "complaint rate 0.42% (5 of 1,200): paused until an operator confirms"


@pytest.mark.parametrize(
    ("sent", "hard", "level"),
    [(1_000, 20, Level.OK), (1_000, 21, Level.WARN), (50, 2, Level.WARN), (0, 0, Level.OK)],
)
def test_hard_bounce_warning_over_two_percent(sent, hard, level):  # type: ignore[no-untyped-def]
    verdict = judge_hard_bounces(Counts(sent=sent, counted=0, complaints=0, hard_bounces=hard))
    assert verdict.level == level and not verdict.too_few


def test_gmail_and_google_hosted_domains_do_not_report():
    unreported = unreported_domains([" Example-Workspace.com ", ""])
    assert not reports_complaints("a@gmail.com", unreported)
    assert not reports_complaints("a@GoogleMail.com", unreported)
    assert not reports_complaints("a@example-workspace.com", unreported)
    assert reports_complaints("a@yahoo.com", unreported)
    assert reports_complaints("a@outlook.com", unreported)
