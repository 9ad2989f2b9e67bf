"""Segments resolved at send time, and value before pitch with a fixed clock."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from content import send_control, sending
from content.models import Post, SendState
from content.segments import parse_segment, preview
from growth import jobs
from growth.db import commit, db, utcnow
from growth.errors import ValidationFailed
from growth.models import Delivery, Newsletter, Subscriber
from tests.content.conftest import NOW, add_subscribers, engage, make_post, pitched
from tests.content.test_sending import recipients_of, start


@pytest.fixture
def population(session, tiers):  # type: ignore[no-untyped-def]
    """One of each kind of member, plus people no segment may reach."""
    ids = {
        "free": add_subscribers(session, 1, prefix="free", source="twitter")[0],
        "engaged": add_subscribers(session, 1, prefix="engaged", stage="engaged")[0],
        "nurtured": add_subscribers(session, 1, prefix="nurtured", stage="nurtured", source="podcast")[0],
        "paying_stage": add_subscribers(session, 1, prefix="payingstage", stage="paying")[0],
        "tier1": add_subscribers(session, 1, prefix="tierone")[0],
        "tier2": add_subscribers(session, 1, prefix="tiertwo", stage="engaged")[0],
    }
    tiers[ids["tier1"]] = 1
    tiers[ids["tier2"]] = 2
    other = Newsletter(slug="other", name="Other")
    session.add(other)
    session.flush()
    add_subscribers(session, 1, newsletter=other, prefix="elsewhere")
    add_subscribers(session, 1, prefix="gone", status="unsubscribed", stage="engaged")
    add_subscribers(session, 1, prefix="complained", status="complained", source="podcast")
    return ids


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ("all", {"free", "engaged", "nurtured", "payingstage", "tierone", "tiertwo"}),
        ("free", {"free", "engaged", "nurtured"}),
        ("paying", {"payingstage", "tierone", "tiertwo"}),
        ("tier:1", {"tierone"}),
        ("tier:2", {"tiertwo"}),
        ("stage:engaged", {"engaged", "tiertwo"}),
        ("stage:nurtured", {"nurtured"}),
        ("source:podcast", {"nurtured"}),
        ("source:twitter", {"free"}),
    ],
)
def test_every_segment_reaches_its_active_members_only(
    sg_app, session, fake_sendgrid, population, segment, expected
):  # type: ignore[no-untyped-def]
    post = make_post(session)
    session.commit()
    start(sg_app, post.id, segment)
    assert {e.split("-")[0] for e in recipients_of(fake_sendgrid)} == expected


def test_segment_of_another_newsletter(sg_app, session, fake_sendgrid, population):  # type: ignore[no-untyped-def]
    post = make_post(session, newsletter="other")
    session.commit()
    start(sg_app, post.id)
    assert [e.split("-")[0] for e in recipients_of(fake_sendgrid)] == ["elsewhere"]


@pytest.mark.parametrize("raw", ["tier:x", "stage:paying", "source:", "everyone", "free:1"])
def test_unknown_segments_are_refused(raw):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed):
        parse_segment(raw)


@pytest.fixture
def audience(session):  # type: ignore[no-untyped-def]
    """a: nurtured; b: two value emails only; c: nurtured, pitched 3 days ago;
    d: nurtured, pitched 8 days ago; e: five clicks, all by a security scanner."""
    people = dict(zip("abcde", add_subscribers(session, 5, prefix="pitch"), strict=True))
    engage(session, people["a"], 3)
    engage(session, people["b"], 2)
    engage(session, people["c"], 3)
    engage(session, people["d"], 3)
    engage(session, people["e"], 5)
    from growth.models import EmailEvent

    for event in session.scalars(select(EmailEvent).where(EmailEvent.subscriber_id == people["e"])):
        event.is_scanner = True
    pitched(session, people["c"], NOW - dt.timedelta(days=3))
    pitched(session, people["d"], NOW - dt.timedelta(days=8))
    session.flush()
    return people


def test_preview_says_who_a_pitch_skips_and_why(session, audience):  # type: ignore[no-untyped-def]
    newsletter_id = make_post(session).newsletter_id
    result = preview(session, newsletter_id, parse_segment("all"), "pitch", NOW, 3, 7)
    # a, d may be pitched; b, e not nurtured (2 and 0 human engagements); c pitched 3 days ago
    assert result.will_receive == 2
    assert result.skipped == {"not_nurtured": 2, "pitch_cooldown": 1}
    assert result.sentence == "2 will receive, 2 skipped: not yet nurtured, 1 skipped: pitched too recently"
    value = preview(session, newsletter_id, parse_segment("all"), "value", NOW, 3, 7)
    assert value.will_receive == 5 and value.skipped == {}


def test_pitch_send_skips_then_sends_to_the_skipped_later(sg_app, session, fake_sendgrid, audience):  # type: ignore[no-untyped-def]
    post = make_post(session, title="Our paid plan", kind="pitch")
    session.commit()
    with sg_app.app_context():
        send = sending.create_send(
            db.session,
            db.session.get(Post, post.id),
            "all",
            utcnow(),
            scheduled_at=utcnow() + dt.timedelta(days=1),
        )
        send.state = SendState.SENDING
        (batch,) = sending.plan_next_batch(db.session, send.id, NOW)
        assert sending.plan_next_batch(db.session, send.id, NOW) == []
        jobs.discard_pending()
        db.session.commit()
        jobs.run_task("content.deliver_batch", batch.id)
        send_id = send.id
    assert sorted(recipients_of(fake_sendgrid)) == ["pitch-0@example.com", "pitch-3@example.com"]
    assert {p["custom_args"]["kind"] for b in fake_sendgrid.requests for p in b["personalizations"]} == {
        "pitch"
    }
    skipped = dict(
        session.execute(
            select(Delivery.subscriber_id, Delivery.error).where(
                Delivery.send_id == send_id, Delivery.state == "skipped"
            )
        ).all()
    )
    assert skipped == {
        audience["b"]: "not_nurtured",
        audience["c"]: "pitch_cooldown",
        audience["e"]: "not_nurtured",
    }
    with sg_app.app_context():
        figures = send_control.progress(db.session, sending.get_send(db.session, send_id)).figures
    assert figures["sent"] == 2 and figures["total"] == 2 and figures["skipped"] == 3
    assert figures["skipped_by_reason"] == {"not_nurtured": 2, "pitch_cooldown": 1}

    # five days on: b engaged with a third value email, c's cooldown is over; e is not nurtured
    engage(session, audience["b"], 1)
    session.commit()
    with sg_app.app_context():
        assert (
            send_control.send_to_skipped(
                db.session, sending.get_send(db.session, send_id), NOW + dt.timedelta(days=5)
            )
            == 2
        )
        commit()
    assert sorted(recipients_of(fake_sendgrid)) == [f"pitch-{i}@example.com" for i in (0, 1, 2, 3)]
    # the ones who got this pitch are now in cooldown for the next one
    later = preview(
        session, post.newsletter_id, parse_segment("all"), "pitch", NOW + dt.timedelta(days=6), 3, 7
    )
    assert later.will_receive == 0 and later.skipped == {"pitch_cooldown": 4, "not_nurtured": 1}


def test_value_to_pitch_ratio_is_kept_per_subscriber(client, session, audience, creator_token, admin_token):  # type: ignore[no-untyped-def]
    session.commit()
    url = f"/api/v1/subscribers/{audience['d']}/value-to-pitch"
    assert client.get(url, headers={"Authorization": f"Bearer {creator_token}"}).status_code == 403
    headers = {"Authorization": f"Bearer {admin_token}"}
    body = client.get(f"/api/v1/subscribers/{audience['d']}/value-to-pitch", headers=headers).get_json()
    # d: 3 value emails sent (engage) and 1 pitch -> 3 / 1
    assert body == {"subscriber_id": audience["d"], "value": 3, "pitch": 1, "ratio": 3.0}
    body = client.get(f"/api/v1/subscribers/{audience['a']}/value-to-pitch", headers=headers).get_json()
    assert body["ratio"] is None and body["value"] == 3
    assert client.get("/api/v1/subscribers/999999/value-to-pitch", headers=headers).status_code == 404


def test_paused_subscriber_is_not_a_candidate(session):  # type: ignore[no-untyped-def]
    ids = add_subscribers(session, 2, prefix="p")
    session.get(Subscriber, ids[0]).paused_until = NOW + dt.timedelta(days=1)
    session.flush()
    result = preview(session, make_post(session).newsletter_id, parse_segment("all"), "value", NOW, 3, 7)
    assert result.will_receive == 1
