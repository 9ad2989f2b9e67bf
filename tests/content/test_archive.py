"""The archive: 20 posts a page newest first, by topic, found by words in any case (both databases)."""

from __future__ import annotations

import datetime as dt

from content import archive, posts, topics
from growth.errors import ValidationFailed
from tests.content.conftest import NOW, make_post


def _titles(html: str, slugs: list[str]) -> list[str]:
    """The slugs in the order the page links them."""
    found = [(html.find(f'href="/p/{s}"'), s) for s in slugs if f'href="/p/{s}"' in html]
    return [s for _, s in sorted(found)]


def test_pages_of_twenty_newest_first(client, session):  # type: ignore[no-untyped-def]
    made = [
        make_post(session, title=f"Archive post {i}", published_at=NOW - dt.timedelta(days=50 - i))
        for i in range(45)
    ]
    make_post(session, title="A draft", status="draft")
    session.commit()
    newest_first = [p.slug for p in reversed(made)]
    everything = newest_first + ["a-draft"]

    first = client.get("/").get_data(as_text=True)
    assert _titles(first, everything) == newest_first[:20]
    assert 'href="/?page=2"' in first and "?page=0" not in first
    second = client.get("/?page=2").get_data(as_text=True)
    assert _titles(second, everything) == newest_first[20:40]
    third = client.get("/?page=3").get_data(as_text=True)
    assert _titles(third, everything) == newest_first[40:]
    assert "Older" not in third and 'href="/?page=2"' in third
    assert "No posts here" in client.get("/?page=4").get_data(as_text=True)


def test_bad_page_numbers_are_a_400(client):  # type: ignore[no-untyped-def]
    for bad in ("0", "-1", "x", "1.5", "9" * 40):
        assert client.get(f"/?page={bad}").status_code == 400, bad


def test_topic_filter_and_unknown_topic(client, session):  # type: ignore[no-untyped-def]
    economics = make_post(session, title="Rates", topics=["Economics"])
    both = make_post(session, title="Trade", topics=["Economics", "Politics"])
    other = make_post(session, title="Votes", topics=["Politics"])
    session.commit()
    page = client.get("/?topic=economics").get_data(as_text=True)
    assert _titles(page, [economics.slug, both.slug, other.slug]) == [both.slug, economics.slug]
    assert client.get("/?topic=nothing-like-it").status_code == 404
    assert client.get("/?topic=%0a").status_code == 404


def test_search_is_case_insensitive_beyond_ascii(client, session):  # type: ignore[no-untyped-def]
    cafe = make_post(session, title="ÉTÉ au CAFÉ", body_markdown="Des **Crêpes** et du thé.")
    grosse = make_post(session, title="Plain", body_markdown="Die STRASSE ist groß.")
    percent = make_post(session, title="Discount", body_markdown="Save 100% today")
    session.commit()
    slugs = [cafe.slug, grosse.slug, percent.slug]
    assert _titles(client.get("/?q=café").get_data(as_text=True), slugs) == [cafe.slug]
    assert _titles(client.get("/?q=crêpes+été").get_data(as_text=True), slugs) == [cafe.slug]
    assert _titles(client.get("/?q=GROSS").get_data(as_text=True), slugs) == [grosse.slug]  # ß folds to ss
    assert _titles(client.get("/?q=crêpes+absent").get_data(as_text=True), slugs) == []
    # LIKE's wildcards are plain characters in a search.
    assert _titles(client.get("/?q=100%25").get_data(as_text=True), slugs) == [percent.slug]
    assert _titles(client.get("/?q=%25").get_data(as_text=True), slugs) == [percent.slug]
    assert _titles(client.get("/?q=_").get_data(as_text=True), slugs) == []


def test_search_follows_edits(session):  # type: ignore[no-untyped-def]
    post = make_post(session, title="Before", body_markdown="old words")
    assert [p.id for p in archive.archive_page(session, NOW, q="old").posts] == [post.id]
    posts.update_post(session, post, posts.PostInput(body_markdown="new words"), NOW)
    assert archive.archive_page(session, NOW, q="old").posts == []
    assert [p.id for p in archive.archive_page(session, NOW, q="NEW").posts] == [post.id]


def test_topics_are_shared_by_slug_and_limited(session):  # type: ignore[no-untyped-def]
    one = make_post(session, title="One", topics=["Machine Learning"])
    two = make_post(session, title="Two", topics=["machine learning", "AI"])
    assert one.topics[0].id == two.topics[1].id or one.topics[0].id == two.topics[0].id
    assert {t.slug for t in two.topics} == {"machine-learning", "ai"}
    assert [t.slug for t in topics.all_topics(session)] == ["ai", "machine-learning"]
    for bad in ([f"t{i}" for i in range(11)], ["!!!"], ["a\nb"], "Economics", [3]):
        try:
            make_post(session, title="Bad", topics=bad)
        except ValidationFailed:
            continue
        raise AssertionError(bad)


def test_the_api_takes_and_answers_topics(client, session, creator_token):  # type: ignore[no-untyped-def]
    auth = {"Authorization": f"Bearer {creator_token}"}
    made = client.post("/api/v1/posts", json={"title": "Tagged", "topics": ["Économie", "AI"]}, headers=auth)
    assert made.status_code == 201
    assert made.get_json()["topics"] == [
        {"slug": "ai", "name": "AI"},
        {"slug": "economie", "name": "Économie"},
    ]
    post_id = made.get_json()["id"]
    changed = client.patch(f"/api/v1/posts/{post_id}", json={"topics": []}, headers=auth)
    assert changed.get_json()["topics"] == []
    for bad in (["?"], "AI", [1], ["x" * 81]):
        answer = client.patch(f"/api/v1/posts/{post_id}", json={"topics": bad}, headers=auth)
        assert answer.status_code in (400, 422) and "error" in answer.get_json(), bad
