"""The desk's headline: the pure split of the list, and every figure on the hand-built history.

The history is tests/growth/report_history.py's five readers, seen on 2026-03-15 (so what comes
later, B's machine open of 06-01 and C's cancellation of 04-10, has not happened), with one more
event: a machine open for B on 03-10. Worked out by hand (period 30 days, window 30 days):

this period: instants (02-13, 03-15], days 02-14..03-15; the previous: (01-14, 02-13], days 01-15..02-13.
- confirmations on the days: E (03-01) = 1; before: B (01-22), C (02-02) = 2.
- confirmation rate of the period's signups: E 1/1; before: B, C, D signed up, B and C confirmed: 2/3.
- the list on 03-15: A, B, C (E left 03-05). Human engagements since 02-13: none; a machine open:
  B. So engaged 0, unknown 1, disengaged 2. On 02-13: A, B, C, all seen reading since 01-14
  (A 02-05, B 01-27, C 02-11): engaged 3.
- nurtured: C on 02-21 this period, A on 01-20 the previous.
- paying: A and C on 03-15 (C from 03-03), A alone on 02-13. MRR 1500 usd, before 500.
- reachable: 03-15 A (paying), B (unknown), C (paying) = 3, so 1500 / 3 = 500 cents a reader;
  02-13 all three engaged, 500 / 3.
- K: the January cohort (A, B; mature since 02-01 + 30 days) made one referral (A -> B, 11.5
  days after A) in its horizon: 0.5; no mature cohort before it. February's is not mature.
- cycle time: no referred reader confirmed this period (None); the previous: B, 11.5 days.
- referred share: E alone this period, not referred: 0.0; before: B (referred) and C: 0.5.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from sqlalchemy import delete

from billing.models import SubscriptionSnapshot
from growth import auth, headline, panels, rollups
from growth.headline_metrics import Audience, audience_at, change, format_change, format_value
from growth.models import EmailEvent
from growth.rollup_models import ReportFacts
from referrals import tree
from tests.growth.helpers import login_as
from tests.growth.report_history import t
from tests.growth.report_rows import add_readers, arriving_events

NOW = t(3, 15)


def test_the_list_splits_into_engaged_unknown_and_disengaged_adding_up_to_it():
    at = t(3, 15)
    readers = {
        1: (t(1, 1), None),  # human click 03-10: engaged
        2: (t(1, 1), None),  # machine open 03-01 only: unknown
        3: (t(1, 1), None),  # human 01-20 (outside the window), nothing since: disengaged
        4: (t(1, 1), None),  # disengaged but paying: reachable
        5: (t(1, 1), t(3, 1)),  # gone before `at`: not on the list
        6: (t(3, 16), None),  # confirmed after `at`: not yet
        7: (None, None),  # never confirmed
        8: (t(2, 1), t(3, 20)),  # leaves after `at`: still on it, machine open 02-13 (in the window)
    }
    human = {1: t(3, 10), 3: t(1, 20)}
    machine = {2: t(3, 1), 8: t(2, 13)}
    result = audience_at(readers, human, machine, {4, 5}, at, 30)
    assert result == Audience(on_list=5, engaged=1, unknown=2, disengaged=2, reachable=4)
    assert result.engaged + result.unknown + result.disengaged == result.on_list


def test_changes_and_their_words():
    assert change(5, 3) == 2 and change(None, 3) is None and change(2, None) is None
    assert format_value(0.6667, "share") == "66.7%" and format_value(150050, "cents", "usd") == "1,500.50 USD"
    assert format_change(0.02, "share") == "+2.0 pts" and format_change(-3, "count") == "−3"
    assert format_change(0, "count") == "±0" and format_change(None, "count") == "no earlier figure"


@pytest.fixture
def seen_on_march_15(session):  # type: ignore[no-untyped-def]
    people = add_readers(session)
    for _, insert in arriving_events(people):
        insert(session)
    session.add(
        EmailEvent(
            event_id="m-b-0310", type="open", subscriber_id=people["B"].id, at=t(3, 10), is_machine=True
        )
    )
    tree.attach(session, people["B"].id, people["A"].id)
    session.execute(delete(EmailEvent).where(EmailEvent.at > NOW))
    session.execute(delete(SubscriptionSnapshot).where(SubscriptionSnapshot.at > NOW))
    rollups.rebuild(session, NOW)
    session.commit()
    return people


def test_every_headline_figure_on_the_hand_built_history(app, session, seen_on_march_15):
    with app.test_request_context():
        figures = {f.key: f for f in headline.headline(session, NOW, 30)}
    pairs = {key: (f.value, f.previous) for key, f in figures.items()}
    assert pairs["confirmed_signups"] == (1, 2)
    assert pairs["confirmation_rate"] == (1.0, pytest.approx(2 / 3))
    assert pairs["engaged"] == (0, 3) and pairs["unknown"] == (1, 0) and pairs["disengaged"] == (2, 0)
    assert pairs["nurtured"] == (1, 1)
    assert pairs["presumed"] == (0, 0)  # nobody here is hidden by Apple Mail long enough
    assert pairs["paying"] == (2, 1)
    assert pairs["mrr:usd"] == (1500, 500)
    assert pairs["revenue_per_reader:usd"] == (500, pytest.approx(500 / 3))
    assert pairs["cohort_k"] == (0.5, None) and "January 2026" in figures["cohort_k"].note
    assert pairs["viral_cycle_time"] == (None, 11.5)
    assert pairs["referred_share"] == (0.0, 0.5)
    assert figures["mrr:usd"].revenue and figures["revenue_per_reader:usd"].revenue
    assert not any(f.revenue for key, f in figures.items() if not key.startswith(("mrr", "revenue")))
    assert all(f.explanation for f in figures.values())


def test_the_desk_shows_revenue_to_admins_only(client, session, seen_on_march_15):
    admin = auth.create_operator(session, "boss@example.com", "long enough pw", "admin")
    creator = auth.create_operator(session, "writer@example.com", "long enough pw", "creator")
    session.commit()
    login_as(client, admin)
    page = client.get("/admin/").get_data(as_text=True)
    for label in ("Confirmed signups", "Engaged readers", "Unknown", "Disengaged", "Newly nurtured"):
        assert label in page
    assert "MRR (USD)" in page and "Revenue per reachable reader (USD)" in page
    assert "K (cohort)" in page and "Referred share" in page and "Viral cycle time" in page
    assert "5 subscriber records in all" in page
    assert 'href="/admin/subscribers?status=active&amp;engagement=unknown">See them</a>' in page
    assert 'href="/admin/referral-report">See them</a>' in page and 'href="/admin/revenue">See them' in page
    login_as(client, creator)
    page = client.get("/admin/").get_data(as_text=True)
    assert "Confirmed signups" in page and "MRR" not in page and "Revenue per reachable" not in page
    assert "/admin/subscribers?" not in page and 'href="/admin/referral-report">See them</a>' in page


def test_the_biggest_drop_is_the_lowest_conversion():
    steps = [
        {"step": "signed_up", "conversion": None},
        {"step": "confirmed", "conversion": 0.8},
        {"step": "engaged", "conversion": 0.5},
        {"step": "nurtured", "conversion": 0.5},
        {"step": "paid", "conversion": 0.9},
    ]
    assert panels.biggest_drop(steps) == "engaged"  # the first of equals
    assert panels.biggest_drop(steps[:1]) is None


def _chart_data(html: str, panel_id: str) -> dict:  # type: ignore[type-arg]
    found = re.search(rf'<script type="application/json" id="{panel_id}-data">(.*?)</script>', html, re.S)
    assert found, panel_id
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def test_the_desk_panels_carry_the_reports_numbers_with_tables_and_csv(client, session, seen_on_march_15):
    admin = auth.create_operator(session, "boss@example.com", "long enough pw", "admin")
    creator = auth.create_operator(session, "writer@example.com", "long enough pw", "creator")
    session.commit()
    login_as(client, admin)
    html = client.get("/admin/").get_data(as_text=True)
    # the funnel: 5 signed up, 4 confirmed (0.8), 3 engaged (0.75), 2 nurtured (0.67), 2 paid (1.0)
    funnel = _chart_data(html, "funnel")
    assert funnel["type"] == "funnel" and funnel["series"][0]["data"] == [5, 4, 3, 2, 2]
    assert funnel["highlight"] == "nurtured" and "biggest drop is into “nurtured”" in html
    assert '<tr class="highlight"><th scope="row">nurtured</th>' in html
    for panel_id in ("funnel", "daily-growth", "cohort-k", "referral-forecast", "mrr-movements-usd"):
        assert f'<canvas id="{panel_id}" data-chart="{panel_id}-data"' in html
    assert '<svg id="cohorts-active-engaged" data-heat="cohorts-active-engaged-data"' in html
    heat = _chart_data(html, "cohorts-active-engaged")
    assert heat["labels"][:3] == ["2026-01", "2026-02", "2026-03"]
    # January: A and B signed up, both engaged in month 0 (100%), A alone in month 1 (50%)
    assert heat["series"][0]["data"][0] == 2 and heat["series"][1]["data"][0] == 100.0
    assert heat["series"][2]["data"][0] == 50.0
    assert 'class="heat-5">50.0</td>' in html
    movements = _chart_data(html, "mrr-movements-usd")
    assert movements["stacked"] is True and {s["label"] for s in movements["series"]} >= {"New", "Churned"}
    answer = client.get("/admin/panels/funnel.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0] == ["Step", "Readers", "Conversion from the step before (%)"]
    assert rows[1:] == [
        ["signed up", "5", ""],
        ["confirmed", "4", "80.0"],
        ["engaged", "3", "75.0"],
        ["nurtured", "2", "66.7"],
        ["paid", "2", "100.0"],
    ]
    assert client.get("/admin/panels/nothing-here.csv").status_code == 404
    assert client.get("/admin/panels/mrr-movements-usd.csv").status_code == 200
    login_as(client, creator)
    html = client.get("/admin/").get_data(as_text=True)
    assert "mrr-movements-usd" not in html and "cohorts-paying" not in html and "cohort-k" in html
    assert client.get("/admin/panels/mrr-movements-usd.csv").status_code == 403


def test_the_referral_report_page_in_words_and_charts(client, session, seen_on_march_15):
    admin = auth.create_operator(session, "boss@example.com", "long enough pw", "admin")
    creator = auth.create_operator(session, "writer@example.com", "long enough pw", "creator")
    session.commit()
    login_as(client, admin)
    html = client.get("/admin/referral-report").get_data(as_text=True)
    # seen today every month is mature: January's A and B made one referral (0.50)
    assert "Readers who joined in March 2026 brought 0.00 friends each" in html
    assert "25% of readers came by a friend&#39;s link" in html  # B of A, B, C, E
    cohort_k = _chart_data(html, "cohort-k")
    assert cohort_k["labels"][:3] == ["2026-01", "2026-02", "2026-03"] and cohort_k["series"][0]["data"][
        :3
    ] == [0.5, 0, 0]
    generations = _chart_data(html, "referral-generations")
    assert generations["labels"] == ["0", "1"] and generations["series"][0]["data"] == [3, 1]
    cascades = _chart_data(html, "referral-cascades")  # A's of two, C and E alone
    assert cascades["labels"] == ["1", "2"] and cascades["series"][0]["data"] == [2, 1]
    assert '<canvas id="referral-forecast"' in html
    assert "a@example.com" in html and "subscriber_id" not in html
    answer = client.get("/admin/referral-report/referral-cascades.csv")
    assert list(csv.reader(io.StringIO(answer.get_data(as_text=True)))) == [
        ["Readers in the cascade", "Cascades"],
        ["1", "2"],
        ["2", "1"],
    ]
    assert client.get("/admin/referral-report/nope.csv").status_code == 404
    login_as(client, creator)
    html = client.get("/admin/referral-report").get_data(as_text=True)
    assert "a@example.com" not in html and "admins see the names" in html


def test_a_period_ago_a_reader_seen_since_is_judged_by_what_came_before(session):
    from tests.fakes.engagement_data import make_subscriber

    seen_twice = make_subscriber(session, "twice@example.com", confirmed_at=t(1, 1))
    machine_then = make_subscriber(session, "apple@example.com", confirmed_at=t(1, 1))
    for n, (who, at, machine) in enumerate(
        [
            (seen_twice, t(2, 1), False),
            (seen_twice, t(3, 10), False),
            (machine_then, t(2, 2), True),
            (machine_then, t(3, 12), True),
        ]
    ):
        session.add(
            EmailEvent(event_id=f"e{n}", type="open", subscriber_id=who.id, at=at, is_machine=machine)
        )
    rollups.rebuild(session, NOW)
    session.flush()
    current, earlier, _ = headline.audiences(session, headline.Periods(NOW, 30), 30)
    assert (current.engaged, current.unknown, current.disengaged) == (1, 1, 0)
    # 02-13: twice@ was last seen 02-01 (within 30 days), apple@ opened by its mail app 02-02
    assert (earlier.engaged, earlier.unknown, earlier.disengaged) == (1, 1, 0)


def test_the_desk_keeps_what_it_computed_for_five_minutes(app, session, seen_on_march_15):
    import datetime as dt

    with app.test_request_context():
        fresh, at = headline.current_headline(session, NOW, 30)  # nothing kept: computed and kept
        assert at == NOW
        kept, at = headline.current_headline(session, NOW + dt.timedelta(minutes=5), 30)
        assert at == NOW and kept == fresh  # every field survives the JSON
        _, at = headline.current_headline(session, NOW + dt.timedelta(minutes=5), 14)
        assert at == NOW + dt.timedelta(minutes=5)  # another window: computed afresh, and kept
        _, at = headline.current_headline(session, NOW + dt.timedelta(minutes=6), 30)
        assert at == NOW + dt.timedelta(minutes=6)  # the window-14 one was kept last: afresh again
        _, at = headline.current_headline(session, NOW + dt.timedelta(minutes=12), 30)
        assert at == NOW + dt.timedelta(minutes=12)  # too old: computed afresh
        _, at = headline.current_headline(session, NOW + dt.timedelta(minutes=13), 30)
        assert at == NOW + dt.timedelta(minutes=12)


def test_the_desk_keeps_its_panels(app, session, seen_on_march_15):
    import datetime as dt

    with app.test_request_context():
        fresh = panels.cache_panels(session, NOW, 30)
        kept = panels.current_panels(session, NOW + dt.timedelta(minutes=5), 30)
        assert kept == fresh and [p.chart() for p in kept] == [p.chart() for p in fresh]
        assert {p.id for p in fresh} >= {"funnel", "daily-growth", "cohort-k", "value-pitch"}


def test_the_database_counts_agree_with_the_definition_on_a_random_list(session):
    import datetime as dt
    import random

    from tests.fakes.engagement_data import make_subscriber

    rng = random.Random(14)
    start = t(1, 1)
    readers: dict[int, tuple[dt.datetime | None, dt.datetime | None]] = {}
    events: dict[int, list[tuple[dt.datetime, bool]]] = {}
    for i in range(60):
        confirmed = start + dt.timedelta(hours=rng.randrange(0, 70 * 24))
        gone = rng.random() < 0.2
        reader = make_subscriber(session, f"r{i}@example.com", confirmed_at=confirmed)
        left = confirmed + dt.timedelta(hours=rng.randrange(1, 40 * 24)) if gone else None
        if left is not None and left <= NOW:
            reader.status, reader.status_changed_at, reader.unsubscribed_at = "unsubscribed", left, left
        else:
            left = None
        readers[reader.id] = (confirmed, left)
        events[reader.id] = []
        for n in range(rng.randrange(0, 5)):
            at = confirmed + dt.timedelta(hours=rng.randrange(1, 60 * 24))
            if at > NOW:
                continue
            machine = rng.random() < 0.4
            events[reader.id].append((at, machine))
            session.add(
                EmailEvent(
                    event_id=f"r{i}-{n}", type="open", subscriber_id=reader.id, at=at, is_machine=machine
                )
            )
    session.flush()
    rollups.rebuild(session, NOW)
    session.flush()
    p = headline.Periods(NOW, 30)
    got = headline.audiences(session, p, 30)[:2]
    expected = []
    for at in (p.now, p.then):
        human = {
            sid: max(m for m, is_m in ev if not is_m and m <= at)
            for sid, ev in events.items()
            if any(not is_m and m <= at for m, is_m in ev)
        }
        machine = {
            sid: max(m for m, is_m in ev if is_m and m <= at)
            for sid, ev in events.items()
            if any(is_m and m <= at for m, is_m in ev)
        }
        expected.append(audience_at(readers, human, machine, set(), at, 30))
    assert list(got) == expected
    assert expected[0].engaged and expected[0].unknown and expected[0].disengaged  # every class occurs
    assert expected[1].engaged and expected[1].unknown and expected[1].disengaged


def test_presumed_nurtured_readers_are_a_figure_of_their_own(app, session, seen_on_march_15):
    people = seen_on_march_15
    for name, days_ago in (("B", 5), ("D", 40)):
        facts = session.get(ReportFacts, people[name].id)
        facts.presumed_at = NOW - dt.timedelta(days=days_ago)
    session.commit()
    with app.test_request_context():
        figures = {f.key: f for f in headline.headline(session, NOW, 30)}
    assert (figures["presumed"].value, figures["presumed"].previous) == (1, 1)
    assert (figures["nurtured"].value, figures["nurtured"].previous) == (1, 1)  # unchanged: apart
