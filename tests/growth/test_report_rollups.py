"""The rollups: the hand-computed figures from stored rows, refresh = rebuild in any event order."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from growth import report_service, rollup_series, rollups
from growth.report_service import Filters
from growth.rollup_models import ReportDirty, ReportFacts
from tests.growth.report_history import NOW
from tests.growth.report_rows import add_readers, arriving_events, cells


def steps(block):  # type: ignore[no-untyped-def]
    return {s["step"]: s for s in block["steps"]}


def stored_history(session):  # type: ignore[no-untyped-def]
    people = add_readers(session)
    for _, insert in arriving_events(people):
        insert(session)
    return people


def test_the_rebuilt_rollup_gives_the_hand_computed_funnel(session):
    stored_history(session)
    assert rollups.rebuild(session, NOW)["subscribers"] == 5
    report = report_service.funnel_report(session, Filters())
    s = steps(report)
    assert [s[k]["count"] for k in ("signed_up", "confirmed", "engaged", "nurtured", "paid")] == [
        5,
        4,
        3,
        2,
        2,
    ]
    assert (s["confirmed"]["median_days"], s["engaged"]["median_days"], s["paid"]["median_days"]) == (
        0.5,
        7,
        25,
    )
    assert s["nurtured"]["waiting"] == 1 and s["confirmed"]["waiting"] == 1
    assert report["paying_90"] == {"eligible": 2, "count": 1, "conversion": 0.5}
    b = report["breakdowns"]
    assert [(x["value"], x["signups"]) for x in b["source"]] == [
        ("podcast", 3),
        ("direct", 1),
        ("referral", 1),
    ]
    assert [(x["value"], x["signups"]) for x in b["newsletter"]] == [("main", 4), ("weekly", 1)]
    assert [(x["value"], x["signups"]) for x in b["campaign"]] == [("spring", 1)]
    assert [(x["value"], x["signups"]) for x in b["post"]] == [("hello-world", 1)]


def test_filters_narrow_the_window_newsletter_and_source(session):
    stored_history(session)
    rollups.rebuild(session, NOW)
    feb = report_service.funnel_report(
        session, Filters(start=NOW.date().replace(month=2, day=1), end=NOW.date().replace(month=2, day=28))
    )
    assert feb["signups"] == 2 and steps(feb)["confirmed"]["count"] == 1  # C; D never confirmed
    podcast = report_service.funnel_report(session, Filters(source="podcast"))
    assert podcast["signups"] == 3 and [x["value"] for x in podcast["breakdowns"]["source"]] == ["podcast"]
    weekly_id = report_service.newsletter_slugs(session)
    weekly = next(i for i, slug in weekly_id.items() if slug == "weekly")
    assert report_service.funnel_report(session, Filters(newsletter_id=weekly))["signups"] == 1


def test_cohorts_growth_and_reachable_readers_from_the_rollup(session):
    stored_history(session)
    rollups.rebuild(session, NOW)
    cohorts = {c["cohort"]: c for c in report_service.cohort_report(session, Filters(), NOW)["cohorts"]}
    assert [m["paying"] for m in cohorts["2026-01"]["months"]] == [1, 1, 1, 1, 1, 1]
    assert cohorts["2026-02"]["months"][1]["revenue"][0]["revenue_cents"] == 1000
    growth = report_service.growth_report(session, Filters(), NOW, 30)
    assert growth["days"][0]["date"] == "2026-01-10" and growth["days"][-1]["date"] == "2026-06-15"
    assert sum(d["net_growth"] for d in growth["days"]) == 4 - 1
    assert report_service.reachable_readers(session, NOW, 30) == 2
    per = growth["revenue_per_reachable_reader"]["currencies"]
    assert per == [
        {
            "currency": "usd",
            "mrr_cents": 500,
            "reachable_readers": 2,
            "revenue_per_reachable_reader_cents": 250.0,
        }
    ]
    months = growth["mrr_movements"][0]["months"]
    assert [(m["month"], m["new_cents"], m["churned_cents"]) for m in months[:4]] == [
        ("2026-01", 500, 0),
        ("2026-02", 0, 0),
        ("2026-03", 1000, 0),
        ("2026-04", 0, 1000),
    ]


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(order=st.randoms(use_true_random=False), twice=st.lists(st.booleans(), min_size=20, max_size=20))
def test_refreshing_after_each_event_in_any_order_equals_a_rebuild(session, order, twice):
    nested = session.begin_nested()
    try:
        people = add_readers(session)
        rollups.refresh(session, [p.id for p in people.values()], NOW)
        events = arriving_events(people)
        order.shuffle(events)
        for i, (name, insert) in enumerate(events):
            insert(session)
            rollups.refresh(session, [people[name].id], NOW)
            if twice[i % len(twice)]:  # the same event applied again changes nothing
                before = cells(session)
                rollups.refresh(session, [people[name].id], NOW)
                assert cells(session) == before
        incremental = cells(session)
        rollups.rebuild(session, NOW)
        assert cells(session) == incremental
    finally:
        nested.rollback()


def test_signals_mark_and_the_tick_refreshes(client, session, outbox):
    from tests.growth.helpers import signup_and_confirm

    assert signup_and_confirm(client, outbox, "zoe@example.com").status_code == 200
    session.expire_all()
    from growth.models import Subscriber

    zoe = session.scalar(select(Subscriber.id).where(Subscriber.email_normalized == "zoe@example.com"))
    assert zoe in session.scalars(select(ReportDirty.subscriber_id)).all()  # (other tests' rows may wait too)
    assert rollups.rollup_work(session, NOW.replace(year=2030))["refreshed"] >= 1
    assert session.scalar(select(func.count()).select_from(ReportDirty)) == 0
    facts = session.get(ReportFacts, zoe)
    assert facts is not None and facts.confirmed_at is not None and facts.status == "active"


def test_a_mark_made_during_a_refresh_survives_it(session):
    people = add_readers(session)
    rollups.mark_dirty(session, [people["A"].id, people["B"].id])
    marks = rollups.take_marks(session)
    rollups.mark_dirty(session, [people["A"].id])  # another event for A meanwhile
    rollups.refresh(session, [sid for sid, _ in marks], NOW)
    rollups.clear_marks(session, marks)
    assert session.execute(select(ReportDirty.subscriber_id, ReportDirty.version)).all() == [
        (people["A"].id, 2)
    ]


def test_month_cells_and_day_cells_tell_the_same_window(session):
    import datetime as dt

    from growth import report_figures as figures
    from growth.rollup_models import ReportCell

    stored_history(session)
    rollups.rebuild(session, NOW)
    d = dt.date
    windows = [
        (None, None),
        (d(2026, 1, 15), d(2026, 3, 3)),
        (d(2026, 1, 1), d(2026, 1, 31)),
        (d(2026, 2, 10), d(2026, 2, 10)),
        (None, d(2026, 2, 15)),
        (d(2026, 2, 1), None),
        (d(2026, 1, 20), d(2026, 2, 5)),
        (d(2026, 1, 1), d(2026, 2, 28)),
    ]
    for start, end in windows:
        f = Filters(start, end)
        cells = report_service._summed(
            session, report_service._days("f:d", f), ReportCell.metric, ReportCell.bucket
        )
        by_days = figures.funnel_block([(m, b, int(n)) for m, b, n in cells])
        report = report_service.funnel_report(session, f)
        assert {k: report[k] for k in by_days} == by_days, (start, end)
    assert report_service.funnel_report(session, Filters(d(2026, 1, 15), d(2026, 3, 3)))["signups"] == 4


def test_erasure_leaves_every_total_as_it_was(session):
    from growth import subscribers

    people = stored_history(session)
    rollups.rebuild(session, NOW)
    before = cells(session)
    subscribers.erase(session, people["C"], NOW)  # landed on a post, paid: all of it stays
    rollups.refresh(session, [people["C"].id], NOW)
    assert cells(session) == before
    rollups.rebuild(session, NOW)
    assert cells(session) == before


def test_the_tick_computes_billing_series_ahead_and_reports_read_them(session):
    stored_history(session)
    rollups.rebuild(session, NOW)
    live = report_service.growth_report(session, Filters(), NOW, 30)
    rollup_series.cache_billing_series(session, NOW, 30)
    cached = report_service.growth_report(session, Filters(), NOW.replace(day=16), 30)
    assert cached["mrr_movements"] == live["mrr_movements"]
    assert cached["revenue_per_reachable_reader"] == live["revenue_per_reachable_reader"]  # taken at NOW
    # The count is the tick's too: facts changed since wait for its next run; another window is live.
    session.execute(update(ReportFacts).values(status="unsubscribed"))
    again = report_service.revenue_per_reachable_reader(session, NOW.replace(day=16), 30)
    assert again == live["revenue_per_reachable_reader"]
    other = report_service.revenue_per_reachable_reader(session, NOW.replace(day=16), 45)
    assert other["at"] == again["at"] and other["currencies"][0]["reachable_readers"] == 0
    rollup_series.cache_billing_series(session, NOW, 30)
    emptied = report_service.revenue_per_reachable_reader(session, NOW.replace(day=16), 30)
    assert emptied["currencies"][0]["reachable_readers"] == 0
    narrow = report_service.growth_report(session, Filters(NOW.date().replace(month=3, day=10)), NOW, 30)
    assert [m["month"] for m in narrow["mrr_movements"][0]["months"]] == [
        "2026-03",
        "2026-04",
        "2026-05",
        "2026-06",
    ]


def test_the_any_scope_and_all_time_migrations_sum_the_cells_a_rebuild_would_write(tmp_path):
    """q101 adds the campaign and post cells over any newsletter/source to an existing rollup, q103
    the all-time cells: what a rebuild would write."""
    import datetime as dt
    from collections import Counter

    from sqlalchemy import create_engine, text

    from growth import report_metrics as rm
    from growth.cli import upgrade_database

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade_database(url, "o1a1")
    at = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    readers = [
        rm.subscriber_facts(
            subscriber_id=i,
            signed_up_at=at + dt.timedelta(days=i % 40),
            now=NOW,
            newsletter_id=1 + i % 2,
            source=("podcast", "search", "referral")[i % 3],
            campaign=("", "spring", "autumn")[i % 3 if i % 4 else 0],
            post=("", "p1", "p2", "p3")[i % 4],
            confirmed_at=at + dt.timedelta(days=i % 40, hours=i),
            human_at=[at + dt.timedelta(days=i % 40 + i % 9)],
        )
        for i in range(1, 60)
    ]
    wanted: Counter = Counter()
    for f in readers:
        wanted.update(rm.contributions(f))
    old = {  # the cells before q101 (any newsletter/source) and q103 (all time)
        k: n
        for k, n in wanted.items()
        if k[2] != rm.ANY_NEWSLETTER and k[3] != rm.ANY_SOURCE and not k[0].endswith(":a")
    }
    assert len(old) < len(wanted)
    columns = (*rollups.KEY_COLUMNS, "n")
    insert = f"INSERT INTO report_cells ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(insert),
            [dict(zip(columns, (k[0], k[1].isoformat(), *k[2:], n), strict=True)) for k, n in old.items()],
        )
    upgrade_database(url, "q103")
    with engine.connect() as conn:
        got = {
            (kind, dt.date.fromisoformat(day), nl, src, c, p, m, b, cur): n
            for kind, day, nl, src, c, p, m, b, cur, n in conn.execute(
                text(f"SELECT {', '.join(rollups.KEY_COLUMNS)}, n FROM report_cells")
            )
        }
    engine.dispose()
    assert got == dict(wanted)


def test_the_all_time_cells_give_the_funnel_of_a_window_spanning_everything(session):
    """No from/to reads the all-time (":a") cells; a window reads months and days: the same sums."""
    import datetime as dt

    stored_history(session)
    rollups.rebuild(session, NOW)
    for f in (Filters(), Filters(source="podcast")):
        all_time = report_service.funnel_report(session, f)
        wide = Filters(dt.date(2000, 1, 1), dt.date(2100, 1, 1), f.newsletter_id, f.source)
        spanning = report_service.funnel_report(session, wide)
        assert all_time["signups"] > 0 and all_time["breakdowns"]["campaign"]
        assert {k: v for k, v in all_time.items() if k not in ("from", "to")} == {
            k: v for k, v in spanning.items() if k not in ("from", "to")
        }
