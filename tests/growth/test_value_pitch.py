"""Value and pitch: leaves within 48 hours of each kind of email, by pitches before, by hand.

now = 03-10 00:00 (2026). Emails (V value, P pitch) and leaves:
  reader 1: V 03-01, P 03-02, unsubscribes 03-03 12:00 -> 36 h after P, the latest: P (first) left.
  reader 2: P 03-01, P 03-05, V 03-06 (after 2 pitches), complaint 03-06 01:00 and again 02:00 ->
            one complaint for that V; P 03-08 (third), unsubscribes 03-11 -> 72 h: nobody's.
  reader 3: V 03-09, unsubscribes 06:00 -> its 48 h are not over at now: not measured at all.
  reader 4: V 03-01, nothing else (and a transactional email, never counted).
value: 0 before -> V1, V4 (2, no leave); 2+ -> V2 (1, one complaint); all -> 3, 0, 1.
pitch: 0 -> P1, P2-first (2, one unsubscribe); 1 -> 1; 2+ -> P 03-08 (1, none); all -> 4, 1, 0.
From 03-02 on: value 0 has none; pitch 0 keeps P1 alone; the 03-01 pitch still sets reader 2's buckets.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from growth import auth
from growth.models import Delivery, EmailEvent, SubscriberEvent
from growth.panels import value_pitch_panel
from growth.resistance import Email, Leave, value_and_pitch
from tests.fakes.engagement_data import make_subscriber


def t(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC)


NOW = t(10)
EMAILS = [
    (1, "value", t(1)),
    (1, "pitch", t(2)),
    (2, "pitch", t(1)),
    (2, "pitch", t(5)),
    (2, "value", t(6)),
    (2, "pitch", t(8)),
    (3, "value", t(9)),
    (4, "value", t(1)),
    (4, "transactional", t(2)),
]
LEAVES = [
    (1, "unsubscribe", t(3, 12)),
    (2, "complaint", t(6, 1)),
    (2, "complaint", t(6, 2)),
    (2, "unsubscribe", t(11)),
    (3, "unsubscribe", t(9, 6)),
]


def table(rows):  # type: ignore[no-untyped-def]
    return {(r["kind"], r["pitches_before"]): (r["emails"], r["unsubscribes"], r["complaints"]) for r in rows}


def test_leaves_after_value_and_pitch_emails_by_pitches_before():
    rows = value_and_pitch([Email(*e) for e in EMAILS], [Leave(*x) for x in LEAVES], NOW)
    assert table(rows) == {
        ("value", "0"): (2, 0, 0),
        ("value", "1"): (0, 0, 0),
        ("value", "2+"): (1, 0, 1),
        ("value", "all"): (3, 0, 1),
        ("pitch", "0"): (2, 1, 0),
        ("pitch", "1"): (1, 0, 0),
        ("pitch", "2+"): (1, 0, 0),
        ("pitch", "all"): (4, 1, 0),
    }
    rates = {(r["kind"], r["pitches_before"]): (r["unsubscribe_rate"], r["complaint_rate"]) for r in rows}
    assert rates[("pitch", "0")] == (0.5, 0.0) and rates[("value", "1")] == (None, None)
    assert rates[("value", "all")] == (0.0, 1 / 3)


def test_a_window_reports_its_own_emails_with_buckets_set_by_earlier_pitches():
    rows = value_and_pitch([Email(*e) for e in EMAILS], [Leave(*x) for x in LEAVES], NOW, start=t(2))
    got = table(rows)
    assert got[("value", "0")] == (0, 0, 0) and got[("value", "2+")] == (1, 0, 1)
    assert got[("pitch", "0")] == (1, 1, 0) and got[("pitch", "1")] == (1, 0, 0)


def test_the_report_endpoint_as_json_and_csv(client, session):
    readers = [make_subscriber(session, f"r{i}@example.com") for i in range(1, 5)]
    for i, kind, at in EMAILS:
        reader = readers[i - 1]
        session.add(
            Delivery(
                subscriber_id=reader.id,
                send_id=None,
                kind=kind,
                template="post",
                state="sent",
                to_email=reader.email,
                sent_at=at,
                created_at=at,
            )
        )
    # reader 1 unsubscribes by the one-click link; reader 2 complains through SendGrid's events
    session.add(
        SubscriberEvent(
            subscriber_id=readers[0].id,
            field="status",
            from_value="active",
            to_value="unsubscribed",
            at=t(3, 12),
        )
    )
    for n, at in enumerate((t(6, 1), t(6, 2))):
        session.add(EmailEvent(event_id=f"spam{n}", type="spamreport", subscriber_id=readers[1].id, at=at))
    operator = auth.create_operator(session, "writer@example.com", "correct horse battery", role="creator")
    token = auth.create_token(session, operator)
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/reports/value-pitch").status_code == 401
    # now is the real clock: every 48 h is over
    body = client.get("/api/v1/reports/value-pitch?from=2026-03-01&to=2026-03-31", headers=headers).get_json()
    got = table(body["rows"])
    assert got[("pitch", "0")] == (2, 1, 0) and got[("value", "2+")] == (1, 0, 1)
    assert got[("value", "all")] == (4, 0, 1)  # reader 3's value email is measured by now
    answer = client.get("/api/v1/reports/value-pitch?format=csv", headers=headers)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert {(r["kind"], r["pitches_before"]) for r in rows} >= {("pitch", "2+"), ("value", "0")}
    bad = client.get("/api/v1/reports/value-pitch?from=yesterday", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_date"
    operation = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/reports/value-pitch"]["get"]
    assert "text/csv" in operation["responses"]["200"]["content"]


def test_the_desk_panel_reads_per_thousand_emails_value_first():
    rows = value_and_pitch([Email(*e) for e in EMAILS], [Leave(*x) for x in LEAVES], NOW)
    panel = value_pitch_panel({"hours": 48, "rows": rows})
    assert panel.series.labels == [
        "Value, before any pitch",
        "Value, after 1 pitch",
        "Value, after 2 or more",
        "1st pitch",
        "2nd pitch",
        "3rd or later pitch",
    ]
    assert panel.series.columns["Unsubscribes per 1,000 emails"] == [0.0, None, 0.0, 500.0, 0.0, 0.0]
    assert panel.series.columns["Complaints per 1,000 emails"] == [0.0, None, 1000.0, 0.0, 0.0, 0.0]
    assert len(panel.chart()["series"]) == 2 and panel.series.columns["Emails"] == [2, 0, 1, 2, 1, 1]
