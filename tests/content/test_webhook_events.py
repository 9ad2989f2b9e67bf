"""Content's outgoing webhook events: post.published and send.finished, as documented."""

from __future__ import annotations

import datetime as dt

from content import posts, sending
from content.models import Send, SendState
from growth.db import utcnow
from tests.content.conftest import NOW, make_post


def test_post_published_once_when_it_goes_live(session, emitted):  # type: ignore[no-untyped-def]
    draft = make_post(session, "Draft first", status="draft", published_at=None)
    assert emitted.of("post.published") == []
    posts.update_post(session, draft, posts.PostInput(status="published"), NOW)
    posts.update_post(session, draft, posts.PostInput(title="Draft first, edited"), NOW)
    [published] = emitted.of("post.published")
    assert published["data"]["post"]["id"] == draft.id
    assert published["data"]["post"]["url"].endswith(f"/p/{draft.slug}")
    later = make_post(session, "Later", status="scheduled", published_at=utcnow() + dt.timedelta(hours=1))
    posts.publish_due(session, utcnow() + dt.timedelta(hours=2))
    assert [p["data"]["post"]["id"] for p in emitted.of("post.published")] == [draft.id, later.id]


def test_send_finished(session, emitted):  # type: ignore[no-untyped-def]
    post = make_post(session)
    send = Send(
        post_id=post.id,
        newsletter_id=post.newsletter_id,
        segment="all",
        kind="value",
        state=SendState.SENDING,
        scheduled_at=NOW,
        started_at=NOW,
        resolved=True,
    )
    session.add(send)
    session.flush()
    assert sending.finish_if_done(session, send.id, NOW)
    [finished] = emitted.of("send.finished")
    assert finished["data"]["send"]["id"] == send.id and finished["data"]["send"]["deliveries"] == {}
