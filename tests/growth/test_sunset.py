"""Sunset with a fixed clock: one re-engagement email, then inactive; any click brings them back."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from growth import sunset
from growth.db import commit
from growth.db import utcnow as real_now
from growth.models import Delivery, SubscriberEvent, SunsetNotice
from tests.fakes.engagement_data import T0, make_delivery, make_event, make_subscriber
from tests.growth.helpers import link_in, messages


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


@pytest.fixture
def config(app):  # type: ignore[no-untyped-def]
    config = app.config["MASTHEAD"]
    assert (config.engaged_window_days, config.sunset_days, config.sunset_grace_days) == (
        30,
        180,
        14,
    )
    return config


def silent_reader(session, email: str = "silent@example.com"):  # type: ignore[no-untyped-def]
    """Confirmed at T0, sent an issue on day 20, never heard from: disengaged since day 30."""
    sub = make_subscriber(session, email)
    make_delivery(session, sub, day(20))
    return sub


def reload(session, sub):  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get(type(sub), sub.id)


def test_one_notice_after_sunset_days_then_inactive_after_the_grace(session, config, outbox):
    sub = silent_reader(session)
    assert sunset.run_sunset(session, day(209), config) == {"notified": 0, "inactivated": 0}
    assert sunset.run_sunset(session, day(210), config) == {"notified": 1, "inactivated": 0}
    commit()
    [mail] = messages(outbox, "reengage")
    assert "silent@example.com" in mail["To"] and "List-Unsubscribe" in mail
    assert link_in(mail, "/keep/")
    assert sunset.run_sunset(session, day(215), config)["notified"] == 0  # one email, not one per run
    assert sunset.run_sunset(session, day(223), config) == {"notified": 0, "inactivated": 0}
    assert sunset.run_sunset(session, day(224), config) == {"notified": 0, "inactivated": 1}
    sub = reload(session, sub)
    assert sub.status == "inactive" and sub.status_changed_at == day(224)
    [change] = session.scalars(select(SubscriberEvent).where(SubscriberEvent.field == "status")).all()
    assert (change.from_value, change.to_value, change.reason) == ("active", "inactive", "sunset")
    assert sunset.run_sunset(session, day(400), config) == {"notified": 0, "inactivated": 0}
    assert session.scalar(select(func.count()).select_from(SunsetNotice)) == 1


def test_engaging_during_the_grace_keeps_them(session, config):
    sub = silent_reader(session)
    sunset.run_sunset(session, day(210), config)
    make_event(session, sub, "open", day(212))
    assert sunset.run_sunset(session, day(230), config) == {"notified": 0, "inactivated": 0}
    assert reload(session, sub).status == "active"


def test_machine_opens_and_unsent_lists_are_not_sunset(session, config):
    unknown = silent_reader(session, "apple@example.com")
    make_event(session, unknown, "open", day(205), is_machine=True)
    make_subscriber(session, "never-mailed@example.com")  # we never wrote: their silence says nothing
    paused = silent_reader(session, "paused@example.com")
    paused.paused_until = day(400)
    assert sunset.run_sunset(session, day(210), config) == {"notified": 0, "inactivated": 0}


def test_only_active_subscribers_are_sunset(session, config):
    for email, status in (("gone@example.com", "unsubscribed"), ("bad@example.com", "bounced")):
        silent_reader(session, email).status = status
    active = silent_reader(session, "still@example.com")
    assert sunset.run_sunset(session, day(210), config)["notified"] == 1
    assert session.scalars(select(SunsetNotice)).one().subscriber_id == active.id


def test_keep_me_link_keeps_them_with_a_button_for_scanners(client, session, config, outbox):
    sub = silent_reader(session)
    sunset.run_sunset(session, day(210), config)
    commit()
    path = link_in(messages(outbox, "reengage")[0], "/keep/")
    # Fetched seconds after sending: likely a scanner, so a button, and nothing recorded.
    page = client.get(path)
    assert page.status_code == 200 and b'<form method="post"' in page.data
    assert reload(session, sub).status == "active"
    assert session.scalars(select(SunsetNotice)).one().kept_at is None
    done = client.post(path)
    assert done.status_code == 200 and b"You're staying" in done.data
    notice = session.scalars(select(SunsetNotice)).one()
    session.refresh(notice)
    assert notice.kept_at is not None
    assert sunset.run_sunset(session, day(230), config) == {"notified": 0, "inactivated": 0}


def test_keep_me_after_inactive_brings_them_back(client, session, config, outbox):
    sub = silent_reader(session)
    sunset.run_sunset(session, day(210), config)
    commit()
    sunset.run_sunset(session, day(224), config)
    commit()
    assert reload(session, sub).status == "inactive"
    path = link_in(messages(outbox, "reengage")[0], "/keep/")
    assert client.post(path).status_code == 200
    sub = reload(session, sub)
    assert sub.status == "active"
    reasons = [
        e.reason for e in session.scalars(select(SubscriberEvent).where(SubscriberEvent.field == "status"))
    ]
    assert reasons == ["sunset", "web_visit"]


def test_keep_me_one_click_when_not_just_sent(client, app, session, config, outbox):
    sub = silent_reader(session)
    sunset.run_sunset(session, day(210), config)
    commit()
    path = link_in(messages(outbox, "reengage")[0], "/keep/")
    delivery = session.scalars(select(Delivery).where(Delivery.template == "reengage")).one()
    delivery.sent_at = real_now() - dt.timedelta(hours=3)
    commit()
    page = client.get(path)
    assert page.status_code == 200 and b"You're staying" in page.data
    assert session.scalars(select(SunsetNotice)).one().subscriber_id == sub.id


def test_keep_me_link_for_the_unsubscribed_changes_nothing(client, session, config, outbox):
    sub = silent_reader(session)
    sunset.run_sunset(session, day(210), config)
    commit()
    sub.status = "unsubscribed"
    commit()
    path = link_in(messages(outbox, "reengage")[0], "/keep/")
    page = client.post(path)
    assert page.status_code == 200 and b"not on the list" in page.data
    assert reload(session, sub).status == "unsubscribed"


def test_forged_keep_link_is_a_friendly_400(client, session):
    assert client.get("/keep/forged.token").status_code == 400


def test_a_new_silent_spell_after_keeping_gets_a_new_notice(session, config):
    sub = silent_reader(session)
    sunset.run_sunset(session, day(210), config)
    make_event(session, sub, "click", day(211), url="https://example.com")  # a reader after all
    make_delivery(session, sub, day(260))
    # Quiet since day 211: disengaged from day 241, due again on day 421.
    assert sunset.run_sunset(session, day(420), config)["notified"] == 0
    assert sunset.run_sunset(session, day(421), config)["notified"] == 1
    assert session.scalar(select(func.count()).select_from(SunsetNotice)) == 2
