"""Referral links: visits, attribution by field and cookie, client IPs, the email block."""

from __future__ import annotations

from sqlalchemy import select

from growth import emails, links
from growth.db import commit
from referrals import service
from referrals.models import Referral, ReferralVisit
from tests.growth.helpers import messages
from tests.referrals.helpers import BROWSER, by_email, join, refer


def visits(session):  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.scalars(select(ReferralVisit).order_by(ReferralVisit.id)).all()


def test_visit_names_the_referrer_remembers_the_code_and_counts(client, session, outbox):
    join(client, outbox, "ana@example.com", name="Ana Lima")
    ana = by_email(session, "ana@example.com")
    response = client.get(f"/r/{ana.referral_code}", headers={"User-Agent": BROWSER})
    assert response.status_code == 200
    assert "Ana invited you" in response.get_data(as_text=True)
    cookie = client.get_cookie("mh_ref")
    assert cookie is not None and cookie.value == ana.referral_code
    [visit] = visits(session)
    assert (visit.referrer_id, visit.counted, visit.is_bot, visit.is_self) == (
        ana.id,
        True,
        False,
        False,
    )
    assert visit.ip_hash and "198.51.100" not in visit.ip_hash  # hashed, not stored plainly
    assert visit.user_agent == BROWSER


def test_a_nameless_referrer_is_a_friend_and_an_unknown_code_shows_the_plain_form(client, session, outbox):
    join(client, outbox, "anon@example.com")
    code = by_email(session, "anon@example.com").referral_code
    assert "A friend invited you" in client.get(f"/r/{code}", headers={"User-Agent": BROWSER}).get_data(
        as_text=True
    )
    client.delete_cookie("mh_ref")
    unknown = client.get("/r/nosuchcode", headers={"User-Agent": BROWSER})
    assert unknown.status_code == 200
    body = unknown.get_data(as_text=True)
    assert "invited you" not in body and "Subscribe to" in body
    assert client.get_cookie("mh_ref") is None
    assert len(visits(session)) == 1


def test_crawlers_and_the_referrer_themselves_are_kept_not_counted(client, session, outbox):
    join(client, outbox, "ana@example.com", ip="198.51.100.1")
    ana = by_email(session, "ana@example.com")
    for agent in ("facebookexternalhit/1.1", "Slackbot-LinkExpanding 1.0", "Twitterbot/1.0", ""):
        client.get(
            f"/r/{ana.referral_code}",
            headers={"User-Agent": agent},
            environ_base={"REMOTE_ADDR": "203.0.113.5"},
        )
    # the referrer opens their hub (which marks their browser), then their own link, elsewhere
    client.get(f"/me/{links.manage_token(ana)}/referrals", environ_base={"REMOTE_ADDR": "203.0.113.6"})
    client.get(
        f"/r/{ana.referral_code}",
        headers={"User-Agent": BROWSER},
        environ_base={"REMOTE_ADDR": "203.0.113.6"},
    )
    # and from the address they signed up from, in another browser
    other = client.application.test_client()
    other.get(
        f"/r/{ana.referral_code}",
        headers={"User-Agent": BROWSER},
        environ_base={"REMOTE_ADDR": "198.51.100.1"},
    )
    rows = visits(session)
    assert [(v.is_bot, v.is_self, v.counted) for v in rows] == [(True, False, False)] * 4 + [
        (False, True, False),
        (False, True, False),
    ]


def test_signup_with_ref_field_cookie_or_form_links_the_referrer(client, session, outbox):
    join(client, outbox, "ana@example.com")
    ana = by_email(session, "ana@example.com")
    # the API field
    assert refer(client, session, outbox, "ana@example.com", "bo@example.com").status == "counted"
    # the cookie from /r/<code>, then the form with no ref field at all
    client.get(f"/r/{ana.referral_code}", headers={"User-Agent": BROWSER})
    response = client.post(
        "/subscribe", data={"email": "cy@example.com"}, environ_base={"REMOTE_ADDR": "203.0.113.20"}
    )
    assert response.status_code in {200, 303}
    assert by_email(session, "cy@example.com").referrer_id == ana.id
    referral = session.scalars(
        select(Referral).where(Referral.referred_id == by_email(session, "cy@example.com").id)
    ).one()
    assert referral.status == "pending"  # counts only on confirmation


def test_client_ip_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(app, app_factory, session, outbox):
    join(app.test_client(), outbox, "ana@example.com")
    code = by_email(session, "ana@example.com").referral_code
    headers = {"User-Agent": BROWSER, "X-Forwarded-For": "203.0.113.77"}
    # no trusted proxy: the header is the client's to forge, the socket address counts
    app.test_client().get(f"/r/{code}", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    proxied = app_factory(trusted_proxy_count=1)
    proxied.test_client().get(f"/r/{code}", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    first, second = visits(session)
    with app.app_context():
        assert first.ip_hash == service.hash_ip("10.0.0.2")
        assert second.ip_hash == service.hash_ip("203.0.113.77")


def test_every_email_carries_the_link_and_progress_to_the_next_milestone(client, session, outbox):
    join(client, outbox, "ana@example.com")
    ana = by_email(session, "ana@example.com")
    service.save_milestone(session, {"referrals_required": 3, "reward_name": "sticker pack"})
    session.flush()
    refer(client, session, outbox, "ana@example.com", "bo@example.com")
    # any email to Ana now carries her progress
    emails.queue_email(session, ana, "welcome")
    commit()
    mail = [m for m in messages(outbox, "welcome") if "ana@example.com" in str(m["To"])][-1]
    text = mail.get_body(("plain",)).get_content()
    assert f"http://masthead.test/r/{ana.referral_code}" in text
    assert "You have brought 1 friend so far. 2 more friends to the sticker pack." in text
    html = mail.get_body(("html",)).get_content()
    assert (
        "2 more friends to the sticker pack." in html
        and f'href="http://masthead.test/r/{ana.referral_code}"' in html
    )


def test_one_client_cannot_flood_a_referrers_visits(client, session, outbox):
    join(client, outbox, "ana@example.com")
    code = by_email(session, "ana@example.com").referral_code
    answers = [client.get(f"/r/{code}", headers={"User-Agent": BROWSER}).status_code for _ in range(61)]
    assert answers[:60] == [200] * 60 and answers[60] == 429
    assert len(visits(session)) == 60


def test_a_shared_post_link_counts_as_a_referral_visit(client, session, outbox):
    import datetime as dt

    from content import posts

    join(client, outbox, "ana@example.com", name="Ana")
    ana = by_email(session, "ana@example.com")
    published = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    post = posts.create_post(
        session,
        posts.PostInput(
            title="Shared", body_markdown="Worth reading.", status="published", published_at=published
        ),
        published,
    )
    session.commit()
    response = client.get(f"/p/{post.slug}?ref={ana.referral_code}", headers={"User-Agent": BROWSER})
    assert response.status_code == 200
    [visit] = visits(session)
    assert (visit.referrer_id, visit.counted) == (ana.id, True)
    assert client.get_cookie("mh_ref").value == ana.referral_code


def test_a_batch_prefetch_gives_the_same_block_and_is_used_once(app, client, session, outbox):
    # Ana has one counted referral and a milestone at 3: "2 more friends to the sticker pack".
    from flask import g

    from referrals.models import Milestone

    join(client, outbox, "ana@example.com")
    refer(client, session, outbox, "ana@example.com", "bo@example.com", ip="192.0.2.1")
    session.add(
        Milestone(referrals_required=3, reward_name="sticker pack", description="", fulfilment_note="")
    )
    session.commit()
    ana = by_email(session, "ana@example.com")
    with app.test_request_context():
        core = {"publication": "Masthead test", "referral_url": "http://masthead.test/r/x"}
        one_by_one = service.email_context(session, ana, core)
        emails.prefetch_context(session, [ana])
        assert g.referral_progress["counts"] == {ana.id: 1}
        batched = service.email_context(session, ana, core)
        assert g.referral_progress["counts"] == {}  # popped: a later count is read afresh
    assert batched == one_by_one
    assert "2 more friends to the sticker pack." in batched["referral_block"]


def _set_cookie_headers(response, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]


def test_referral_cookies_are_secure_under_https_only(client, session, outbox, app_factory):
    join(client, outbox, "ana@example.com", name="Ana Lima")
    ana = by_email(session, "ana@example.com")
    secure = app_factory(base_url="https://news.example").test_client()
    for c, want in ((client, False), (secure, True)):
        landing = c.get(f"/r/{ana.referral_code}", headers={"User-Agent": BROWSER})
        with c.application.app_context():
            token = links.manage_token(ana)
        hub = c.get(f"/me/{token}/referrals")
        [ref_cookie] = _set_cookie_headers(landing, "mh_ref")
        [self_cookie] = _set_cookie_headers(hub, "mh_self")
        for header in (ref_cookie, self_cookie):
            assert ("; Secure" in header) is want, header
            assert "HttpOnly" in header and "SameSite=Lax" in header
