"""What each post did, on a hand-built history: readers not raw opens, referrals, money not guessed."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid

import pytest
from sqlalchemy import select

from content import post_metrics
from content.models import Send
from content.post_metrics import EventRow, sort_rows, tally
from growth.models import Delivery, EmailEvent
from referrals.models import Referral, ReferralVisit
from referrals.post_figures import credit_signups
from tests.content.conftest import NOW, add_subscribers, make_post


def test_tally_counts_people_and_deliveries_once():  # type: ignore[no-untyped-def]
    events = [
        EventRow(1, 11, "delivered"),
        EventRow(1, 11, "open"),
        EventRow(1, 11, "open"),
        EventRow(1, 11, "click"),
        EventRow(2, 12, "delivered"),
        EventRow(2, 12, "open", is_machine=True),
        EventRow(3, 13, "delivered"),
        EventRow(3, 13, "click", is_scanner=True),
        EventRow(3, 13, "open"),
        EventRow(4, 14, "delivered"),
        EventRow(4, 14, "spamreport"),
        EventRow(4, 14, "unsubscribe"),
        EventRow(2, 12, "web_visit"),
        EventRow(5, 11, "open"),  # the same reader in a second send: one engaged reader
        EventRow(6, 15, "open", is_machine=True),
        EventRow(6, 15, "open"),  # a human open wins
    ]
    assert tally(events) == {
        "delivered": 4,
        "human_opens": 4,  # deliveries 1, 3, 5, 6
        "machine_opens": 2,  # deliveries 2 and 6
        "clicks": 1,
        "scanner_clicks": 1,
        "unsubscribes": 1,
        "complaints": 1,
        "web_reads": 1,
        "engaged_readers": 4,  # 11, 12 (web), 13, 15
    }
    assert tally([]) == dict.fromkeys(post_metrics.EMAIL_FIGURES, 0)


def test_sort_puts_unknown_last_and_breaks_ties_by_date():  # type: ignore[no-untyped-def]
    day = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = [
        {"id": 1, "engaged_readers": 5, "revenue": None, "published_at": day},
        {"id": 2, "engaged_readers": 9, "revenue": {"usd": 100}, "published_at": day},
        {"id": 3, "engaged_readers": 5, "revenue": {"usd": 900}, "published_at": day + dt.timedelta(days=1)},
        {"id": 4, "engaged_readers": 0, "revenue": None, "published_at": None},
    ]
    assert [r["id"] for r in sort_rows(rows, "engaged_readers")] == [2, 3, 1, 4]
    assert [r["id"] for r in sort_rows(rows, "revenue")] == [3, 2, 1, 4]
    with pytest.raises(ValueError):
        sort_rows(rows, "opens")


def test_signup_credit_goes_to_the_latest_visit():  # type: ignore[no-untyped-def]
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = [
        (1, t, 7),
        (1, t + dt.timedelta(hours=1), 8),  # referral 1: the later post link wins
        (2, t, 7),
        (2, t + dt.timedelta(hours=2), None),  # referral 2: an /r/ visit came last
        (3, t, 7),
    ]
    assert credit_signups(rows) == {8: 1, 7: 1}


def _delivery(session, send: Send, subscriber_id: int, state: str = "sent") -> int:  # type: ignore[no-untyped-def]
    d = Delivery(
        subscriber_id=subscriber_id,
        send_id=send.id,
        kind=send.kind,
        template="post",
        state=state,
        to_email="r@example.com",
        newsletter_id=send.newsletter_id,
    )
    session.add(d)
    session.flush()
    return d.id


def _event(session, delivery_id: int, subscriber_id: int, kind: str, **flags: bool) -> None:  # type: ignore[no-untyped-def]
    session.add(
        EmailEvent(
            event_id=f"t-{uuid.uuid4().hex}",
            type=kind,
            subscriber_id=subscriber_id,
            delivery_id=delivery_id,
            at=NOW,
            **flags,
        )
    )


@pytest.fixture
def history(session):  # type: ignore[no-untyped-def]
    """Post A sent twice with a known set of events and share-link visits; B published, never sent."""
    readers = add_subscribers(session, 6)
    a = make_post(session, title="Post A", published_at=NOW - dt.timedelta(days=3))
    b = make_post(session, title="Post B", published_at=NOW - dt.timedelta(days=1))
    draft = make_post(session, title="A draft", status="draft", published_at=None)
    sends = []
    for _ in range(2):
        send = Send(
            post_id=a.id,
            newsletter_id=a.newsletter_id,
            segment="all",
            kind="value",
            state="done",
            scheduled_at=NOW - dt.timedelta(days=2),
        )
        session.add(send)
        session.flush()
        sends.append(send)
    d = [_delivery(session, sends[0], sid) for sid in readers[:4]]
    _delivery(session, sends[0], readers[4], state="failed")
    again = _delivery(session, sends[1], readers[0])
    for i in range(4):
        _event(session, d[i], readers[i], "delivered")
    _event(session, d[0], readers[0], "open")
    _event(session, d[0], readers[0], "click")
    _event(session, d[1], readers[1], "open", is_machine=True)
    _event(session, d[1], readers[1], "web_visit")
    _event(session, d[2], readers[2], "click", is_scanner=True)
    _event(session, d[2], readers[2], "open")
    _event(session, d[3], readers[3], "spamreport")
    _event(session, d[3], readers[3], "unsubscribe")
    _event(session, again, readers[0], "open")
    # Share links of post A: two counted visits, one crawler; one signup follows a post-A visit,
    # one follows a later /r/ visit from the same address (credited to no post).
    referrer, newcomer, other = readers[0], readers[5], readers[4]
    session.add_all(
        [
            ReferralVisit(referrer_id=referrer, at=NOW - dt.timedelta(hours=5), ip_hash="ip1", post_id=a.id),
            ReferralVisit(referrer_id=referrer, at=NOW - dt.timedelta(hours=4), ip_hash="ip2", post_id=a.id),
            ReferralVisit(
                referrer_id=referrer,
                at=NOW - dt.timedelta(hours=3),
                ip_hash="ip3",
                post_id=a.id,
                is_bot=True,
                counted=False,
            ),
            ReferralVisit(referrer_id=referrer, at=NOW - dt.timedelta(hours=3), ip_hash="ip2", post_id=None),
            Referral(
                referrer_id=referrer,
                referred_id=newcomer,
                status="counted",
                ip_hash="ip1",
                created_at=NOW - dt.timedelta(hours=4, minutes=30),
            ),
            Referral(
                referrer_id=referrer,
                referred_id=other,
                status="pending",
                ip_hash="ip2",
                created_at=NOW - dt.timedelta(hours=2),
            ),
        ]
    )
    session.commit()
    return {"a": a, "b": b, "draft": draft, "sends": sends}


def _by_title(body) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {row["title"]: row for row in body["posts"]}


def test_report_on_the_hand_built_history(client, history, admin_token):  # type: ignore[no-untyped-def]
    answer = client.get("/api/v1/reports/posts", headers={"Authorization": f"Bearer {admin_token}"})
    assert answer.status_code == 200
    rows = _by_title(answer.get_json())
    a = rows["Post A"]
    assert {
        k: a[k]
        for k in (
            "sends",
            "recipients",
            "delivered",
            "human_opens",
            "machine_opens",
            "clicks",
            "scanner_clicks",
            "unsubscribes",
            "complaints",
            "web_reads",
            "engaged_readers",
            "referral_visits",
            "referral_signups",
        )
    } == {
        "sends": 2,
        "recipients": 5,
        "delivered": 4,
        "human_opens": 3,
        "machine_opens": 1,
        "clicks": 1,
        "scanner_clicks": 1,
        "unsubscribes": 1,
        "complaints": 1,
        "web_reads": 1,
        "engaged_readers": 3,
        "referral_visits": 2,
        "referral_signups": 1,
    }
    assert a["open_rate"] == 3 / 4 and a["click_rate"] == 1 / 4
    # nobody paid: billing's attribution credits no post (its rules: tests/billing/test_attribution.py)
    assert a["revenue"] == {} and a["paid_conversions"] == 0 and a["revenue_note"] is None
    never = rows["Post B"]
    assert never["sends"] == 0 and never["engaged_readers"] == 0 and never["open_rate"] is None
    assert "A draft" in rows  # every post has a row
    ordered = [r["title"] for r in answer.get_json()["posts"]]
    assert ordered[0] == "Post A"


def test_sorts_csv_and_creators_without_money(client, history, admin_token, creator_token):  # type: ignore[no-untyped-def]
    admin = {"Authorization": f"Bearer {admin_token}"}
    creator = {"Authorization": f"Bearer {creator_token}"}
    by_referrals = client.get("/api/v1/reports/posts?sort=referral_signups", headers=admin).get_json()
    assert by_referrals["sort"] == "referral_signups" and by_referrals["posts"][0]["title"] == "Post A"
    by_date = client.get("/api/v1/reports/posts?sort=published_at", headers=admin).get_json()
    assert [r["title"] for r in by_date["posts"]][:2] == ["Post B", "Post A"]
    assert client.get("/api/v1/reports/posts?sort=opens", headers=admin).status_code == 400
    assert client.get("/api/v1/reports/posts?format=xml", headers=admin).status_code == 400
    as_creator = client.get("/api/v1/reports/posts", headers=creator).get_json()
    assert all("revenue" not in r and "paid_conversions" not in r for r in as_creator["posts"])
    sheet = client.get("/api/v1/reports/posts?format=csv", headers=admin)
    assert sheet.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(sheet.get_data(as_text=True))))
    assert {r["title"]: r["engaged_readers"] for r in table}["Post A"] == "3"
    assert "revenue_note" in table[0]
    creator_sheet = client.get("/api/v1/reports/posts?format=csv", headers=creator).get_data(as_text=True)
    assert "revenue" not in creator_sheet.splitlines()[0]
    assert client.get("/api/v1/reports/posts").status_code == 401


def test_the_post_page_shows_totals_and_each_send(client, session, history):  # type: ignore[no-untyped-def]
    from flask import g

    from growth import auth
    from tests.growth.helpers import login_as

    operator = auth.create_operator(session, "reporter@example.com", "a-long-password", "creator")
    session.commit()
    g.pop("operator", None)
    login_as(client, operator)
    page = client.get(f"/admin/posts/{history['a'].id}/report").get_data(as_text=True)
    assert "<b>3</b>engaged readers" in page and "<b>1</b>signups from them" in page
    for send in history["sends"]:
        assert f"#{send.id}" in page
    assert "Money" not in page  # creators: no revenue
    assert "Never sent." in client.get(f"/admin/posts/{history['b'].id}/report").get_data(as_text=True)
    assert client.get("/admin/posts/2147483648/report").status_code == 404


def test_a_share_link_visit_is_kept_with_its_post(client, session):  # type: ignore[no-untyped-def]
    from growth.models import Subscriber

    [referrer] = add_subscribers(session, 1)
    post = make_post(session, title="Shared")
    session.commit()
    code = session.get(Subscriber, referrer).referral_code
    assert client.get(f"/p/{post.slug}?ref={code}").status_code == 200
    visit = session.scalars(select(ReferralVisit).where(ReferralVisit.referrer_id == referrer)).one()
    assert visit.post_id == post.id


def test_the_posts_list_sorts_by_what_posts_did(client, session, history):  # type: ignore[no-untyped-def]
    from flask import g

    from growth import auth
    from tests.growth.helpers import login_as

    operator = auth.create_operator(session, "lister@example.com", "a-long-password", "admin")
    session.commit()
    g.pop("operator", None)
    login_as(client, operator)
    page = client.get("/admin/posts?sort=engaged_readers").get_data(as_text=True)
    assert page.index("Post A") < page.index("Post B") and "not attributed" not in page
    newest = client.get("/admin/posts").get_data(as_text=True)
    assert newest.index("A draft") < newest.index("Post A")
    assert client.get("/admin/posts?sort=opens").status_code == 422


def test_without_billing_money_is_null_with_the_reason():  # type: ignore[no-untyped-def]
    assert post_metrics.revenue_columns(None) == {
        "paid_conversions": None,
        "revenue": None,
        "revenue_note": post_metrics.REVENUE_NOTE,
    }
    assert "attribution" in post_metrics.REVENUE_NOTE


def test_the_database_counts_what_tally_defines(session, history):  # type: ignore[no-untyped-def]
    from content import post_report

    send_ids = [s.id for s in history["sends"]]
    events = [
        EventRow(e.delivery_id, e.subscriber_id, e.type, e.is_machine, e.is_scanner)
        for e in session.scalars(
            select(EmailEvent)
            .join(Delivery, Delivery.id == EmailEvent.delivery_id)
            .where(Delivery.send_id.in_(send_ids))
        )
    ]
    [row] = post_report.post_rows(session, [history["a"]])
    assert {k: row[k] for k in post_metrics.EMAIL_FIGURES} == tally(events)
    for send, by_send in zip(history["sends"], post_report.send_rows(session, history["a"]), strict=True):
        mine = [e for e in events if session.get(Delivery, e.delivery_id).send_id == send.id]
        assert {k: by_send[k] for k in post_metrics.EMAIL_FIGURES} == tally(mine)


def test_each_send_page_shows_what_it_did(client, session, history):  # type: ignore[no-untyped-def]
    from growth import auth
    from tests.growth.helpers import login_as

    operator = auth.create_operator(session, "boss@example.com", "a-long-password", "admin")
    session.commit()
    login_as(client, operator)
    first, second = history["sends"]
    page = client.get(f"/admin/sends/{first.id}").get_data(as_text=True)
    figures = dict(re.findall(r"<h3>([^<]+)</h3><p class=\"value\">([^<]+)</p>", page))
    # the first send: 4 delivered, opened by readers 0 and 2 (1 only by Apple Mail), clicked by
    # reader 0 (2 only by a scanner), 3 unsubscribed and complained; the post's links: 2 visits, 1 signup
    assert figures == {
        "Delivered": "4",
        "Opened by a person": "2",
        "Clicked by a person": "1",
        "Unsubscribed": "1",
        "Complained": "1",
        "Referral visits": "2",
        "Referral signups": "1",
    }
    assert "Not counting 1 opened only by a mail app" in page and "all 2 of its sends together" in page
    again = dict(
        re.findall(
            r"<h3>([^<]+)</h3><p class=\"value\">([^<]+)</p>",
            client.get(f"/admin/sends/{second.id}").get_data(as_text=True),
        )
    )
    assert again["Delivered"] == "0" and again["Opened by a person"] == "1" and again["Unsubscribed"] == "0"
