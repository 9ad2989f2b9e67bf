"""A bounced or complained reader stays suppressed until an operator lifts it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from growth import auth, links
from growth.db import utcnow
from growth.models import Membership, Subscriber, SubscriberEvent
from growth.subscribers import set_status
from tests.growth.helpers import link_in, messages, signup, signup_and_confirm


def suppressed_reader(client, session, outbox, status: str) -> Subscriber:  # type: ignore[no-untyped-def]
    signup_and_confirm(client, outbox, "gone@example.com")
    sub = session.scalars(select(Subscriber)).one()
    set_status(session, sub, status, utcnow(), reason="test")
    session.commit()
    return sub


def status_events(session, sub: Subscriber) -> list[tuple[str | None, str, str | None]]:  # type: ignore[no-untyped-def]
    rows = session.scalars(
        select(SubscriberEvent)
        .where(SubscriberEvent.subscriber_id == sub.id, SubscriberEvent.field == "status")
        .order_by(SubscriberEvent.id)
    )
    return [(e.from_value, e.to_value, e.reason) for e in rows]


@pytest.fixture
def admin_token(session) -> str:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "op@example.com", "correct horse battery", "admin")
    return auth.create_token(session, operator)


@pytest.mark.parametrize("status", ["complained", "bounced"])
def test_an_old_confirmation_link_does_not_lift_a_suppression(client, session, outbox, status):
    signup(client, "gone@example.com")
    link = link_in(messages(outbox, "confirmation")[0], "/confirm/")
    sub = session.scalars(select(Subscriber)).one()
    set_status(session, sub, status, utcnow(), reason="test")
    session.commit()
    page = client.get(link)
    assert page.status_code == 409
    assert b"newsletter@localhost" in page.data and b"only we can" in page.data.lower()
    session.expire_all()
    assert sub.status == status
    assert messages(outbox, "welcome") == []
    assert status_events(session, sub)[-1] == ("pending", status, "test")


@pytest.mark.parametrize("status", ["complained", "bounced"])
def test_the_newsletters_form_does_not_lift_a_suppression(client, session, outbox, status):
    sub = suppressed_reader(client, session, outbox, status)
    before = [(m.newsletter_id, m.status) for m in sub.memberships]
    path = links.manage_url(sub).removeprefix("http://masthead.test")
    page = client.post(path, data={"action": "newsletters", "newsletter": [str(before[0][0])]})
    assert page.status_code == 409
    assert b"newsletter@localhost" in page.data
    session.expire_all()
    assert sub.status == status
    assert [(m.newsletter_id, m.status) for m in session.scalars(select(Membership))] == before
    assert b'value="newsletters"' not in client.get(path).data  # the page offers no such form


def test_an_admin_lifts_a_suppression_through_the_api(client, session, outbox, admin_token):
    sub = suppressed_reader(client, session, outbox, "complained")
    headers = {"Authorization": f"Bearer {admin_token}"}
    response = client.post(f"/api/v1/subscribers/{sub.id}/lift-suppression", headers=headers)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "active"
    session.expire_all()
    assert sub.status == "active"
    assert status_events(session, sub)[-1] == ("complained", "active", "suppression_lifted:op@example.com")
    assert len(messages(outbox, "welcome")) == 1  # lifting sends nothing
    again = client.post(f"/api/v1/subscribers/{sub.id}/lift-suppression", headers=headers)
    assert again.status_code == 409 and again.json["error"]["code"] == "not_suppressed"


def test_a_never_confirmed_reader_is_lifted_to_pending(client, session, outbox, admin_token):
    signup(client, "gone@example.com")
    sub = session.scalars(select(Subscriber)).one()
    set_status(session, sub, "bounced", utcnow(), reason="test")
    session.commit()
    headers = {"Authorization": f"Bearer {admin_token}"}
    response = client.post(f"/api/v1/subscribers/{sub.id}/lift-suppression", headers=headers)
    assert response.status_code == 200 and response.json["status"] == "pending"


def test_only_an_admin_may_lift_a_suppression(client, session, outbox):
    sub = suppressed_reader(client, session, outbox, "bounced")
    creator = auth.create_operator(session, "writer@example.com", "correct horse battery", "creator")
    creator_token = auth.create_token(session, creator)
    session.commit()
    path = f"/api/v1/subscribers/{sub.id}/lift-suppression"
    assert client.post(path).status_code == 401
    forbidden = client.post(path, headers={"Authorization": f"Bearer {creator_token}"})
    assert forbidden.status_code == 403 and forbidden.json["error"]["code"] == "forbidden"
    missing = client.post("/api/v1/subscribers/999999/lift-suppression", headers={"Authorization": "x"})
    assert missing.status_code == 401
    session.expire_all()
    assert sub.status == "bounced"
