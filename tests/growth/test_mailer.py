"""Mail delivery: the outbox's .eml files, the SendGrid payload through the real SDK, states."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from growth import mailer
from growth.db import commit
from growth.models import Delivery, Status, Subscriber
from growth.subscribers import set_status
from tests.growth.helpers import messages, signup, signup_and_confirm


def test_outbox_writes_rfc5322_with_unbroken_links_and_kind(client, session, outbox):
    long_name = "Ana " + "Maria " * 20
    signup(client, "long.address.for.testing.links@example.com", name=long_name.strip())
    [path] = list(outbox.glob("*.eml"))
    raw = path.read_bytes()
    assert b'Content-Type: text/plain; charset="utf-8"' in raw
    assert b"X-Masthead-Kind: confirmation" in raw
    assert b"Content-Transfer-Encoding: 8bit" in raw
    # in the raw text/plain part, the link stands whole on its own line (no folding, no QP)
    text_part = (
        raw.decode().split('Content-Type: text/plain; charset="utf-8"')[1].split("Content-Type: text/html")[0]
    )
    [link_line] = [line for line in text_part.splitlines() if "/confirm/" in line]
    assert link_line.startswith("http://masthead.test/confirm/") and " " not in link_line
    assert client.get(link_line.removeprefix("http://masthead.test")).status_code == 200
    [message] = messages(outbox, "confirmation")
    assert message["Message-ID"] and message["Date"] and message["From"]


def test_confirmation_link_is_logged(client, outbox, caplog):
    caplog.set_level("INFO", logger="growth.subscribers")
    signup(client, "log@example.com")
    assert any("http://masthead.test/confirm/" in r.getMessage() for r in caplog.records)


def test_sendgrid_payload_shape(app_factory, session, fake_sendgrid):
    app = app_factory(
        mail_backend="sendgrid", sendgrid_api_key="SG.test", sendgrid_api_host=fake_sendgrid.url
    )
    client = app.test_client()
    client.post("/api/v1/subscribers", json={"email": "sg@example.com", "name": "Sam"})
    [body] = fake_sendgrid.requests
    assert fake_sendgrid.headers[0]["Authorization"] == "Bearer SG.test"
    assert body["personalizations"] == [{"to": [{"email": "sg@example.com", "name": "Sam"}]}]
    assert body["from"] == {"email": "newsletter@localhost", "name": "Masthead"}
    assert body["tracking_settings"] == {"subscription_tracking": {"enable": False}}
    delivery = session.scalars(select(Delivery)).one()
    sub = session.scalars(select(Subscriber)).one()
    assert body["custom_args"] == {
        "delivery_id": str(delivery.id),
        "subscriber_id": str(sub.id),
        "kind": "transactional",
        "template": "confirmation",
    }
    assert body["headers"]["X-Masthead-Kind"] == "confirmation"
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert delivery.state == "sent" and delivery.provider == "sendgrid" and delivery.provider_message_id


def test_sendgrid_list_mail_carries_one_click_headers(app_factory, session, fake_sendgrid, outbox):
    app = app_factory(
        mail_backend="sendgrid", sendgrid_api_key="SG.test", sendgrid_api_host=fake_sendgrid.url
    )
    client = app.test_client()
    client.post("/api/v1/subscribers", json={"email": "w@example.com"})
    import re

    link = re.search(
        r"http://masthead\.test(/confirm/\S+)", fake_sendgrid.requests[0]["content"][0]["value"]
    ).group(1)
    client.get(link)
    welcome = fake_sendgrid.requests[-1]
    assert welcome["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert welcome["headers"]["List-Unsubscribe"].startswith("<http://masthead.test/unsubscribe/")


def test_permanent_sendgrid_error_marks_failed(app_factory, session, fake_sendgrid):
    app = app_factory(
        mail_backend="sendgrid", sendgrid_api_key="SG.test", sendgrid_api_host=fake_sendgrid.url
    )
    fake_sendgrid.fail_next.append(400)
    app.test_client().post("/api/v1/subscribers", json={"email": "f@example.com"})
    delivery = session.scalars(select(Delivery)).one()
    assert delivery.state == "failed" and "400" in delivery.error
    assert fake_sendgrid.requests == []


@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="with Redis, RQ retries the job instead")
def test_transient_error_leaves_delivery_queued_for_retry(app_factory, session, fake_sendgrid):
    app = app_factory(
        mail_backend="sendgrid", sendgrid_api_key="SG.test", sendgrid_api_host=fake_sendgrid.url
    )
    fake_sendgrid.fail_next.append(503)
    app.test_client().post("/api/v1/subscribers", json={"email": "t@example.com"})
    delivery = session.scalars(select(Delivery)).one()
    assert delivery.state == "queued" and delivery.attempts == 1
    with app.app_context():
        assert mailer.send_delivery(delivery.id) == "sent"
    assert len(fake_sendgrid.requests) == 1


def test_send_delivery_is_exactly_once(client, session, outbox, app):
    signup(client, "once@example.com")
    delivery = session.scalars(select(Delivery)).one()
    with app.app_context():
        assert mailer.send_delivery(delivery.id) == "sent"  # already sent: nothing happens
    assert len(list(outbox.glob("*.eml"))) == 1


def test_a_delivery_left_sending_is_not_resent(client, session, outbox, app):
    signup(client, "crash@example.com")
    delivery = session.scalars(select(Delivery)).one()
    delivery.state = "sending"  # as if a worker died inside the provider request
    session.commit()
    with app.app_context():
        assert mailer.send_delivery(delivery.id) == "sending"
    assert len(list(outbox.glob("*.eml"))) == 1


def test_list_mail_never_reaches_anyone_not_active(client, session, outbox, app):
    signup_and_confirm(client, outbox, "x@example.com")
    sub = session.scalars(select(Subscriber)).one()
    for status in (Status.UNSUBSCRIBED, Status.BOUNCED, Status.COMPLAINED, Status.INACTIVE, Status.PENDING):
        assert not mailer.may_receive(sub.__class__(status=status), "value")
        assert not mailer.may_receive(sub.__class__(status=status), "pitch")
    with app.app_context():
        from growth import emails
        from growth.db import db

        subscriber = db.session.get(Subscriber, sub.id)
        set_status(db.session, subscriber, Status.UNSUBSCRIBED, subscriber.created_at)
        delivery = emails.queue_email(db.session, subscriber, "welcome", kind="value")
        commit()
        db.session.refresh(delivery)
        assert delivery.state == "skipped"
    assert len(messages(outbox, "welcome")) == 1  # only the one sent while active


def test_a_delivery_another_worker_claimed_is_not_sent_again(client, session, outbox):
    """Two workers can read the same queued delivery: only the one whose claim lands sends it."""
    from sqlalchemy import update

    from growth import emails, jobs

    signup(client, "twice@example.com")
    before = len(list(outbox.glob("*.eml")))
    subscriber = session.scalars(select(Subscriber).where(Subscriber.email == "twice@example.com")).one()
    delivery = emails.queue_email(session, subscriber, "confirmation", list_mail=False, confirm_url="x")
    jobs.discard_pending()
    commit()
    assert delivery.state == "queued"  # this worker's read
    # meanwhile another worker claims it (its row changes under this session's loaded object)
    session.execute(
        update(Delivery).where(Delivery.id == delivery.id).values(state="sending"),
        execution_options={"synchronize_session": False},
    )
    assert mailer.send_delivery(delivery.id) == "sending"
    assert len(list(outbox.glob("*.eml"))) == before
