"""The web: home, posts behind the paywall for each audience, reader links, share links, RSS."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from content.paywall import REF_COOKIE, Reader, can_read, reader_token
from growth import signals
from growth.models import EmailEvent, Subscriber
from tests.content.conftest import NOW, add_subscribers, make_post

REST = "The rest"  # in the third paragraph: behind the paywall


def test_can_read_by_audience():  # type: ignore[no-untyped-def]
    free = Reader(1, active=True, paying=False, tier_id=None)
    paying_by_stage = Reader(2, active=True, paying=True, tier_id=None)
    tier1 = Reader(3, active=True, paying=True, tier_id=1)
    lapsed = Reader(4, active=False, paying=False, tier_id=None)
    table = {
        "public": [True, True, True, True, True],
        "free": [False, True, True, True, False],
        "paid": [False, False, True, True, False],
        "tier:1": [False, False, False, True, False],
        "tier:2": [False, False, False, False, False],
    }
    for audience, expected in table.items():
        got = [can_read(audience, r) for r in (None, free, paying_by_stage, tier1, lapsed)]
        assert got == expected, audience


@pytest.fixture
def library(session):  # type: ignore[no-untyped-def]
    posts = {
        a: make_post(session, title=f"Post {a}", audience=a) for a in ("public", "free", "paid", "tier:1")
    }
    session.commit()
    return {a: p.slug for a, p in posts.items()}


def arrive(client, subscriber_id: int, slug: str, delivery_id: int | None = None):  # type: ignore[no-untyped-def]
    """Follow the signed web link of an email."""
    return client.get(f"/p/{slug}?r={reader_token(subscriber_id, delivery_id)}")


def sees(client, slug: str) -> bool:  # type: ignore[no-untyped-def]
    page = client.get(f"/p/{slug}")
    assert page.status_code == 200
    return REST in page.get_data(as_text=True)


def test_strangers_read_public_posts_and_get_a_teaser_of_the_rest(client, library):  # type: ignore[no-untyped-def]
    assert sees(client, library["public"])
    for audience in ("free", "paid", "tier:1"):
        page = client.get(f"/p/{library[audience]}").get_data(as_text=True)
        assert REST not in page and "First paragraph." in page
        assert 'action="/subscribe"' in page
    assert "Subscribe to keep reading" in client.get(f"/p/{library['free']}").get_data(as_text=True)


def test_reader_link_sets_cookie_records_visit_and_cleans_url(client, session, library):  # type: ignore[no-untyped-def]
    (sid,) = add_subscribers(session, 1)
    session.commit()
    response = arrive(client, sid, library["free"])
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/p/{library['free']}")
    assert "mh_reader=" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
    visits = session.scalars(select(EmailEvent).where(EmailEvent.subscriber_id == sid)).all()
    assert [v.type for v in visits] == ["web_visit"]
    assert sees(client, library["free"])


def test_free_subscriber_gets_upgrade_call_on_paid_posts(client, session, library):  # type: ignore[no-untyped-def]
    (sid,) = add_subscribers(session, 1)
    session.commit()
    arrive(client, sid, library["public"])
    assert sees(client, library["free"])
    for audience in ("paid", "tier:1"):
        page = client.get(f"/p/{library[audience]}").get_data(as_text=True)
        assert REST not in page and "Upgrade" in page


def test_paying_tier_reads_paid_and_its_tier_only(client, session, library, tiers):  # type: ignore[no-untyped-def]
    one, two = add_subscribers(session, 2)
    tiers[one] = 1
    tiers[two] = 2
    session.commit()
    arrive(client, one, library["public"])
    assert sees(client, library["paid"]) and sees(client, library["tier:1"])
    client.delete_cookie("mh_reader")
    arrive(client, two, library["public"])
    assert sees(client, library["paid"]) and not sees(client, library["tier:1"])


def test_paying_stage_counts_as_paid_without_billing(client, session, library):  # type: ignore[no-untyped-def]
    (sid,) = add_subscribers(session, 1, stage="paying")
    session.commit()
    arrive(client, sid, library["public"])
    assert sees(client, library["paid"]) and not sees(client, library["tier:1"])


def test_unsubscribed_reader_and_forged_cookie_are_strangers(client, session, library):  # type: ignore[no-untyped-def]
    (sid,) = add_subscribers(session, 1, status="unsubscribed")
    session.commit()
    arrive(client, sid, library["public"])
    assert not sees(client, library["free"])
    client.set_cookie("mh_reader", "forged.token.value")
    assert not sees(client, library["free"])
    assert client.get(f"/p/{library['free']}?r=forged").status_code == 200  # no redirect, no cookie


def test_share_link_sets_ref_cookie_and_signals_a_referral_visit(client, session, library):  # type: ignore[no-untyped-def]
    seen = []

    def record(post, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((post.slug, kwargs["ref"]))

    signals.referral_link_visit.connect(record)
    try:
        response = client.get(f"/p/{library['public']}?ref=abc123")
    finally:
        signals.referral_link_visit.disconnect(record)
    assert seen == [(library["public"], "abc123")]
    cookie = response.headers["Set-Cookie"]
    assert f"{REF_COOKIE}=abc123" in cookie and "Max-Age=2592000" in cookie
    assert 'name="ref" value="abc123"' not in response.get_data(as_text=True)  # public post: no form


def test_ref_cookie_attributes_the_signup(client, session, library, outbox):  # type: ignore[no-untyped-def]
    (referrer,) = add_subscribers(session, 1)
    code = session.get(Subscriber, referrer).referral_code
    session.commit()
    client.get(f"/p/{library['free']}?ref={code}")
    assert client.post("/subscribe", data={"email": "friend@example.com"}).status_code == 200
    friend = session.scalars(select(Subscriber).where(Subscriber.email == "friend@example.com")).one()
    assert friend.referrer_id == referrer


def test_drafts_and_future_posts_do_not_exist(client, session):  # type: ignore[no-untyped-def]
    draft = make_post(session, title="Draft", status="draft", published_at=None)
    future = make_post(
        session,
        title="Soon",
        status="scheduled",
        published_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
    )
    session.commit()
    assert client.get(f"/p/{draft.slug}").status_code == 404
    assert client.get(f"/p/{future.slug}").status_code == 404
    assert client.get("/p/nothing-here").status_code == 404


def test_home_lists_latest_posts_with_a_subscribe_form(client, library):  # type: ignore[no-untyped-def]
    page = client.get("/").get_data(as_text=True)
    assert 'action="/subscribe"' in page and 'name="email"' in page
    for slug in library.values():
        assert f'href="/p/{slug}"' in page


def test_rss_feed_has_public_posts_only(client, session, library):  # type: ignore[no-untyped-def]
    make_post(session, title="Ampersands & <angles>", published_at=NOW)
    session.commit()
    response = client.get("/feed.xml")
    assert response.mimetype == "application/rss+xml"
    body = response.get_data(as_text=True)
    assert f"/p/{library['public']}</link>" in body
    for audience in ("free", "paid", "tier:1"):
        assert f"/p/{library[audience]}<" not in body
    assert "Ampersands &amp; &lt;angles&gt;" in body
    import xml.dom.minidom

    xml.dom.minidom.parseString(body)  # well-formed


def test_web_link_of_a_sent_email_signs_the_reader_in(client, session, library, outbox):  # type: ignore[no-untyped-def]
    from content import sending
    from content.models import Post
    from growth.db import commit, utcnow
    from growth.engagement import engaged_value_counts
    from tests.conftest import read_outbox, text_of

    (sid,) = add_subscribers(session, 1)
    free_post = session.scalars(select(Post).where(Post.slug == library["free"])).one()
    sending.create_send(session, free_post, "all", utcnow())
    commit()  # the send runs (in process, or through RQ) into the outbox
    (message,) = read_outbox(outbox)
    link = next(w for w in text_of(message).split() if "/p/" in w and "?r=" in w)
    response = client.get(link.removeprefix("http://masthead.test"))
    assert response.status_code == 302
    assert sees(client, library["free"])
    visit = session.scalars(select(EmailEvent).where(EmailEvent.subscriber_id == sid)).one()
    assert visit.delivery_id is not None and visit.type == "web_visit"
    assert engaged_value_counts(session, [sid]) == {sid: 1}  # reading on the web is engagement


def test_rss_description_escapes_the_excerpt_so_readers_show_it_as_text(client, session):  # type: ignore[no-untyped-def]
    import xml.etree.ElementTree as ET

    make_post(session, title="Tags", excerpt='<img src=x onerror="alert(1)"> & <b>bold</b>', published_at=NOW)
    make_post(session, title="No excerpt", body_markdown="Less &lt;b&gt; than that", published_at=NOW)
    session.commit()
    root = ET.fromstring(client.get("/feed.xml").get_data())
    descriptions = {i.findtext("title"): i.findtext("description") for i in root.iter("item")}
    # A feed reader renders the description as HTML: after XML decoding it must hold no markup.
    import html

    for title, text in (
        ("Tags", '<img src=x onerror="alert(1)"> & <b>bold</b>'),
        ("No excerpt", "Less <b> than that"),
    ):
        assert "<" not in descriptions[title] and html.unescape(descriptions[title]) == text
