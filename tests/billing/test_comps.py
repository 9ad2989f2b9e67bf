"""Comps: a tier given without Stripe opens paywalls and is counted nowhere in revenue."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from billing import grants
from billing.models import Grant
from content import paywall
from growth import access, auth
from growth.db import utcnow
from growth.models import Subscriber
from tests.billing.conftest import confirmed_subscriber, csrf_from, monthly_tier
from tests.content.conftest import make_post
from tests.growth.helpers import login_as


def bearer(session) -> dict[str, str]:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "op@example.com", "correct horse battery")
    token = auth.create_token(session, operator)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_a_comp_opens_paid_posts_but_is_never_paying_or_mrr(client, outbox, session):
    ana = confirmed_subscriber(client, outbox, session)
    bo = confirmed_subscriber(client, outbox, session, "bo@example.com")
    gold = monthly_tier(session, "Gold", 500, "price_gold")
    headers = bearer(session)
    post = make_post(session, title="Members", audience="paid")
    tier_post = make_post(session, title="Gold only", audience=f"tier:{gold.id}")
    session.commit()
    assert not paywall.can_read("paid", paywall.reader_for(session, ana))

    made = client.post(
        "/api/v1/comps", json={"subscriber_id": ana.id, "tier_id": gold.id, "days": 30}, headers=headers
    )
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["created"] is True and body["subscriber_id"] == ana.id and body["tier_id"] == gold.id
    ends = dt.datetime.fromisoformat(body["ends_at"])
    assert dt.timedelta(days=29, hours=23) < ends - dt.datetime.fromisoformat(body["starts_at"])
    forever = client.post(
        "/api/v1/comps", json={"subscriber_id": bo.id, "tier_id": gold.id, "days": None}, headers=headers
    )
    assert forever.status_code == 201 and forever.get_json()["ends_at"] is None

    session.expire_all()
    ana = session.get(Subscriber, ana.id)
    reader = paywall.reader_for(session, ana)
    assert paywall.can_read("paid", reader) and paywall.can_read(f"tier:{gold.id}", reader)
    assert paywall.full_readers(session, "paid", [(ana.id, ana.stage)]) == {ana.id}
    assert ana.stage == "confirmed"  # never the paying stage
    assert access.paying_tiers(session, [ana.id, bo.id]) == {}  # nor a paying subscriber
    assert access.reading_tiers(session, [ana.id, bo.id]) == {ana.id: gold.id, bo.id: gold.id}
    # the post page opens for her (cookie from her reader link)
    with client.application.test_request_context():
        link = paywall.reader_token(ana.id)
    client.get(f"/p/{tier_post.slug}?r={link}")
    assert "The rest" in client.get(f"/p/{tier_post.slug}").get_data(as_text=True)
    assert "The rest" in client.get(f"/p/{post.slug}").get_data(as_text=True)

    report = client.get("/api/v1/reports/revenue", headers=headers).get_json()
    assert report["mrr_cents"] == 0 and report["paying_subscribers"] == 0
    assert report["comps"] == {"count": 2}

    # a month later Ana's comp has ended; Bo's lasts
    later = utcnow() + dt.timedelta(days=31)
    assert grants.live_count(session, "comp", later) == 1
    assert [g.subscriber_id for g in session.scalars(select(Grant)) if g.live_at(later)] == [bo.id]


def test_a_retried_comp_gives_the_live_one_its_new_end_not_a_second(client, outbox, session):
    ana = confirmed_subscriber(client, outbox, session)
    gold = monthly_tier(session, "Gold", 500, "price_gold")
    headers = bearer(session)
    payload = {"subscriber_id": ana.id, "tier_id": gold.id, "days": 7}
    first = client.post("/api/v1/comps", json=payload, headers=headers).get_json()
    again = client.post("/api/v1/comps", json={**payload, "days": 365}, headers=headers)
    assert again.status_code == 201 and again.get_json()["created"] is False
    assert again.get_json()["id"] == first["id"]
    assert len(session.scalars(select(Grant)).all()) == 1
    assert again.get_json()["ends_at"] > first["ends_at"]


def test_comp_input_is_checked(client, outbox, session):
    ana = confirmed_subscriber(client, outbox, session)
    gold = monthly_tier(session, "Gold", 500, "price_gold")
    headers = bearer(session)
    assert client.post("/api/v1/comps", json={"subscriber_id": ana.id, "tier_id": gold.id}).status_code == 401
    cases = [
        ({"subscriber_id": ana.id, "tier_id": gold.id}, 400),  # days is required (null for forever)
        ({"subscriber_id": ana.id, "tier_id": gold.id, "days": 3}, 400),  # under a week
        ({"subscriber_id": ana.id, "tier_id": gold.id, "days": "30"}, 400),
        ({"subscriber_id": ana.id, "tier_id": gold.id, "days": True}, 400),
        ({"subscriber_id": 999_999, "tier_id": gold.id, "days": 30}, 404),
        ({"subscriber_id": ana.id, "tier_id": 999_999, "days": 30}, 404),
    ]
    for payload, status in cases:
        response = client.post("/api/v1/comps", json=payload, headers=headers)
        assert response.status_code == status, (payload, response.get_json())
        assert set(response.get_json()["error"]) == {"code", "message"}
    gold.active = False
    session.commit()
    retired = client.post(
        "/api/v1/comps", json={"subscriber_id": ana.id, "tier_id": gold.id, "days": 30}, headers=headers
    )
    assert retired.status_code == 409
    assert session.scalars(select(Grant)).all() == []


def test_an_admin_comps_and_ends_a_comp_from_the_subscriber_page(client, outbox, session):
    ana = confirmed_subscriber(client, outbox, session)
    gold = monthly_tier(session, "Gold", 500, "price_gold")
    operator = auth.create_operator(session, "op@example.com", "correct horse battery")
    session.commit()
    login_as(client, operator)
    page = client.get(f"/admin/subscribers/{ana.id}").get_data(as_text=True)
    assert "Comp a tier" in page and f'action="/admin/subscribers/{ana.id}/comps"' in page
    given = client.post(
        f"/admin/subscribers/{ana.id}/comps",
        data={"csrf_token": csrf_from(page), "tier_id": str(gold.id), "days": ""},
    )
    assert given.status_code == 303
    page = client.get(f"/admin/subscribers/{ana.id}").get_data(as_text=True)
    assert "Comp given." in page and "Gold · forever" in page
    grant = session.scalars(select(Grant)).one()
    assert grant.granted_by == "op@example.com" and grant.ends_at is None
    bad = client.post(
        f"/admin/subscribers/{ana.id}/comps",
        data={"csrf_token": csrf_from(page), "tier_id": str(gold.id), "days": "2"},
    )
    assert bad.status_code == 303
    assert "No comp given" in client.get(f"/admin/subscribers/{ana.id}").get_data(as_text=True)
    ended = client.post(
        f"/admin/subscribers/{ana.id}/grants/{grant.id}/end", data={"csrf_token": csrf_from(page)}
    )
    assert ended.status_code == 303
    session.expire_all()
    assert access.reading_tiers(session, [ana.id]) == {}
    # a creator may not give comps
    creator = auth.create_operator(session, "cr@example.com", "correct horse battery", role="creator")
    session.commit()
    login_as(client, creator)
    refused = client.post(
        f"/admin/subscribers/{ana.id}/comps",
        data={"csrf_token": csrf_from(page), "tier_id": str(gold.id), "days": "30"},
    )
    assert refused.status_code in (403, 404)


def test_a_comp_is_in_the_readers_data_export(client, outbox, session):
    from growth import privacy

    ana = confirmed_subscriber(client, outbox, session)
    gold = monthly_tier(session, "Gold", 500, "price_gold")
    grants.give_comp(session, ana.id, gold.id, 30, utcnow(), "op@example.com")
    session.commit()
    part = privacy.export_subscriber(session, ana, utcnow())["billing"]
    [given] = part["given_tiers"]
    assert given["kind"] == "comp" and given["tier"] == "Gold" and given["ended_at"] is None
