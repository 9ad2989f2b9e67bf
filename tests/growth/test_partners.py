"""Partners: tagging by form, API and embed (never a referral), the outbound ticks, the report."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid

from sqlalchemy import func, select

from growth import auth, partners
from growth.db import utcnow
from growth.models import EmailEvent, Subscriber
from growth.partner_models import PartnerRecommendation, PartnerSignup
from growth.subscribers import find_by_email
from referrals.models import Referral
from tests.growth.helpers import link_in, messages, signup, signup_and_confirm


def admin(session) -> dict[str, str]:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(
        session, f"p-{uuid.uuid4().hex[:6]}@example.com", "a-long-password", "admin"
    )
    token = auth.create_token(session, operator)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def partner(session, code: str = "daily", **fields):  # type: ignore[no-untyped-def]
    made = partners.create_partner(
        session, partners.PartnerInput(code=code, name=code.title(), **fields), utcnow()
    )
    session.commit()
    return made


def tag_of(session, email: str):  # type: ignore[no-untyped-def]
    session.expire_all()
    subscriber = find_by_email(session, email)
    assert subscriber is not None
    row = session.scalars(select(PartnerSignup).where(PartnerSignup.subscriber_id == subscriber.id)).first()
    return subscriber, row


def test_partner_tag_through_the_api_form_and_embed(client, session):  # type: ignore[no-untyped-def]
    daily = partner(session)
    assert signup(client, "api@example.com", partner="daily").status_code == 202
    form = client.post("/subscribe", data={"email": "form@example.com", "partner": "daily"})
    assert form.status_code == 200
    embed = client.post(
        "/subscribe", data={"email": "embed@example.com", "partner": "daily", "form": "embed"}
    )
    assert embed.status_code == 200
    for email in ("api@example.com", "form@example.com", "embed@example.com"):
        subscriber, row = tag_of(session, email)
        assert row is not None and row.partner_id == daily.id
        assert subscriber.source == "partner:daily"
    # an unknown code tags nothing and refuses nobody; a malformed one is refused like a bad ref
    assert signup(client, "unknown@example.com", partner="nobody").status_code == 202
    assert tag_of(session, "unknown@example.com")[1] is None
    assert signup(client, "bad@example.com", partner="x" * 80).status_code == 400


def test_embed_snippet_and_form_carry_the_partner(client):  # type: ignore[no-untyped-def]
    snippet = client.get("/embed.html").get_data(as_text=True)
    assert 'name="partner"' in snippet and '["partner", 40]' in snippet
    page = client.get("/subscribe?partner=daily").get_data(as_text=True)
    assert 'name="partner" value="daily"' in page


def test_a_partner_signup_is_not_a_referral(client, session, outbox):  # type: ignore[no-untyped-def]
    partner(session)
    assert signup_and_confirm(client, outbox, "referrer@example.com").status_code == 200
    referrer = find_by_email(session, "referrer@example.com")
    assert (
        signup_and_confirm(
            client, outbox, "both@example.com", ref=referrer.referral_code, partner="daily"
        ).status_code
        == 200
    )
    session.expire_all()
    both = find_by_email(session, "both@example.com")
    assert (
        session.scalar(select(func.count()).select_from(Referral).where(Referral.referred_id == both.id)) == 0
    )
    # the same signup without a partner is a referral: the test above could fail
    assert (
        signup_and_confirm(client, outbox, "friend@example.com", ref=referrer.referral_code).status_code
        == 200
    )
    friend = find_by_email(session, "friend@example.com")
    assert (
        session.scalar(select(func.count()).select_from(Referral).where(Referral.referred_id == friend.id))
        == 1
    )


def test_report_needs_a_token_and_is_empty_on_a_fresh_database(client, session):  # type: ignore[no-untyped-def]
    for path in ("/api/v1/reports/partners", "/api/v1/partners"):
        assert client.get(path).status_code == 401
    headers = admin(session)
    from growth.partners import PARTNER_CREDIT_RULE

    assert client.get("/api/v1/reports/partners", headers=headers).get_json() == {
        "verify_days": 14,
        "partners": [],
        "revenue_credited_rule": PARTNER_CREDIT_RULE,  # billing answers in this build
    }
    as_csv = client.get("/api/v1/reports/partners?format=csv", headers=headers)
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert next(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))[:4] == [
        "partner_id",
        "code",
        "name",
        "signups",
    ]


def test_report_counts_pending_verified_rejected(client, session, outbox):  # type: ignore[no-untyped-def]
    headers = admin(session)
    made = client.post(
        "/api/v1/partners",
        json={"code": "daily", "name": "The Daily", "price_per_subscriber_cents": 300},
        headers=headers,
    )
    assert made.status_code == 201
    assert (
        client.post("/api/v1/partners", json={"code": "daily", "name": "Again"}, headers=headers).status_code
        == 409
    )
    assert (
        client.post("/api/v1/partners", json={"code": "-x", "name": "Bad"}, headers=headers).status_code
        == 400
    )
    for email in ("v@example.com", "p@example.com", "r@example.com"):
        assert signup_and_confirm(client, outbox, email, partner="daily").status_code == 200
    session.expire_all()
    v, p, r = (find_by_email(session, e) for e in ("v@example.com", "p@example.com", "r@example.com"))
    now = utcnow()
    # v: a person clicked 2 days in; p: only Apple Mail's machine open;
    # r: signed up 20 days ago, never engaged
    session.add(
        EmailEvent(event_id=uuid.uuid4().hex, type="click", subscriber_id=v.id, at=now + dt.timedelta(days=2))
    )
    session.add(
        EmailEvent(event_id=uuid.uuid4().hex, type="open", subscriber_id=p.id, at=now, is_machine=True)
    )
    row = session.scalars(select(PartnerSignup).where(PartnerSignup.subscriber_id == r.id)).one()
    row.signed_up_at = now - dt.timedelta(days=20)
    session.commit()
    (daily,) = client.get("/api/v1/reports/partners", headers=headers).get_json()["partners"]
    assert (daily["signups"], daily["pending"], daily["verified"], daily["rejected"]) == (3, 1, 1, 1)
    assert daily["billable_cents"] == 300


def test_outbound_ticks_call_the_api_or_open_the_page_and_pass_nothing_unticked(
    client, session, outbox, receiver
):  # type: ignore[no-untyped-def]
    api_partner = partner(
        session,
        "weekly",
        recommended=True,
        signup_api_url=f"{receiver.url}/api/v1/subscribers",
        their_code="ours",
    )
    page_partner = partner(
        session,
        "monthly",
        recommended=True,
        page_url="https://monthly.example/join?src=x",
        their_code="our code",
    )
    partner(session, "hidden")  # not recommended: never shown
    confirmed = signup_and_confirm(client, outbox, "reader@example.com", name="Ana")
    html = confirmed.get_data(as_text=True)
    assert (
        "Publications we recommend" in html
        and "Weekly" in html
        and "Monthly" in html
        and "Hidden" not in html
    )
    assert re.search(r'<input type="checkbox" name="partner" value="\d+">', html)  # unticked
    assert "checked" not in html.split("Publications we recommend", 1)[1]
    action = re.search(r'action="(/me/[^"]+/recommendations)"', html).group(1)
    # nothing ticked: nothing passed on
    assert client.post(action, data={}).status_code == 200
    assert receiver.received == []
    assert session.scalar(select(func.count()).select_from(PartnerRecommendation)) == 0
    done = client.post(action, data={"partner": [str(api_partner.id), str(page_partner.id)]})
    assert done.status_code == 200
    body = done.get_data(as_text=True)
    assert "We sent your address to Weekly" in body
    assert 'href="https://monthly.example/join?src=x&amp;ref=our%20code"' in body
    (call,) = receiver.received
    assert json.loads(call.body) == {"email": "reader@example.com", "name": "Ana", "partner": "ours"}
    # ticking again counts once and calls nobody twice
    client.post(action, data={"partner": [str(api_partner.id), str(page_partner.id)]})
    assert len(receiver.received) == 1
    session.expire_all()
    states = dict(session.execute(select(PartnerRecommendation.via, PartnerRecommendation.state)).all())
    assert states == {"api": "subscribed", "page": "opened"}
    report = {row["code"]: row for row in partners.partners_report(session, utcnow())["partners"]}
    assert (report["weekly"]["clicks"], report["weekly"]["subscriptions"]) == (1, 1)
    assert (report["monthly"]["clicks"], report["monthly"]["subscriptions"]) == (1, 0)
    # the reader's own page shows them too, with what happened
    reader = find_by_email(session, "reader@example.com")
    from growth import links

    page = client.get(f"/me/{links.manage_token(reader)}").get_data(as_text=True)
    assert "Publications we recommend" in page and "confirm in their email" in page
    # and their data export says whom their address went to
    from growth import privacy

    exported = privacy.export_subscriber(session, reader, utcnow())["partners"]
    assert {(t["partner"], t["via"]) for t in exported["passed_to"]} == {
        ("Weekly", "api"),
        ("Monthly", "page"),
    }


def test_a_partner_api_that_fails_is_counted_as_a_click_not_a_subscription(client, session, outbox, receiver):  # type: ignore[no-untyped-def]
    receiver.default = 500
    failing = partner(session, "flaky", recommended=True, signup_api_url=f"{receiver.url}/signup")
    html = signup_and_confirm(client, outbox, "reader2@example.com").get_data(as_text=True)
    action = re.search(r'action="(/me/[^"]+/recommendations)"', html).group(1)
    client.post(action, data={"partner": str(failing.id)})
    session.expire_all()
    rec = session.scalars(select(PartnerRecommendation)).one()
    assert rec.state == "failed" and "500" in (rec.error or "")
    (row,) = partners.partners_report(session, utcnow())["partners"]
    assert (row["clicks"], row["subscriptions"]) == (1, 0)


def test_forged_reader_link_is_refused(client):  # type: ignore[no-untyped-def]
    assert client.post("/me/forged-token/recommendations", data={"partner": "1"}).status_code == 400


_ = (Subscriber, messages, link_in)
