"""Posts: bad fields get a 4xx; a title or name that would break a mail header never stalls a send."""

from __future__ import annotations

import pytest
from flask import g
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from content import send_control, sending
from content.models import BatchState, Post, Send, SendBatch, SendState
from content.posts import RULES
from growth import auth, emails
from growth.db import commit, db, utcnow
from growth.models import Delivery, DeliveryState, Subscriber
from tests.conftest import read_outbox
from tests.content.conftest import add_subscribers, csrf_from, make_post
from tests.growth.helpers import login_as


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "field, value",
    [
        ("preview_text", "Inbox\x00teaser"),
        ("preview_text", "p" * 301),
        ("title", "Two\r\nlines"),
        ("title", "t" * 301),
        ("excerpt", "nul\x00"),
        ("body_markdown", "body with a NUL \x00 in it"),
        ("newsletter", "main\x00"),
        ("audience", "tier:\u00b2"),
        ("audience", "tier:99999999999"),
    ],
)
def test_api_post_fields_get_a_400(client, session, creator_token, field, value):
    body = {"title": "Fine", field: value}
    response = client.post("/api/v1/posts", json=body, headers=bearer(creator_token))
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.get_json()["error"]["message"].startswith(f"{field}:")
    assert session.scalar(select(func.count()).select_from(Post)) == 0


def test_a_body_keeps_its_newlines_and_tabs(client, session, creator_token):
    body = {"title": "Fine", "body_markdown": "line one\n\n\tcode\r\nend"}
    response = client.post("/api/v1/posts", json=body, headers=bearer(creator_token))
    assert response.status_code == 201
    assert response.get_json()["body_markdown"] == "line one\n\n\tcode\r\nend"


def test_segment_with_a_nul_is_refused(client, session, creator_token):
    post = make_post(session)
    session.commit()
    h = bearer(creator_token)
    for segment in ("source:x\x00", "tier:\u00b2", "tier:99999999999"):
        response = client.post(f"/api/v1/posts/{post.id}/send-preview", json={"segment": segment}, headers=h)
        assert response.status_code in {400, 422}, segment


@pytest.fixture
def creator_client(client, session):  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "writer@example.com", "a-long-password", "creator")
    session.commit()
    g.pop("operator", None)
    login_as(client, operator)  # a server-side session (growth.auth)
    return client


@pytest.mark.parametrize(
    "field, value",
    [
        ("preview_text", "teaser\x00"),
        ("title", "t" * 301),
        ("title", "Line\nbreak"),
        ("body_markdown", "\x00"),
        ("audience", "tier:\u00b2"),
        ("published_at", "2026-01-01T00:00\x00"),
    ],
)
def test_admin_post_form_gets_a_422(creator_client, session, field, value):
    page = creator_client.get("/admin/posts/new").get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "title": "From the form", "body_markdown": "Hi", field: value}
    response = creator_client.post("/admin/posts/new", data=form)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert session.scalar(select(func.count()).select_from(Post)) == 0


# ---------------------------------------------------------------------------------------------
# Mail headers


def start(app, post_id: int) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        send = sending.create_send(db.session, db.session.get(Post, post_id), "all", utcnow())
        commit()
        return send.id


def stored_post(session, title: str) -> Post:  # type: ignore[no-untyped-def]
    """A post whose title was stored before titles were checked (or by a direct write)."""
    post = make_post(session)
    session.execute(update(Post).where(Post.id == post.id).values(title=title))
    session.commit()
    session.expire_all()
    return post


def test_a_title_with_crlf_goes_out_on_one_line_and_the_batch_finishes(app, session, outbox):
    add_subscribers(session, 3, name="Ana\r\nBcc: someone@example.com")
    post = stored_post(session, "Big\r\nnews")
    send_id = start(app, post.id)
    session.expire_all()
    assert session.get(Send, send_id).state == SendState.DONE
    assert {b.state for b in session.scalars(select(SendBatch).where(SendBatch.send_id == send_id))} == {
        BatchState.SENT
    }
    mails = read_outbox(outbox)
    assert len(mails) == 3
    for mail in mails:
        assert mail["Subject"] == "Big news"
        assert mail["To"].addresses[0].display_name == "Ana Bcc: someone@example.com"
        assert mail["Bcc"] is None


def test_one_unsendable_recipient_fails_alone(app, session, outbox):
    ids = add_subscribers(session, 3)
    session.execute(
        update(Subscriber)
        .where(Subscriber.id == ids[1])
        .values(email="bad@example.com\r\nBcc: x@example.com")
    )
    post = make_post(session)
    session.commit()
    send_id = start(app, post.id)
    session.expire_all()
    by_subscriber = dict(
        session.execute(
            select(Delivery.subscriber_id, Delivery.state).where(Delivery.send_id == send_id)
        ).all()
    )
    assert by_subscriber == {ids[0]: "sent", ids[1]: "failed", ids[2]: "sent"}
    assert session.get(Send, send_id).state == SendState.DONE
    assert len(read_outbox(outbox)) == 2
    failed = session.scalars(select(Delivery).where(Delivery.state == "failed")).one()
    assert "address" in failed.error


def test_a_recipient_that_cannot_be_rendered_fails_alone(app, session, outbox):
    ids = add_subscribers(session, 3)
    post = make_post(session)
    session.commit()

    def broken(_session, subscriber, _context):  # type: ignore[no-untyped-def]
        if subscriber.id == ids[0]:
            raise RuntimeError("cannot render this one")
        return {}

    emails.register_context_provider(broken)
    try:
        send_id = start(app, post.id)
    finally:
        emails._context_providers.remove(broken)
    session.expire_all()
    states = dict(
        session.execute(
            select(Delivery.subscriber_id, Delivery.state).where(Delivery.send_id == send_id)
        ).all()
    )
    assert states == {ids[0]: "failed", ids[1]: "sent", ids[2]: "sent"}
    assert session.get(Send, send_id).state == SendState.DONE


def test_a_backend_that_raises_leaves_the_batch_unknown_not_in_flight(app, session, outbox):
    add_subscribers(session, 2)
    post = make_post(session)
    session.commit()
    backend = app.extensions["masthead_mailer"]

    class Exploding:
        name = "outbox"

        def send(self, message):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

        def send_batch(self, batch):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    app.extensions["masthead_mailer"] = Exploding()
    try:
        send_id = start(app, post.id)
    finally:
        app.extensions["masthead_mailer"] = backend
    session.expire_all()
    [batch] = session.scalars(select(SendBatch).where(SendBatch.send_id == send_id))
    assert batch.state == BatchState.UNKNOWN and "boom" in batch.error
    assert {d.state for d in session.scalars(select(Delivery).where(Delivery.send_id == send_id))} == {
        DeliveryState.UNKNOWN
    }


def test_test_send_of_a_crlf_title_is_sent_on_one_line(client, session, creator_token, outbox):
    post = stored_post(session, "Big\r\nnews")
    response = client.post(
        f"/api/v1/posts/{post.id}/test-send", json={"email": "me@example.com"}, headers=bearer(creator_token)
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    [mail] = read_outbox(outbox)
    assert mail["Subject"] == "[Test] Big news"


def test_test_send_address_with_control_characters_is_refused(client, session, creator_token):
    post = make_post(session)
    session.commit()
    response = client.post(
        f"/api/v1/posts/{post.id}/test-send",
        json={"email": "me@example.com\r\nBcc: x@example.com"},
        headers=bearer(creator_token),
    )
    assert response.status_code in {400, 422}


def test_send_control_resend_still_works_after_a_failed_recipient(app, session, outbox):
    """A failed recipient is the operator's to retry; the batch itself is sent, not failed."""
    ids = add_subscribers(session, 2)
    session.execute(update(Subscriber).where(Subscriber.id == ids[0]).values(email="bad\x01@example.com"))
    post = make_post(session)
    session.commit()
    send_id = start(app, post.id)
    session.expire_all()
    [batch] = session.scalars(select(SendBatch).where(SendBatch.send_id == send_id))
    assert batch.state == BatchState.SENT
    progress = send_control.progress(session, session.get(Send, send_id))
    assert (progress.figures["sent"], progress.figures["failed"]) == (1, 1)


# ---------------------------------------------------------------------------------------------
# Properties (hypothesis): any text in the post form and the API is a 2xx or a 4xx

NASTY = "\x00\r\n\t\x0b\x1b\x7f\x85\u2028 \u00e9"
text = st.one_of(
    st.text(st.one_of(st.sampled_from(NASTY), st.characters(exclude_categories=["Cs"])), max_size=30),
    st.integers(295, 305).map(lambda n: "t" * n),
)
FEW = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FEW
@given(title=text, preview=text, excerpt=text)
def test_admin_post_form_never_500s_and_stores_only_valid_text(
    creator_client, session, title, preview, excerpt
):
    page = creator_client.get("/admin/posts/new").get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "title": title, "preview_text": preview, "excerpt": excerpt}
    response = creator_client.post("/admin/posts/new", data=form)
    assert response.status_code in {302, 409, 422}
    if response.status_code == 302:
        post = session.get(Post, int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1]))
        for name, value in (("title", post.title), ("preview_text", post.preview_text)):
            assert RULES[name].clean(value) == value
        assert "\x00" not in post.excerpt


@FEW
@given(title=text, body=text)
def test_post_api_never_500s(client, session, creator_token, title, body):
    response = client.post(
        "/api/v1/posts", json={"title": title, "body_markdown": body}, headers=bearer(creator_token)
    )
    assert response.status_code in {201, 400, 409, 422}


def test_sendgrid_batch_gets_header_safe_names_and_subject(sg_app, session, fake_sendgrid):
    add_subscribers(session, 2, name="Ana\r\nLima")
    post = stored_post(session, "Big\r\nnews")
    send_id = start(sg_app, post.id)
    [body] = fake_sendgrid.requests
    assert body["subject"] == "Big news"
    assert {p["to"][0]["name"] for p in body["personalizations"]} == {"Ana Lima"}
    session.expire_all()
    assert session.get(Send, send_id).state == SendState.DONE
