"""The send-rate cap: batches spread by the cap (a fake clock), the tick resuming, the estimate."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from content import metrics, pacing, send_control, sending
from content.models import BatchState, Send, SendBatch, SendState
from growth import jobs
from growth.db import db
from growth.subscribers import default_newsletter
from tests.content.conftest import NOW, add_subscribers, csrf_from, make_post
from tests.growth.helpers import login_as

T0 = NOW
MIN = dt.timedelta(minutes=1)


def test_pace_room_hand_computed():
    # 24 an hour: 2 per five minutes.
    assert metrics.pace_room(24, [], T0) == 2
    assert metrics.pace_room(24, [(T0 - 4 * MIN, 2)], T0) == 0  # the slot is used
    assert metrics.pace_room(24, [(T0 - 5 * MIN, 2)], T0) == 2  # it has just passed
    # 20 in the last hour leaves 4 for the hour, of which 2 in this slot.
    assert metrics.pace_room(24, [(T0 - 58 * MIN, 20)], T0) == 2
    assert metrics.pace_room(24, [(T0 - 58 * MIN, 23)], T0) == 1  # the hour binds
    assert metrics.pace_room(24, [(T0 - 60 * MIN, 24)], T0) == 2  # an hour ago no longer counts
    assert metrics.pace_room(5, [], T0) == 1  # below twelve an hour: one at a time


def test_paced_finish_hand_computed():
    assert metrics.paced_finish(24, [], 0, T0) == T0
    # 5 messages at 2 per five minutes: 2 at T0, 2 at +5, 1 at +10.
    assert metrics.paced_finish(24, [], 5, T0) == T0 + 10 * MIN
    # The slot was just used at T0 - 1 min: the first room is at T0 + 4 min, then every 5.
    assert metrics.paced_finish(24, [(T0 - MIN, 2)], 3, T0) == T0 + 9 * MIN
    # 120 an hour, 25 messages: 10, 10, 5 -> T0 + 10 min.
    assert metrics.paced_finish(120, [], 25, T0) == T0 + 10 * MIN
    # One an hour, 2,000 messages: far beyond the 60-day horizon.
    assert metrics.paced_finish(1, [], 2000, T0) is None


def _sending(session, n: int) -> Send:  # type: ignore[no-untyped-def]
    add_subscribers(session, n)
    post = make_post(session)
    send = sending.create_send(session, post, "all", T0 - dt.timedelta(days=1), scheduled_at=T0)
    send.state, send.started_at = SendState.SENDING, T0
    session.flush()
    return send


def _sent(session, batches) -> None:  # type: ignore[no-untyped-def]
    for batch in batches:
        batch.state = BatchState.SENT
    session.flush()


def test_cap_spreads_the_batches_and_the_tick_resumes(app, session):  # type: ignore[no-untyped-def]
    send = _sending(session, 7)
    pacing.set_rate(session, send.newsletter_id, 24, T0)

    first = sending.plan_next_batch(session, send.id, T0)
    assert [b.size for b in first] == [2]
    assert sending.plan_next_batch(session, send.id, T0 + MIN) == []  # the slot is used
    _sent(session, first)
    # The tick looks every minute: nothing to do before the slot has passed...
    assert send_control.send_due(session, T0 + 4 * MIN)["resumed"] == 0
    # ...and resumes the send (not after a five-minute stall) once there is room.
    assert send_control.send_due(session, T0 + 5 * MIN)["resumed"] == 1
    jobs.discard_pending()

    planned_at = {}
    for minutes in (5, 10, 15):
        batches = sending.plan_next_batch(session, send.id, T0 + minutes * MIN)
        planned_at[minutes] = [b.size for b in batches]
        _sent(session, batches)
    assert planned_at == {5: [2], 10: [2], 15: [1]}
    sizes = session.scalars(select(SendBatch.size).where(SendBatch.send_id == send.id)).all()
    assert sorted(sizes) == [1, 2, 2, 2]  # everyone once
    assert sending.plan_next_batch(session, send.id, T0 + 20 * MIN) == []
    assert session.get(Send, send.id).resolved


def test_uncapped_send_plans_everything_at_once(app, session):  # type: ignore[no-untyped-def]
    send = _sending(session, 7)
    assert [b.size for b in sending.plan_next_batch(session, send.id, T0)] == [7]


def test_cap_counts_every_send_of_the_newsletter(app, session):  # type: ignore[no-untyped-def]
    send = _sending(session, 3)
    pacing.set_rate(session, send.newsletter_id, 24, T0)
    other = sending.create_send(session, send.post, "all", T0 - dt.timedelta(days=1), scheduled_at=T0)
    other.state = SendState.SENDING
    session.flush()
    assert [b.size for b in sending.plan_next_batch(session, send.id, T0)] == [2]
    assert sending.plan_next_batch(session, other.id, T0) == []  # the newsletter's slot is used


def test_outlook_estimates_the_finish(app, session):  # type: ignore[no-untyped-def]
    send = _sending(session, 7)
    assert pacing.outlook(session, send, T0) is None  # no cap, no estimate
    pacing.set_rate(session, send.newsletter_id, 24, T0)
    assert pacing.outlook(session, send, T0) == pacing.Pace(24, 7, T0 + 15 * MIN)
    sending.plan_next_batch(session, send.id, T0)
    # 5 left; the slot used at T0: 2 at +5, 2 at +10, 1 at +15.
    assert pacing.outlook(session, send, T0 + MIN) == pacing.Pace(24, 5, T0 + 15 * MIN)


def test_send_page_sets_the_cap_and_shows_the_finish(app, client, session):  # type: ignore[no-untyped-def]
    from growth import auth

    send = _sending(session, 3)
    session.commit()
    login_as(client, auth.create_operator(session, "pace@example.com", "a-long-password", "creator"))
    page = client.get(f"/admin/sends/{send.id}")
    assert "No cap" in page.text
    token = csrf_from(page.text)
    bad = client.post(f"/admin/sends/{send.id}/send-rate", data={"csrf_token": token, "per_hour": "-3"})
    assert bad.status_code == 422 and "whole number" in bad.text
    assert pacing.rate_of(db.session, send.newsletter_id) is None
    done = client.post(f"/admin/sends/{send.id}/send-rate", data={"csrf_token": token, "per_hour": "600"})
    assert done.status_code == 302
    page = client.get(f"/admin/sends/{send.id}")
    assert "At most 600 messages an hour" in page.text and "Expected to finish around" in page.text
    client.post(f"/admin/sends/{send.id}/send-rate", data={"csrf_token": token, "per_hour": ""})
    assert pacing.rate_of(db.session, send.newsletter_id) is None


def test_send_rate_command(app, session):  # type: ignore[no-untyped-def]
    slug = default_newsletter(session).slug
    session.commit()
    runner = app.test_cli_runner()
    assert "at most 1,200 post emails per hour" in runner.invoke(args=["send-rate", slug, "1200"]).output
    assert "no cap" in runner.invoke(args=["send-rate", slug, "off"]).output
    assert runner.invoke(args=["send-rate", slug, "0"]).exit_code != 0
    assert runner.invoke(args=["send-rate", "nope"]).exit_code != 0


def _minute_by_minute(per_hour, recent, remaining, now):  # type: ignore[no-untyped-def]
    """The reference: look at every tick, one minute apart, until everything is out."""
    history, at = list(recent), now
    while remaining > 0:
        if at - now > metrics.PACE_HORIZON:
            return None
        room = metrics.pace_room(per_hour, history, at)
        if room > 0:
            handed = min(room, remaining)
            remaining -= handed
            history.append((at, handed))
            if remaining == 0:
                return at
        at += MIN
    return now


def test_paced_finish_matches_the_minute_by_minute_reference():
    import random

    rng = random.Random(15)
    for _ in range(80):
        per_hour = rng.choice([1, 3, 5, 11, 12, 13, 24, 25, 100, 137, 1000])
        remaining = rng.randint(1, per_hour * 20)
        recent = [
            (T0 - dt.timedelta(seconds=rng.randint(1, 3599)), rng.randint(1, max(1, per_hour // 3)))
            for _ in range(rng.randint(0, 4))
        ]
        expected = _minute_by_minute(per_hour, recent, remaining, T0)
        case = (per_hour, remaining, recent)
        assert metrics.paced_finish(per_hour, recent, remaining, T0) == expected, case
