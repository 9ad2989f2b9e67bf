"""The writing desk: previews equal what is sent, pickers with counts, the confirmation before a send."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import g

from content import send_control
from growth import auth
from tests.conftest import read_outbox
from tests.content.conftest import NOW, add_subscribers, csrf_from, engage, make_post, pitched
from tests.growth.helpers import login_as


@pytest.fixture
def writer(client, session):  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "desk@example.com", "a-long-password", "creator")
    session.commit()
    g.pop("operator", None)
    login_as(client, operator)
    return operator


def _form(client, post) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The editor's fields as the page fills them for this post."""
    token = csrf_from(client.get(f"/admin/posts/{post.id}").get_data(as_text=True))
    return {
        "csrf_token": token,
        "post_id": str(post.id),
        "title": post.title,
        "excerpt": post.excerpt,
        "preview_text": post.preview_text,
        "body_markdown": post.body_markdown,
        "kind": post.kind,
        "audience": post.audience,
        "newsletter": post.newsletter.slug,
        "status": post.status,
    }


BODY = (
    "Hello *there*.\n\nSecond paragraph with [a link](https://example.com).\n\n<!-- paywall -->\n\nThe rest."
)


def test_the_email_preview_is_the_email_a_test_send_delivers(client, session, writer, outbox):  # type: ignore[no-untyped-def]
    post = make_post(session, title="Preview me", body_markdown=BODY, preview_text="Inbox line")
    session.commit()
    form = _form(client, post)
    shown = client.post("/admin/posts/preview/email", data=form)
    assert shown.status_code == 200
    assert (
        client.post(
            f"/admin/posts/{post.id}/test",
            data={"csrf_token": form["csrf_token"], "email": "someone@example.com"},
        ).status_code
        == 302
    )
    sent = read_outbox(outbox)[-1]
    html = next(part for part in sent.walk() if part.get_content_type() == "text/html").get_content()
    # The .eml carries MIME's CRLF line ends and a final newline; the content is the same.
    assert shown.get_data(as_text=True) == html.replace("\r\n", "\n").removesuffix("\n")
    # Framed by our own pages only; its inline styles allowed by their hashes, no script at all.
    policy = shown.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy and "unsafe-hashes" in policy and "unsafe-inline" not in policy
    assert "X-Frame-Options" not in shown.headers


def test_the_web_preview_is_the_page_readers_get(client, session, writer):  # type: ignore[no-untyped-def]
    post = make_post(session, title="On the web", body_markdown=BODY, topics=["Science"])
    session.commit()
    form = _form(client, post)
    shown = client.post("/admin/posts/preview/web", data={**form, "topic": "Science", "topics_shown": "1"})
    g.pop("operator", None)
    with client.session_transaction() as s:
        s.clear()
    page = client.get(f"/p/{post.slug}")
    assert shown.get_data(as_text=True) == page.get_data(as_text=True)


def test_the_preview_follows_unsaved_edits_and_saves_nothing(client, session, writer):  # type: ignore[no-untyped-def]
    post = make_post(session, title="Saved title", body_markdown="Saved body.")
    session.commit()
    form = _form(client, post)
    edited = {
        **form,
        "title": "Unsaved title",
        "body_markdown": "New **words**.",
        "topics_shown": "1",
        "new_topics": "Brand new",
    }
    web = client.post("/admin/posts/preview/web", data=edited).get_data(as_text=True)
    email = client.post("/admin/posts/preview/email", data=edited).get_data(as_text=True)
    assert "Unsaved title" in web and "<strong>words</strong>" in web and "Brand new" in web
    assert "Unsaved title" in email and "<strong>words</strong>" in email
    session.expire_all()
    assert post.title == "Saved title" and post.body_markdown == "Saved body." and post.topics == []
    bad = client.post("/admin/posts/preview/web", data={**form, "audience": "vip"})
    assert bad.status_code == 422 and "audience" in bad.get_data(as_text=True)
    hostile = client.post("/admin/posts/preview/web", data={**form, "newsletter": "<script>x</script>"})
    assert hostile.status_code == 422 and "<script>" not in hostile.get_data(as_text=True)
    assert client.post("/admin/posts/preview/web", data={**form, "post_id": "x"}).status_code == 400
    assert client.post("/admin/posts/preview/web", data={**form, "post_id": "999999"}).status_code == 404


def test_the_paywall_cut_is_where_the_writer_put_it(client, session, writer):  # type: ignore[no-untyped-def]
    post = make_post(session, title="Cut", body_markdown=BODY, audience="paid")
    session.commit()
    form = {**_form(client, post), "as": "teaser"}
    web = client.post("/admin/posts/preview/web", data=form).get_data(as_text=True)
    email = client.post("/admin/posts/preview/email", data=form).get_data(as_text=True)
    for html in (web, email):
        assert "Second paragraph" in html and "The rest." not in html
    assert "paywall" not in post.body_html  # the marker itself never reaches readers
    assert "The rest." in post.body_html


def test_pickers_show_counts(client, session, writer, tiers):  # type: ignore[no-untyped-def]
    ids = add_subscribers(session, 3, source="podcast") + add_subscribers(session, 2, stage="engaged")
    tiers[ids[0]] = 7
    post = make_post(session)
    session.commit()
    page = client.get(f"/admin/posts/{post.id}").get_data(as_text=True)
    assert '<option value="all" selected>Everyone on the list (5)</option>' in page
    assert "Paying readers (1)" in page and "Free readers (4)" in page
    assert "Engaged readers (2)" in page and "Signed up from podcast (3)" in page
    assert "Subscribers (5)" in page and "Paying subscribers (1)" in page


def test_a_pitch_send_is_confirmed_with_its_skips(client, session, writer, outbox):  # type: ignore[no-untyped-def]
    nurtured = add_subscribers(session, 3)
    for sid in nurtured:
        engage(session, sid, 3)
    pitched(session, nurtured[0], NOW - dt.timedelta(days=1))
    add_subscribers(session, 2)  # not yet nurtured
    post = make_post(session, title="Buy it", kind="pitch")
    session.commit()
    token = _form(client, post)["csrf_token"]
    page = client.post(f"/admin/posts/{post.id}/sends", data={"csrf_token": token, "segment": "all"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "will receive it" in text
    assert "2 skipped: not yet nurtured" in text
    assert send_control.sends_of(session, post.id) == []
    bad = client.post(f"/admin/posts/{post.id}/sends", data={"csrf_token": token, "segment": "nope"})
    assert bad.status_code == 422
