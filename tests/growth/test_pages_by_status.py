"""The reader's pages offer what fits their status: no 'Unsubscribe' to the unsubscribed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from growth import links
from growth.db import utcnow
from growth.models import Consent, Newsletter, Subscriber
from growth.subscribers import pause, unsubscribe
from tests.growth.helpers import signup_and_confirm


def reader(client, session, outbox) -> Subscriber:  # type: ignore[no-untyped-def]
    signup_and_confirm(client, outbox, "ana@example.com")
    return session.scalars(select(Subscriber)).one()


def path(url: str) -> str:
    return url.removeprefix("http://masthead.test")


def test_an_unsubscribed_readers_page_offers_subscribing_again(client, session, outbox):
    sub = reader(client, session, outbox)
    unsubscribe(session, sub, utcnow())
    session.commit()
    page = client.get(path(links.manage_url(sub))).get_data(as_text=True)
    assert "Pause for 30 days" not in page and "Leave every newsletter" not in page
    assert "Unsubscribe" not in page
    assert "You're unsubscribed" in page and "Subscribe again" in page
    newsletter = session.scalars(select(Newsletter)).first()
    back = client.post(
        path(links.manage_url(sub)), data={"action": "newsletters", "newsletter": newsletter.id}
    )
    assert back.status_code == 200 and "Welcome back" in back.get_data(as_text=True)
    session.expire_all()
    assert sub.status == "active"
    assert [c.action for c in session.scalars(select(Consent).order_by(Consent.id))][-1] == "resubscribe"


def test_an_unsubscribed_readers_unsubscribe_link_offers_subscribing_again(client, session, outbox):
    sub = reader(client, session, outbox)
    newsletter = session.scalars(select(Newsletter)).first()
    unsubscribe(session, sub, utcnow())
    session.commit()
    for target in (None, newsletter):
        page = client.get(path(links.unsubscribe_url(sub, target)))
        text = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "<button" not in text.split("<main")[1]  # nothing to press: no Unsubscribe, no Leave
        assert "already unsubscribed" in text
        assert f'href="{links.manage_url(sub)}"' in text and "Subscribe again" in text


def test_a_paused_reader_sees_when_the_pause_ends(client, session, outbox):
    sub = reader(client, session, outbox)
    pause(session, sub, utcnow(), 30)
    session.commit()
    ends = sub.paused_until
    assert ends is not None
    when = f"{ends.day} {ends.strftime('%B %Y')}"
    manage = client.get(path(links.manage_url(sub))).get_data(as_text=True)
    assert f"paused until {when}" in manage and "Resume now" in manage and "Pause for 30 days" not in manage
    leaving = client.get(path(links.unsubscribe_url(sub, None))).get_data(as_text=True)
    assert f"paused until {when}" in leaving and "Unsubscribe" in leaving


def test_pause_lengths_and_actions_outside_the_page_are_4xx(client, session, outbox):
    sub = reader(client, session, outbox)
    url = path(links.manage_url(sub))
    for days in ("abc", "0", "9999", "-3"):
        response = client.post(url, data={"action": "pause", "days": days})
        assert response.status_code == 422, days
        assert "1 to 365 days" in response.get_data(as_text=True)
    assert client.post(url, data={"action": "dance"}).status_code == 400
    session.expire_all()
    assert sub.paused_until is None
    assert client.post(url, data={"action": "pause", "days": "7"}).status_code == 200
    session.expire_all()
    assert sub.paused_until is not None and sub.paused_until - utcnow() > dt.timedelta(days=6)
