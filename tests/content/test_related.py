"""Interests and "more like this": the rules by hand, on hand-built histories, on the web and in email."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest
from sqlalchemy import func, select

from content import related, sending
from content.models import Post, RelatedClick, Send, SendState
from content.segments import candidate_page, parse_segment
from growth.db import commit, db
from growth.errors import ValidationFailed
from growth.models import Delivery, DeliveryState, EmailEvent
from growth.subscribers import default_newsletter
from tests.content.conftest import NOW, add_subscribers, make_post
from tests.growth.helpers import messages

DAY = dt.timedelta(days=1)


def c(post_id: int, topics: set[int], days_ago: int, readers: int) -> related.Candidate:
    return related.Candidate(post_id, frozenset(topics), NOW - days_ago * DAY, readers)


def test_choose_shares_a_topic_skips_read_and_ranks_by_readers_then_newest():
    pool = [
        c(1, {10}, 1, 5),  # the current post
        c(2, {10}, 2, 50),
        c(3, {10, 11}, 3, 80),
        c(4, {12}, 1, 999),  # no shared topic
        c(5, {11}, 4, 50),
        c(6, {10}, 1, 50),  # same readers as 2, newer
        c(7, {10}, 1, 70),  # read already
    ]
    assert related.choose({10, 11}, 1, pool, read={7}) == [3, 6, 2]
    assert related.choose({10, 11}, 1, pool, read={7}, limit=5) == [3, 6, 2, 5]
    assert related.choose(set(), 1, pool, read=set()) == []
    assert related.weigh_interests([3, 1, 3, 2, 3, 1]) == [(3, 3), (1, 2), (2, 1)]


def test_more_like_this_never_offers_what_a_reader_read_on_random_histories():
    rng = random.Random(3)
    for _ in range(300):
        pool = [
            c(i, set(rng.sample(range(6), rng.randint(1, 3))), rng.randint(0, 90), rng.randint(0, 9))
            for i in range(20)
        ]
        read = set(rng.sample(range(20), rng.randint(0, 15)))
        current = rng.randrange(20)
        chosen = related.choose(pool[current].topics, current, pool, read)
        assert not set(chosen) & read and current not in chosen and len(chosen) <= 3
        assert all(pool[i].topics & pool[current].topics for i in chosen)


def _send_of(session, post: Post) -> Send:  # type: ignore[no-untyped-def]
    send = Send(
        post_id=post.id,
        newsletter_id=post.newsletter_id,
        segment="all",
        kind=post.kind,
        state=SendState.DONE,
        scheduled_at=NOW - 10 * DAY,
        created_at=NOW - 10 * DAY,
    )
    session.add(send)
    session.flush()
    return send


def _event(session, send: Send, sid: int, kind: str, at: dt.datetime, machine=False, scanner=False) -> None:  # type: ignore[no-untyped-def]
    delivery = session.scalars(
        select(Delivery).where(Delivery.send_id == send.id, Delivery.subscriber_id == sid)
    ).first()
    if delivery is None:
        delivery = Delivery(
            subscriber_id=sid,
            newsletter_id=send.newsletter_id,
            send_id=send.id,
            kind=send.kind,
            template="post",
            state=DeliveryState.SENT,
            to_email=f"{sid}@example.com",
            created_at=at,
            sent_at=at,
        )
        session.add(delivery)
        session.flush()
    session.add(
        EmailEvent(
            event_id=f"t-{uuid.uuid4().hex}",
            type=kind,
            subscriber_id=sid,
            delivery_id=delivery.id,
            at=at,
            is_machine=machine,
            is_scanner=scanner,
        )
    )
    session.flush()


@pytest.fixture
def library(session):  # type: ignore[no-untyped-def]
    """Posts on economics and politics, one reader with a known history, others who read."""
    posts = {
        "rates": make_post(session, title="Rates", topics=["Economics"]),
        "trade": make_post(session, title="Trade", topics=["Economics", "Politics"]),
        "budget": make_post(session, title="Budget", topics=["Economics"]),
        "votes": make_post(session, title="Votes", topics=["Politics"]),
        "garden": make_post(session, title="Garden", topics=["Gardening"]),
        "old": make_post(session, title="Old", topics=["Economics"], published_at=NOW - 400 * DAY),
    }
    sends = {name: _send_of(session, post) for name, post in posts.items()}
    me, *crowd = add_subscribers(session, 6)
    for sid in crowd:  # the crowd reads trade (most), then budget
        _event(session, sends["trade"], sid, "open", NOW - 3 * DAY)
    for sid in crowd[:2]:
        _event(session, sends["budget"], sid, "click", NOW - 3 * DAY)
    _event(session, sends["trade"], me, "click", NOW - 5 * DAY)  # read: never offered again
    _event(session, sends["votes"], me, "web_visit", NOW - 5 * DAY)
    _event(session, sends["garden"], me, "open", NOW - 5 * DAY)  # an open: read, not an interest
    _event(session, sends["budget"], me, "click", NOW - 5 * DAY, scanner=True)  # a scanner: nothing
    _event(session, sends["rates"], me, "click", NOW - 100 * DAY)  # read long ago, interest expired
    session.flush()
    return posts, me


def test_interests_come_from_human_clicks_and_web_reads_of_the_last_90_days(session, library):  # type: ignore[no-untyped-def]
    _posts, me = library
    # politics: trade (a click) and votes (a web read); economics: trade only (budget's click was a
    # scanner's, rates' is 100 days old); gardening: an open, which says nothing of interest.
    assert related.interests(session, me, NOW) == [("politics", 2), ("economics", 1)]
    assert related.read_posts(session, me) == {
        p.id for n, p in _posts.items() if n in ("trade", "votes", "garden", "rates")
    }


def test_more_like_this_for_a_reader_and_for_everyone(session, library):  # type: ignore[no-untyped-def]
    posts, me = library
    # For everyone after "rates": economics posts, most read first; the year-old one is too old.
    everyone = related.more_like_this(session, posts["rates"], NOW)
    assert [p.title for p in everyone] == ["Trade", "Budget"]
    # For me: trade was read (a click) and budget only by a scanner, so budget stays on offer.
    mine = related.more_like_this(session, posts["rates"], NOW, subscriber_id=me)
    assert [p.title for p in mine] == ["Budget"]
    assert [p.title for p in related.more_like_this(session, posts["garden"], NOW)] == []


def test_interest_segments(session, library):  # type: ignore[no-untyped-def]
    _posts, me = library
    newsletter = default_newsletter(session)
    page, _ = candidate_page(session, newsletter.id, parse_segment("interest:politics"), NOW, 0, 100)
    assert [x.id for x in page] == [me]
    page, _ = candidate_page(session, newsletter.id, parse_segment("interest:economics"), NOW, 0, 100)
    assert len(page) == 3  # me (trade) and the two who clicked budget; opens alone do not count
    for bad in ("interest:", "interest:Not A Slug", "interest:" + "a" * 81):
        with pytest.raises(ValidationFailed):
            parse_segment(bad)


def test_the_post_page_offers_more_and_counts_its_clicks(client, session, library):  # type: ignore[no-untyped-def]
    posts, _me = library
    session.commit()
    page = client.get("/p/" + posts["rates"].slug).get_data(as_text=True)
    assert "More like this" in page
    link = f"/p/{posts['trade'].slug}?via=web&amp;from={posts['rates'].id}"
    assert link in page
    clicked = client.get(link.replace("&amp;", "&"))
    assert clicked.status_code == 302 and clicked.headers["Location"].endswith("/p/" + posts["trade"].slug)
    forged = client.get(f"/p/{posts['trade'].slug}?via=web&from=999999")
    assert forged.status_code == 302
    assert client.get(f"/p/{posts['trade'].slug}?via=web&from=x").status_code == 400
    session.expire_all()
    assert related.click_counts(session, posts["rates"].id) == {"from_web": 1, "from_email": 0, "into": 0}
    assert related.click_counts(session, posts["trade"].id)["into"] == 1
    assert session.scalar(select(func.count()).select_from(RelatedClick)) == 1


def test_post_emails_carry_more_like_this_chosen_per_post(app, session, outbox, library):  # type: ignore[no-untyped-def]
    posts, _me = library
    session.commit()
    with app.app_context():
        sending.create_send(db.session, db.session.get(Post, posts["rates"].id), "all", NOW + DAY)
        commit()
    sent = messages(outbox, "post")
    assert len(sent) == 6
    body = sent[0].get_body(preferencelist=("html",)).get_content()
    assert (
        "More like this" in body
        and f"/p/{posts['trade'].slug}?via=email&amp;from={posts['rates'].id}" in body
    )


def test_the_post_admin_page_shows_the_clicks(client, session, library):  # type: ignore[no-untyped-def]
    from flask import g

    from growth import auth
    from tests.growth.helpers import login_as

    posts, _me = library
    operator = auth.create_operator(session, "counts@example.com", "a-long-password", "creator")
    session.commit()
    client.get(f"/p/{posts['trade'].slug}?via=email&from={posts['rates'].id}")
    g.pop("operator", None)
    login_as(client, operator)
    page = client.get(f"/admin/posts/{posts['rates'].id}").get_data(as_text=True)
    assert "1 clicks from this post's block (0 on the web, 1 in email)" in page
