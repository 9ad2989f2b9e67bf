"""The creators' JSON API and admin pages."""

from __future__ import annotations

from flask import g

from growth import auth
from tests.content.conftest import add_subscribers, csrf_from
from tests.growth.helpers import login_as, messages


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_needs_a_token(client):  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/posts")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"


def test_write_publish_preview_and_send_through_the_api(client, session, creator_token, outbox):  # type: ignore[no-untyped-def]
    add_subscribers(session, 3)
    session.commit()
    h = bearer(creator_token)
    created = client.post(
        "/api/v1/posts",
        json={
            "title": "First issue",
            "body_markdown": "Hello <script>x()</script>",
            "preview_text": "Hi",
        },
        headers=h,
    )
    assert created.status_code == 201, created.get_json()
    post = created.get_json()
    assert post["slug"] == "first-issue" and post["status"] == "draft" and "<script" not in post["body_html"]
    assert client.post(f"/api/v1/posts/{post['id']}/sends", json={}, headers=h).status_code == 422
    published = client.patch(f"/api/v1/posts/{post['id']}", json={"status": "published"}, headers=h)
    assert published.get_json()["published_at"]
    preview = client.post(f"/api/v1/posts/{post['id']}/send-preview", json={"segment": "all"}, headers=h)
    assert preview.get_json()["summary"] == "3 will receive"
    sent = client.post(f"/api/v1/posts/{post['id']}/sends", json={"segment": "all"}, headers=h)
    assert sent.status_code == 202
    # without Redis the send ran before the answer; the answer says so, not a stale "sending"
    assert sent.get_json()["state"] == "done" and sent.get_json()["progress"]["sent"] == 3
    send = client.get(f"/api/v1/sends/{sent.get_json()['id']}", headers=h).get_json()
    assert send["state"] == "done" and send["progress"]["sent"] == 3 and send["progress"]["total"] == 3
    assert len(messages(outbox, "post")) == 3
    assert [p["id"] for p in client.get("/api/v1/posts", headers=h).get_json()["posts"]] == [post["id"]]


def test_api_validation_errors(client, session, creator_token):  # type: ignore[no-untyped-def]
    h = bearer(creator_token)
    assert client.post("/api/v1/posts", json={"title": "x", "audience": "vip"}, headers=h).status_code == 400
    assert client.post("/api/v1/posts", json={"title": "x", "kind": "ad"}, headers=h).status_code == 400
    assert client.post("/api/v1/posts", json={"title": "x", "bogus": 1}, headers=h).status_code == 400
    assert client.post("/api/v1/posts", json={"title": "a", "slug": "taken"}, headers=h).status_code == 201
    conflict = client.post("/api/v1/posts", json={"title": "b", "slug": "taken"}, headers=h)
    assert conflict.status_code == 409 and conflict.get_json()["error"]["code"] == "slug_taken"
    bad_time = client.post(
        "/api/v1/posts", json={"title": "c", "published_at": "2026-01-01T00:00"}, headers=h
    )
    assert bad_time.status_code == 400
    schedule = client.post("/api/v1/posts", json={"title": "d", "status": "scheduled"}, headers=h)
    assert schedule.status_code == 422 and schedule.get_json()["error"]["code"] == "invalid_schedule"
    assert client.get("/api/v1/posts/999999", headers=h).status_code == 404
    post = client.post("/api/v1/posts", json={"title": "e", "status": "published"}, headers=h).get_json()
    bad = client.post(f"/api/v1/posts/{post['id']}/sends", json={"segment": "stage:paying"}, headers=h)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_segment"
    assert client.post("/api/v1/sends/999/batches/1/resend", headers=h).status_code == 404


def test_test_send_and_scheduled_send_cancel(client, session, creator_token, outbox):  # type: ignore[no-untyped-def]
    h = bearer(creator_token)
    post = client.post("/api/v1/posts", json={"title": "Proof", "status": "published"}, headers=h).get_json()
    response = client.post(
        f"/api/v1/posts/{post['id']}/test-send", json={"email": "me@example.com"}, headers=h
    )
    assert response.status_code == 200
    (proof,) = messages(outbox, "post")
    assert proof["To"] == "me@example.com" and proof["Subject"] == "[Test] Proof"
    later = client.post(
        f"/api/v1/posts/{post['id']}/sends",
        json={"scheduled_at": "2099-01-01T09:00:00Z"},
        headers=h,
    ).get_json()
    assert later["state"] == "scheduled"
    cancelled = client.post(f"/api/v1/sends/{later['id']}/cancel", headers=h)
    assert cancelled.get_json()["state"] == "cancelled"
    assert client.post(f"/api/v1/sends/{later['id']}/cancel", headers=h).status_code == 409


def test_every_content_endpoint_is_in_the_openapi_document(client):  # type: ignore[no-untyped-def]
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/posts",
        "/api/v1/posts/{post_id}",
        "/api/v1/posts/{post_id}/send-preview",
        "/api/v1/posts/{post_id}/sends",
        "/api/v1/posts/{post_id}/test-send",
        "/api/v1/sends/{send_id}",
        "/api/v1/sends/{send_id}/batches/{number}/resend",
        "/api/v1/sends/{send_id}/send-to-skipped",
        "/api/v1/sends/{send_id}/cancel",
        "/api/v1/sends/{send_id}/decide",
        "/api/v1/subscribers/{subscriber_id}/value-to-pitch",
    ):
        assert path in paths, path


def test_admin_pages_write_preview_and_send(client, session, outbox):  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "writer@example.com", "a-long-password", "creator")
    add_subscribers(session, 2)
    session.commit()
    assert client.get("/admin/posts").status_code == 302  # to the login page
    g.pop("operator", None)  # the test's app context outlives requests; forget the anonymous one
    login_as(client, operator)
    page = client.get("/admin/posts/new").get_data(as_text=True)
    form = {
        "csrf_token": csrf_from(page),
        "title": "From the form",
        "body_markdown": "Hello",
        "kind": "value",
        "audience": "public",
        "newsletter": "main",
        "status": "published",
        "excerpt": "",
        "preview_text": "",
    }
    assert client.post("/admin/posts/new", data={**form, "audience": "vip"}).status_code == 422
    created = client.post("/admin/posts/new", data=form)
    assert created.status_code == 302
    edit_url = created.headers["Location"]
    post_id = int(edit_url.rstrip("/").rsplit("/", 1)[1])
    token = csrf_from(client.get(edit_url).get_data(as_text=True))
    preview = client.post(f"/admin/posts/{post_id}/preview", data={"csrf_token": token, "segment": "all"})
    assert "2 will receive" in preview.get_data(as_text=True)
    asked = client.post(f"/admin/posts/{post_id}/sends", data={"csrf_token": token, "segment": "all"})
    assert asked.status_code == 200 and "<b>2</b> readers will receive it" in asked.get_data(as_text=True)
    assert messages(outbox, "post") == []  # nothing goes before the operator confirms
    sent = client.post(
        f"/admin/posts/{post_id}/sends", data={"csrf_token": token, "segment": "all", "confirmed": "yes"}
    )
    assert sent.status_code == 302
    progress = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "done" in progress and "<b>2</b>sent" in progress
    assert len(messages(outbox, "post")) == 2
    assert client.get("/admin/value-to-pitch").status_code == 403  # subscriber by subscriber: admins
    assert client.post(f"/admin/posts/{post_id}/sends", data={"segment": "all"}).status_code == 400  # no CSRF
