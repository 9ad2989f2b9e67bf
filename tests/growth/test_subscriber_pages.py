"""The admin's subscriber directory and a subscriber's page: search, filters, paging, timeline, actions."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import g

from growth import auth, directory, newsletters
from growth.db import utcnow
from growth.models import Membership, Subscriber
from tests.fakes.engagement_data import make_delivery, make_event, make_subscriber
from tests.growth.helpers import login_as, messages, signup


@pytest.fixture
def admin_client(client, session):  # type: ignore[no-untyped-def]
    admin = auth.create_operator(session, "boss@example.com", "long enough pw", "admin")
    session.commit()
    login_as(client, admin)
    return client


def _csrf(client, path: str) -> str:  # type: ignore[no-untyped-def]
    g.pop("csrf_token", None)
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def _emails(page: str) -> list[str]:
    return re.findall(r'/admin/subscribers/\d+">([^<]+)</a>', page)


def test_search_finds_by_email_or_name_across_every_status(admin_client, session):
    now = utcnow()
    ana = make_subscriber(session, "ana.lima@example.com", confirmed_at=now)
    ana.name = "Ana Lima"
    gone = make_subscriber(session, "zed@example.com", status="unsubscribed", confirmed_at=now)
    gone.name = "Lima Zed"
    make_subscriber(session, "other@example.com", confirmed_at=now)
    make_subscriber(session, "100%_sure@example.com", confirmed_at=now)
    session.commit()
    page = admin_client.get("/admin/subscribers?q=LIMA").get_data(as_text=True)
    assert sorted(_emails(page)) == ["ana.lima@example.com", "zed@example.com"]
    only_active = admin_client.get("/admin/subscribers?q=lima&status=active").get_data(as_text=True)
    assert _emails(only_active) == ["ana.lima@example.com"]
    # LIKE wildcards in the query are literal characters
    assert _emails(admin_client.get("/admin/subscribers?q=%25_").get_data(as_text=True)) == [
        "100%_sure@example.com"
    ]


def test_filters_by_stage_newsletter_source_and_engagement_class(app, session):
    now = utcnow()
    window = app.config["MASTHEAD"].engaged_window_days
    weekly = newsletters.create_newsletter(session, {"name": "Weekly"}, now)
    reader = make_subscriber(
        session, "reader@example.com", stage="engaged", confirmed_at=now, newsletters=[weekly]
    )
    reader.source = "podcast"
    proxy = make_subscriber(session, "proxy@example.com", confirmed_at=now)
    silent = make_subscriber(session, "silent@example.com", confirmed_at=now)
    old_reader = make_subscriber(session, "old@example.com", confirmed_at=now - dt.timedelta(days=200))
    d = make_delivery(session, reader, now - dt.timedelta(days=1))
    make_event(session, reader, "open", now - dt.timedelta(hours=20), delivery=d)
    make_event(session, proxy, "open", now - dt.timedelta(hours=20), is_machine=True)
    make_event(session, proxy, "click", now - dt.timedelta(hours=20), is_scanner=True)
    make_event(session, old_reader, "click", now - dt.timedelta(days=window + 1))

    def found(**args: object) -> set[str]:
        f = directory.parse_filters({k: str(v) for k, v in args.items()})
        return {s.email for s in directory.search(session, f, now, window).rows}

    assert found(stage="engaged") == {"reader@example.com"}
    assert found(newsletter=weekly.id) == {"reader@example.com"}
    assert found(source="podcast") == {"reader@example.com"}
    assert found(engagement="engaged") == {"reader@example.com"}
    assert found(engagement="unknown") == {"proxy@example.com"}
    assert found(engagement="disengaged") == {"silent@example.com", "old@example.com"}
    assert silent.id  # (silent has no event at all)


def test_filter_by_paid_tier(session):
    from billing.models import Subscription, Tier

    now = utcnow()
    member = Tier(name="Member", monthly_price_cents=500, yearly_price_cents=5000, currency="usd")
    session.add(member)
    payer = make_subscriber(session, "payer@example.com", stage="paying", confirmed_at=now)
    make_subscriber(session, "free@example.com", confirmed_at=now)
    session.flush()
    session.add(
        Subscription(
            stripe_subscription_id="sub_1",
            stripe_customer_id="cus_1",
            subscriber_id=payer.id,
            tier_id=member.id,
            status="active",
            currency="usd",
            state_at=now,
        )
    )
    session.flush()
    f = directory.parse_filters({"tier": str(member.id)})
    assert [s.email for s in directory.search(session, f, now, 30).rows] == ["payer@example.com"]
    f = directory.parse_filters({"tier": str(member.id + 1)})
    assert directory.search(session, f, now, 30).rows == []


def test_pages_of_fifty_newest_first(admin_client, session):
    now = utcnow()
    for i in range(directory.PER_PAGE + 3):
        make_subscriber(session, f"r{i:03d}@example.com", confirmed_at=now)
    session.commit()
    first = admin_client.get("/admin/subscribers?q=@example.com").get_data(as_text=True)
    assert len(_emails(first)) == directory.PER_PAGE and _emails(first)[0] == "r052@example.com"
    assert "page 1 of 2" in first and "page=2" in first
    second = admin_client.get("/admin/subscribers?q=@example.com&page=2").get_data(as_text=True)
    assert _emails(second) == ["r002@example.com", "r001@example.com", "r000@example.com"]


@pytest.mark.parametrize(
    "query",
    [
        "status=nope",
        "stage=nope",
        "engagement=nope",
        "page=0",
        "page=x",
        "newsletter=-1",
        "tier=1e3",
        "q=a%0Ab",
    ],
)
def test_bad_filters_are_a_400_not_a_500(admin_client, query):
    assert admin_client.get(f"/admin/subscribers?{query}").status_code == 400


def test_the_page_shows_the_timeline_with_human_and_machine_marked(admin_client, session):
    now = utcnow()
    reader = make_subscriber(session, "reader@example.com", confirmed_at=now - dt.timedelta(days=3))
    d = make_delivery(session, reader, now - dt.timedelta(days=2))
    make_event(session, reader, "open", now - dt.timedelta(days=2), delivery=d, is_machine=True)
    make_event(
        session, reader, "click", now - dt.timedelta(days=1), delivery=d, url="https://example.com/story"
    )
    session.commit()
    page = admin_client.get(f"/admin/subscribers/{reader.id}").get_data(as_text=True)
    assert "opened (machine: a privacy proxy fetched it)" in page
    assert re.search(r'<li class="human">.*clicked https://example.com/story', page)
    assert "value email “Issue” (post): sent" in page
    assert "SLOT: subscriber-data-actions" not in page  # a template comment, not shown
    assert admin_client.get("/admin/subscribers/987654").status_code == 404


def test_resend_confirmation_only_for_pending_and_not_twice_at_once(admin_client, session, outbox):
    assert signup(admin_client, "new@example.com").status_code == 202
    pending = session.query(Subscriber).filter_by(email="new@example.com").one()
    page = f"/admin/subscribers/{pending.id}"
    pending.confirmation_sent_at = utcnow() - dt.timedelta(days=1)
    session.commit()
    assert (
        admin_client.post(
            f"{page}/resend-confirmation", data={"csrf_token": _csrf(admin_client, page)}
        ).status_code
        == 302
    )
    assert len(messages(outbox, "confirmation")) == 2
    admin_client.post(f"{page}/resend-confirmation", data={"csrf_token": _csrf(admin_client, page)})
    assert len(messages(outbox, "confirmation")) == 2  # within the resend delay: not again
    active = make_subscriber(session, "on@example.com", confirmed_at=utcnow())
    session.commit()
    other = f"/admin/subscribers/{active.id}"
    refused = admin_client.post(
        f"{other}/resend-confirmation", data={"csrf_token": _csrf(admin_client, other)}
    )
    assert refused.status_code == 409


def test_change_newsletters_keeps_exactly_the_checked_ones(admin_client, session):
    now = utcnow()
    main = newsletters.active_newsletters(session)[0]
    weekly = newsletters.create_newsletter(session, {"name": "Weekly"}, now)
    reader = make_subscriber(session, "reader@example.com", confirmed_at=now)
    session.commit()
    page = f"/admin/subscribers/{reader.id}"
    saved = admin_client.post(
        f"{page}/newsletters", data={"newsletter": [str(weekly.id)], "csrf_token": _csrf(admin_client, page)}
    )
    assert saved.status_code == 302
    states = {m.newsletter_id: m.status for m in session.query(Membership).filter_by(subscriber_id=reader.id)}
    assert states == {main.id: "unsubscribed", weekly.id: "active"}
    bad = admin_client.post(
        f"{page}/newsletters", data={"newsletter": ["x"], "csrf_token": _csrf(admin_client, page)}
    )
    assert bad.status_code == 422
    admin_client.post(f"{page}/newsletters", data={"csrf_token": _csrf(admin_client, page)})
    session.refresh(reader)
    assert reader.status == "unsubscribed"
    refused = admin_client.post(
        f"{page}/newsletters",
        data={"newsletter": [str(main.id)], "csrf_token": _csrf(admin_client, "/admin/")},
    )
    assert refused.status_code == 409  # only the reader can come back


def test_creators_cannot_open_subscriber_pages(client, session):
    creator = auth.create_operator(session, "writer@example.com", "long enough pw", "creator")
    session.commit()
    login_as(client, creator)
    assert client.get("/admin/subscribers").status_code == 403


def test_the_timeline_has_referrals_both_ways_and_payments(admin_client, session):
    from billing.models import Invoice
    from referrals.models import Referral

    now = utcnow()
    friend = make_subscriber(session, "friend@example.com", confirmed_at=now - dt.timedelta(days=9))
    reader = make_subscriber(session, "reader@example.com", confirmed_at=now - dt.timedelta(days=5))
    brought = make_subscriber(session, "brought@example.com", confirmed_at=now - dt.timedelta(days=1))
    session.add_all(
        [
            Referral(
                referrer_id=friend.id,
                referred_id=reader.id,
                status="counted",
                created_at=now - dt.timedelta(days=5),
            ),
            Referral(
                referrer_id=reader.id,
                referred_id=brought.id,
                status="pending",
                created_at=now - dt.timedelta(days=1),
            ),
            Invoice(
                stripe_invoice_id="in_1",
                stripe_customer_id="cus_1",
                subscriber_id=reader.id,
                currency="eur",
                amount_paid_cents=500,
                paid_at=now - dt.timedelta(days=2),
            ),
        ]
    )
    session.commit()
    page = admin_client.get(f"/admin/subscribers/{reader.id}").get_data(as_text=True)
    assert "referred by friend@example.com (counted)" in page
    assert "referred brought@example.com (pending)" in page
    assert "paid 5.00 EUR (invoice in_1)" in page
    assert (
        page.index("referred brought@") < page.index("paid 5.00") < page.index("referred by friend")
    )  # newest first
