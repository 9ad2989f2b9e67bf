"""The funnel, cohort and growth metrics on a hand-built history (tests/growth/report_history.py)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from growth import report_figures as figures
from growth import report_metrics as rm
from tests.growth.report_history import NOW, READERS, t


def all_facts() -> dict[str, rm.Facts]:
    return {
        name: rm.subscriber_facts(subscriber_id=i + 1, now=NOW, **reader)
        for i, (name, reader) in enumerate(READERS.items())
    }


def summed() -> Counter[rm.Key]:
    cells: Counter[rm.Key] = Counter()
    for f in all_facts().values():
        cells.update(rm.contributions(f))
    return cells


def funnel_of(cells: Counter[rm.Key]) -> dict:
    funnel = [(k, n) for k, n in cells.items() if k[0] == "f:d"]
    overall = [(k[6], k[7], n) for k, n in funnel]
    groups = {
        "source": [(k[3], k[6], k[7], n) for k, n in funnel],
        "campaign": [
            (k[4], k[6], k[7], n)
            for k, n in cells.items()
            if k[0] == "fc:m" and k[2:4] == (rm.ANY_NEWSLETTER, rm.ANY_SOURCE)
        ],
    }
    return figures.funnel(overall, groups)


def test_campaign_and_post_cells_are_also_summed_over_any_newsletter_and_source():
    extra = rm.subscriber_facts(subscriber_id=99, now=NOW, signed_up_at=NOW, post="p", campaign="c")
    cells = summed() + rm.contributions(extra)
    for kind in ("fc:d", "fc:m", "fp:d", "fp:m"):
        split: Counter = Counter()
        by_scope: dict[tuple[int, str], Counter] = {}
        for k, n in cells.items():
            if k[0] != kind:
                continue
            nl, src = k[2], k[3]
            rest = (k[1], *k[4:])
            by_scope.setdefault((nl, src), Counter())[rest] += n
            if nl != rm.ANY_NEWSLETTER and src != rm.ANY_SOURCE:
                split[rest] += n
        everything = by_scope[(rm.ANY_NEWSLETTER, rm.ANY_SOURCE)]
        assert everything == split and sum(everything.values()) > 0
        for (nl, src), sums in by_scope.items():
            if nl == rm.ANY_NEWSLETTER and src != rm.ANY_SOURCE:  # one source, any newsletter
                assert sums == sum(
                    (c for (n2, s2), c in by_scope.items() if s2 == src and n2 != rm.ANY_NEWSLETTER),
                    Counter(),
                )


def steps(block: dict) -> dict[str, dict]:
    return {s["step"]: s for s in block["steps"]}


def test_the_funnel_counts_converts_and_times_each_milestone():
    report = funnel_of(summed())
    s = steps(report)
    assert report["signups"] == 5
    # confirmed: A B C E, after 0, 2, 1, 0 days; D still pending
    assert s["confirmed"] == {
        "step": "confirmed",
        "count": 4,
        "conversion": 0.8,
        "median_days": 0.5,
        "waiting": 1,
        "share_waiting": 0.2,
    }
    # engaged: A (3 days), B (7), C (10); E left before engaging, so nobody waits
    assert s["engaged"]["count"] == 3 and s["engaged"]["conversion"] == 0.75
    assert s["engaged"]["median_days"] == 7 and s["engaged"]["waiting"] == 0
    # nurtured: A (10), C (20); B still waits
    assert s["nurtured"]["count"] == 2 and s["nurtured"]["conversion"] == pytest.approx(2 / 3)
    assert s["nurtured"]["median_days"] == 15 and s["nurtured"]["share_waiting"] == pytest.approx(1 / 3)
    # paid: A (20 days), C (30)
    assert (s["paid"]["count"], s["paid"]["conversion"], s["paid"]["median_days"]) == (2, 1.0, 25)
    assert s["signed_up"]["conversion"] is None and s["signed_up"]["median_days"] == 0
    # 90 days after paying: A still pays (04-30), C stopped on 04-10
    assert report["paying_90"] == {"eligible": 2, "count": 1, "conversion": 0.5}


def test_the_funnel_by_source_and_campaign():
    report = funnel_of(summed())
    by_source = report["breakdowns"]["source"]
    assert [(b["value"], b["signups"]) for b in by_source] == [("podcast", 3), ("direct", 1), ("referral", 1)]
    podcast = steps(by_source[0])
    assert podcast["confirmed"]["count"] == 3 and podcast["confirmed"]["median_days"] == 0
    assert podcast["paid"]["count"] == 2
    assert [(b["value"], b["signups"]) for b in report["breakdowns"]["campaign"]] == [("spring", 1)]


def test_a_cohort_that_is_too_young_tells_nothing_at_90_days():
    f = rm.subscriber_facts(
        subscriber_id=1, signed_up_at=t(6, 1), now=NOW, paid_intervals=[(t(6, 2), None)], status="active"
    )
    assert f.paid_at == t(6, 2) and f.paying_90 is None
    assert funnel_of(rm.contributions(f))["paying_90"] == {"eligible": 0, "count": 0, "conversion": None}


def test_cohorts_by_months_since_signup():
    cells = [(k[1], k[6], k[7], k[8], n) for k, n in summed().items() if k[0] == "cohort"]
    cohorts = {c["cohort"]: c for c in figures.cohorts(cells, NOW)}
    assert list(cohorts) == ["2026-01", "2026-02", "2026-03"]
    jan = cohorts["2026-01"]
    assert jan["signups"] == 2 and len(jan["months"]) == 6  # January to June
    m0, m1, m2 = jan["months"][:3]
    assert (m0["active_engaged"], m0["active_engaged_share"]) == (2, 1.0)  # A and B
    assert (m1["active_engaged"], m1["active_engaged_share"]) == (1, 0.5)  # A in February
    assert m2["active_engaged"] == 0
    assert [m["paying"] for m in jan["months"]] == [1, 1, 1, 1, 1, 1]  # A, from January 30 on
    assert m0["revenue"] == [{"currency": "usd", "revenue_cents": 500, "revenue_per_subscriber_cents": 250.0}]
    assert m1["revenue"][0]["revenue_cents"] == 500 and m2["revenue"] == []
    assert m0["starts"] == "2026-01-01" and m0["complete"] is True and jan["months"][-1]["complete"] is False
    feb = cohorts["2026-02"]
    assert feb["signups"] == 2 and [m["paying"] for m in feb["months"]] == [
        0,
        1,
        1,
        0,
        0,
    ]  # C in March and April
    assert feb["months"][0]["active_engaged_share"] == 0.5
    assert feb["months"][1]["revenue"][0]["revenue_per_subscriber_cents"] == 500.0
    assert cohorts["2026-03"]["months"][0]["active_engaged"] == 0  # E never read


def test_engagement_after_leaving_does_not_count_as_active():
    f = rm.subscriber_facts(
        subscriber_id=1,
        signed_up_at=t(1, 1),
        now=NOW,
        status="unsubscribed",
        confirmed_at=t(1, 1),
        left_at=t(2, 10),
        human_at=[t(1, 5), t(2, 3)],
    )
    cells = [(k[1], k[6], k[7], k[8], n) for k, n in rm.contributions(f).items() if k[0] == "cohort"]
    months = figures.cohorts(cells, NOW)[0]["months"]
    assert [m["active_engaged"] for m in months[:2]] == [1, 0]  # gone before February ended


def test_daily_growth():
    cells = [(k[1], k[6], n) for k, n in summed().items() if k[0] == "growth"]
    days = {d["date"]: d for d in figures.growth_days(cells, dt.date(2026, 1, 10), dt.date(2026, 3, 5))}
    assert len(days) == 55 and list(days)[0] == "2026-01-10" and list(days)[-1] == "2026-03-05"
    assert days["2026-01-10"] == {
        "date": "2026-01-10",
        "signups": 1,
        "confirmations": 1,
        "unsubscribes": 0,
        "net_growth": 1,
    }
    assert (days["2026-01-20"]["signups"], days["2026-01-20"]["confirmations"]) == (1, 0)
    assert days["2026-01-22"]["net_growth"] == 1
    assert days["2026-03-05"]["unsubscribes"] == 1 and days["2026-03-05"]["net_growth"] == -1
    assert days["2026-01-11"]["signups"] == 0
    assert sum(d["signups"] for d in days.values()) == 5


def test_revenue_per_reachable_reader():
    facts = all_facts()
    reachable = sum(figures.is_reachable(f, NOW, 30) for f in facts.values())
    assert reachable == 2  # A pays; B has a machine open in the window ("unknown")
    assert figures.revenue_per_reachable_reader({"usd": 500, "eur": 90}, reachable) == [
        {
            "currency": "eur",
            "mrr_cents": 90,
            "reachable_readers": 2,
            "revenue_per_reachable_reader_cents": 45.0,
        },
        {
            "currency": "usd",
            "mrr_cents": 500,
            "reachable_readers": 2,
            "revenue_per_reachable_reader_cents": 250.0,
        },
    ]
    assert (
        figures.revenue_per_reachable_reader({"usd": 500}, 0)[0]["revenue_per_reachable_reader_cents"] is None
    )


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(0, 0), (31, 31), (32, 32), (38, 32), (39, 39), (90, 88), (91, 91), (120, 91), (121, 121)],
)
def test_days_past_a_month_are_counted_in_blocks(days, bucket):
    assert rm.day_bucket(days) == bucket


@pytest.mark.parametrize(
    ("histogram", "median"),
    [({}, None), ({3: 1}, 3), ({0: 2, 1: 1, 2: 1}, 0.5), ({1: 1, 5: 2}, 5), ({2: 1, 4: 1}, 3)],
)
def test_median_from_histogram(histogram, median):
    assert figures.median_from_histogram(histogram) == median


def test_delta_takes_the_old_cells_out():
    old = rm.subscriber_facts(subscriber_id=1, signed_up_at=t(1, 1), now=NOW, status="pending")
    new = rm.subscriber_facts(
        subscriber_id=1, signed_up_at=t(1, 1), now=NOW, status="active", confirmed_at=t(1, 3)
    )
    change = rm.delta(old, new)
    waiting = ("f:d", dt.date(2026, 1, 1), 0, "direct", "", "", "waiting_confirmed", 0, "")
    confirmed = ("f:m", dt.date(2026, 1, 1), 0, "direct", "", "", "confirmed", 2, "")
    assert change[waiting] == -1 and change[confirmed] == 1
    assert rm.delta(new, new) == Counter()
    assert rm.contributions(old) + change == rm.contributions(new)


def test_acquisition_source():
    assert rm.acquisition_source(True, "podcast", None) == "referral"
    assert rm.acquisition_source(False, None, "newsletter-swap") == "newsletter-swap"
    assert rm.acquisition_source(False, " ", None) == "direct"


def test_presumed_nurtured_readers_are_counted_apart_from_the_nurtured():
    # P: presumed nurtured (Apple Mail), never nurtured on human signals: counted apart.
    # Q: presumed, then nurtured on human signals later: a nurtured reader, not counted twice.
    joined = NOW - dt.timedelta(days=90)
    common = {"signed_up_at": joined, "status": "active", "confirmed_at": joined}
    presumed = rm.subscriber_facts(
        subscriber_id=1, now=NOW, presumed_at=joined + dt.timedelta(days=40), **common
    )
    both = rm.subscriber_facts(
        subscriber_id=2,
        now=NOW,
        presumed_at=joined + dt.timedelta(days=40),
        nurtured_at=joined + dt.timedelta(days=60),
        human_at=[joined + dt.timedelta(days=59)],
        **common,
    )
    cells: Counter[rm.Key] = Counter()
    for f in (presumed, both):
        cells.update(rm.contributions(f))
    report = funnel_of(cells)
    assert report["presumed_nurtured"] == 1
    assert steps(report)["nurtured"]["count"] == 1
    assert funnel_of(summed())["presumed_nurtured"] == 0  # nobody in the shared history is presumed
