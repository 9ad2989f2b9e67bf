"""Double opt-in in one click, one-click unsubscribe (RFC 8058), the subscriber's own page."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import select

from growth import links
from growth.models import Membership, Newsletter, Subscriber, SubscriberEvent
from growth.tokens import make_token
from tests.growth.helpers import link_in, messages, signup, signup_and_confirm


def only(session) -> Subscriber:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.scalars(select(Subscriber)).one()


def test_confirm_link_confirms_in_one_click_and_shows_referral_link(client, session, outbox):
    page = signup_and_confirm(client, outbox, "ana@example.com", name="Ana")
    assert page.status_code == 200
    sub = only(session)
    assert (sub.status, sub.stage) == ("active", "confirmed")
    assert sub.confirmed_at is not None
    assert f"http://masthead.test/r/{sub.referral_code}".encode() in page.data
    assert b"<form" not in page.data.split(b"<main")[1]  # no second button to press
    [welcome] = messages(outbox, "welcome")
    assert f"http://masthead.test/r/{sub.referral_code}" in welcome.get_body(("plain",)).get_content()
    events = [
        (e.field, e.from_value, e.to_value)
        for e in session.scalars(select(SubscriberEvent).order_by(SubscriberEvent.id))
    ]
    assert ("status", "pending", "active") in events and ("stage", "signed_up", "confirmed") in events


def test_confirming_twice_is_harmless(client, session, outbox):
    signup(client)
    link = link_in(messages(outbox, "confirmation")[0], "/confirm/")
    assert client.get(link).status_code == 200
    again = client.get(link)
    assert again.status_code == 200 and b"already confirmed" in again.data
    assert b"welcome email is on its way" not in again.data  # it went out the first time
    assert len(messages(outbox, "welcome")) == 1
    assert len(session.scalars(select(SubscriberEvent).where(SubscriberEvent.field == "status")).all()) == 2


def test_forged_token_is_a_friendly_400_and_changes_nothing(client, session, outbox):
    signup(client)
    link = link_in(messages(outbox, "confirmation")[0], "/confirm/")
    forged = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
    response = client.get(forged)
    assert response.status_code == 400 and b"did not work" in response.data
    assert only(session).status == "pending"


def test_token_for_another_purpose_is_rejected(client, session, outbox):
    signup(client)
    sub = only(session)
    manage_token = make_token("manage", {"s": sub.id})
    assert client.get(f"/confirm/{manage_token}").status_code == 400
    assert only(session).status == "pending"


def test_expired_token_is_a_friendly_400(app_factory, session, outbox):
    app: Flask = app_factory(confirm_token_max_age=-1)
    client = app.test_client()
    client.post("/api/v1/subscribers", json={"email": "late@example.com"})
    sub = only(session)
    with app.test_request_context():
        path = links.confirm_url(sub).removeprefix("http://masthead.test")
    response = client.get(path)
    assert response.status_code == 400 and b"expired" in response.data
    assert only(session).status == "pending"


def test_welcome_carries_one_click_unsubscribe_headers(client, session, outbox):
    signup_and_confirm(client, outbox)
    [welcome] = messages(outbox, "welcome")
    header = welcome["List-Unsubscribe"]
    assert header.startswith("<http://masthead.test/unsubscribe/") and header.endswith(">")
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/me/" in welcome.get_body(("plain",)).get_content()


def test_one_click_post_unsubscribes_without_cookie_or_csrf(app, client, session, outbox):
    signup_and_confirm(client, outbox)
    [welcome] = messages(outbox, "welcome")
    url = welcome["List-Unsubscribe"].strip("<>").removeprefix("http://masthead.test")
    fresh = app.test_client(use_cookies=False)
    response = fresh.post(
        url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    sub = only(session)
    assert sub.status == "unsubscribed" and sub.unsubscribed_at is not None
    assert all(m.status == "unsubscribed" for m in sub.memberships)
    # repeating it is harmless
    assert (
        fresh.post(
            url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
        ).status_code
        == 200
    )


def test_unsubscribe_from_one_newsletter_keeps_the_others(client, session, outbox):
    session.add(Newsletter(slug="weekly", name="Weekly"))
    session.commit()
    signup_and_confirm(client, outbox, newsletters=["main", "weekly"])
    sub = only(session)
    main = session.scalars(select(Newsletter).where(Newsletter.slug == "main")).one()
    with client.application.test_request_context():
        url = links.unsubscribe_url(sub, main).removeprefix("http://masthead.test")
    page = client.get(url)
    assert page.status_code == 200 and b"Leave everything" in page.data
    assert client.post(url).status_code == 200
    sub = only(session)
    states = {m.newsletter.slug: m.status for m in sub.memberships}
    assert states == {"main": "unsubscribed", "weekly": "active"} and sub.status == "active"
    client.post(url, data={"scope": "all"})
    assert only(session).status == "unsubscribed"


def test_unsubscribed_may_come_back_through_double_opt_in(client, session, outbox):
    signup_and_confirm(client, outbox)
    url = messages(outbox, "welcome")[0]["List-Unsubscribe"].strip("<>").removeprefix("http://masthead.test")
    client.post(url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    sub = only(session)
    sub.confirmation_sent_at = sub.confirmation_sent_at - dt.timedelta(hours=1)
    session.commit()
    assert signup(client).status_code == 202
    assert only(session).status == "unsubscribed"  # not back until confirmed
    assert len(messages(outbox, "confirmation")) == 2
    client.get(link_in(messages(outbox, "confirmation")[-1], "/confirm/"))
    sub = only(session)
    assert sub.status == "active" and all(m.status == "active" for m in sub.memberships)


def test_manage_page_newsletters_pause_and_leave(client, session, outbox):
    session.add(Newsletter(slug="weekly", name="Weekly"))
    session.commit()
    signup_and_confirm(client, outbox)
    path = link_in(messages(outbox, "welcome")[0], "/me/")
    page = client.get(path)
    assert page.status_code == 200 and b"Weekly" in page.data
    weekly = session.scalars(select(Newsletter).where(Newsletter.slug == "weekly")).one()
    main = session.scalars(select(Newsletter).where(Newsletter.slug == "main")).one()
    client.post(path, data={"action": "newsletters", "newsletter": [str(weekly.id), str(main.id)]})
    assert {m.newsletter_id for m in session.scalars(select(Membership)) if m.status == "active"} == {
        weekly.id,
        main.id,
    }
    client.post(path, data={"action": "pause", "days": "30"})
    assert only(session).paused_until is not None
    client.post(path, data={"action": "resume"})
    assert only(session).paused_until is None
    client.post(path, data={"action": "leave"})
    assert only(session).status == "unsubscribed"
    client.post(path, data={"action": "newsletters", "newsletter": [str(main.id)]})
    assert only(session).status == "active"  # the signed link proves the address


def test_bad_manage_and_unsubscribe_tokens(client):
    assert client.get("/me/garbage").status_code == 400
    assert client.get("/unsubscribe/garbage").status_code == 400
    assert client.post("/unsubscribe/garbage", data="List-Unsubscribe=One-Click").status_code == 400


def test_manage_page_links_to_the_readers_other_pages(client, session, outbox):
    signup_and_confirm(client, outbox)
    path = link_in(messages(outbox, "welcome")[0], "/me/")
    html = client.get(path).get_data(as_text=True)
    for page in ("referrals", "upgrade", "billing"):
        assert f'href="{path}/{page}"' in html
        assert client.get(f"{path}/{page}").status_code == 200
