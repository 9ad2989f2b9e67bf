"""What events do: suppression of bad addresses, unsubscribes, machine opens, scanner clicks."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from growth.db import utcnow
from growth.events import count_soft_failures, scanner_clicks
from growth.models import EmailEvent, Membership, Newsletter, Subscriber, SubscriberEvent
from tests.fakes.engagement_data import LINKS, T0, custom_args, make_delivery, make_subscriber
from tests.fakes.sendgrid_webhook import event

TS = int(T0.timestamp())


@pytest.fixture
def post(app_factory, signer):  # type: ignore[no-untyped-def]
    client = app_factory(sendgrid_webhook_public_key=signer.public_key, soft_bounce_threshold=3).test_client()

    def send(*events: dict) -> None:
        body, headers = signer.signed(list(events))
        assert client.post("/webhooks/sendgrid", data=body, headers=headers).status_code == 200

    return send


def status_of(session, sub: Subscriber) -> str:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get(Subscriber, sub.id).status


def last_reason(session, sub: Subscriber) -> str | None:  # type: ignore[no-untyped-def]
    """Why the status last changed."""
    rows = session.scalars(
        select(SubscriberEvent)
        .where(SubscriberEvent.subscriber_id == sub.id, SubscriberEvent.field == "status")
        .order_by(SubscriberEvent.id)
    ).all()
    return rows[-1].reason if rows else None


def test_hard_bounce_suppresses_at_once(post, session):
    sub = make_subscriber(session, "gone@example.com")
    post(event("bounce", "gone@example.com", TS, type="bounce", reason="550 5.1.1 user unknown"))
    assert status_of(session, sub) == "bounced"
    assert last_reason(session, sub) == "hard_bounce"
    [row] = session.scalars(select(EmailEvent)).all()
    assert (row.bounce_type, row.reason) == ("bounce", "550 5.1.1 user unknown")


def test_blocked_bounces_suppress_only_after_the_threshold_of_distinct_messages(post, session):
    sub = make_subscriber(session, "flaky@example.com")
    first, second, third = (make_delivery(session, sub, T0 + dt.timedelta(days=i)) for i in range(3))
    post(event("bounce", "flaky@example.com", TS, type="blocked", **custom_args(first)))
    post(event("bounce", "flaky@example.com", TS + 1, type="blocked", **custom_args(first)))  # same message
    post(event("bounce", "flaky@example.com", TS + 86400, type="blocked", **custom_args(second)))
    assert status_of(session, sub) == "active"
    post(event("bounce", "flaky@example.com", TS + 2 * 86400, type="blocked", **custom_args(third)))
    assert status_of(session, sub) == "bounced"
    assert last_reason(session, sub) == "repeated_soft_bounces"


def test_deferrals_count_once_per_message_and_not_when_it_ends_delivered(post, session):
    sub = make_subscriber(session, "slow@example.com")
    a, b, c, d = (make_delivery(session, sub, T0 + dt.timedelta(days=i)) for i in range(4))
    for attempt in range(5):  # one message deferred five times is one failure
        post(
            event(
                "deferred",
                "slow@example.com",
                TS + attempt * 600,
                attempt=str(attempt),
                **custom_args(a),
            )
        )
    post(event("deferred", "slow@example.com", TS + 86400, **custom_args(b)))
    # a arrives in the end (reported after b's deferral): a no longer counts; b still does.
    post(event("delivered", "slow@example.com", TS + 3600, **custom_args(a)))
    post(event("deferred", "slow@example.com", TS + 2 * 86400, **custom_args(c)))
    assert status_of(session, sub) == "active"
    post(event("deferred", "slow@example.com", TS + 3 * 86400, **custom_args(d)))
    assert status_of(session, sub) == "bounced"


def test_a_delivery_resets_the_soft_failure_streak(post, session):
    sub = make_subscriber(session, "ok@example.com")
    a, b, c = (make_delivery(session, sub, T0 + dt.timedelta(days=i)) for i in range(3))
    post(
        event("deferred", "ok@example.com", TS, **custom_args(a)),
        event("delivered", "ok@example.com", TS + 10, **custom_args(a)),
        event("bounce", "ok@example.com", TS + 86400, type="blocked", **custom_args(b)),
        event("deferred", "ok@example.com", TS + 2 * 86400, **custom_args(c)),
    )
    assert status_of(session, sub) == "active"


def test_count_soft_failures_by_hand():
    # m1 deferred twice then delivered at t=5 (does not count, and resets the streak);
    # m2 deferred at t=3, before that delivery (does not count);
    # m3 blocked and m4 deferred (twice) after it: 2.
    t = [T0 + dt.timedelta(hours=h) for h in range(10)]
    events = [
        ("deferred", None, "m1", t[1]),
        ("deferred", None, "m1", t[2]),
        ("deferred", None, "m2", t[3]),
        ("delivered", None, "m1", t[5]),
        ("bounce", "blocked", "m3", t[6]),
        ("deferred", None, "m4", t[7]),
        ("deferred", None, "m4", t[8]),
        ("bounce", "bounce", "m5", t[9]),  # hard: not a soft failure
    ]
    assert count_soft_failures(events) == 2


def test_spam_report_sets_complained_and_a_later_bounce_does_not_downgrade_it(post, session):
    sub = make_subscriber(session, "angry@example.com")
    post(event("spamreport", "angry@example.com", TS))
    assert status_of(session, sub) == "complained"
    post(event("bounce", "angry@example.com", TS + 60, type="bounce"))
    assert status_of(session, sub) == "complained"


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("Bounced Address", "bounced"),
        ("Spam Reporting Address", "complained"),
        ("Unsubscribed Address", "unsubscribed"),
        ("Invalid SMTPAPI header", "active"),
        ("Recipient List over Package Quota", "active"),
    ],
)
def test_dropped_variants(post, session, reason, status):
    sub = make_subscriber(session, "drop@example.com")
    post(event("dropped", "drop@example.com", TS, reason=reason))
    assert status_of(session, sub) == status


def test_unsubscribe_event_leaves_everything(post, session):
    sub = make_subscriber(session, "bye@example.com")
    post(event("unsubscribe", "bye@example.com", TS))
    assert status_of(session, sub) == "unsubscribed"
    assert last_reason(session, sub) == "provider_unsubscribe"


def test_group_unsubscribe_leaves_the_newsletter_of_the_message(post, session):
    main = session.scalars(select(Newsletter).where(Newsletter.is_default)).one()
    extra = Newsletter(slug="weekend", name="Weekend")
    session.add(extra)
    session.flush()
    sub = make_subscriber(session, "some@example.com", newsletters=[main, extra])
    delivery = make_delivery(session, sub, T0, newsletter=extra)
    post(event("group_unsubscribe", "some@example.com", TS, asm_group_id=42, **custom_args(delivery)))
    assert status_of(session, sub) == "active"
    memberships = {
        m.newsletter_id: m.status
        for m in session.scalars(select(Membership).where(Membership.subscriber_id == sub.id))
    }
    assert memberships == {main.id: "active", extra.id: "unsubscribed"}
    post(event("group_unsubscribe", "some@example.com", TS + 5, asm_group_id=7))  # no message to map: all
    assert status_of(session, sub) == "unsubscribed"


def test_group_resubscribe_is_recorded_but_does_not_resubscribe(post, session):
    sub = make_subscriber(session, "back@example.com", status="unsubscribed")
    post(event("group_resubscribe", "back@example.com", TS))
    assert status_of(session, sub) == "unsubscribed"


def test_erased_subscribers_are_never_touched_and_late_events_keep_no_address(post, session):
    sub = make_subscriber(session, "erased@example.com")
    delivery = make_delivery(session, sub, T0)
    sub.status = "erased"
    session.flush()
    post(event("spamreport", "erased@example.com", TS, **custom_args(delivery)))
    assert status_of(session, sub) == "erased"
    [row] = session.scalars(select(EmailEvent)).all()
    assert (row.subscriber_id, row.email, row.payload) == (sub.id, None, None)


def test_machine_opens_are_flagged_and_kept(post, session):
    sub = make_subscriber(session, "apple@example.com")
    delivery = make_delivery(session, sub, T0)
    post(
        event("open", "apple@example.com", TS + 2, sg_machine_open=True, **custom_args(delivery)),
        event("open", "apple@example.com", TS + 3600, sg_machine_open=False, **custom_args(delivery)),
    )
    rows = session.scalars(select(EmailEvent).order_by(EmailEvent.at)).all()
    assert [r.is_machine for r in rows] == [True, False]


def test_click_within_seconds_of_delivery_is_a_scanner(post, session):
    sub = make_subscriber(session, "corp@example.com")
    delivery = make_delivery(session, sub, T0)
    post(
        event("delivered", "corp@example.com", TS + 1, **custom_args(delivery)),
        event("click", "corp@example.com", TS + 4, url=LINKS[0], **custom_args(delivery)),
        event("click", "corp@example.com", TS + 3600, url=LINKS[0], **custom_args(delivery)),
    )
    clicks = session.scalars(
        select(EmailEvent).where(EmailEvent.type == "click").order_by(EmailEvent.at)
    ).all()
    assert [c.is_scanner for c in clicks] == [True, False]


def test_clicking_every_link_at_once_is_a_scanner_even_late_and_out_of_order(post, session):
    sub = make_subscriber(session, "proof@example.com")
    delivery = make_delivery(session, sub, T0)
    later = TS + 7200  # long after delivery: only the burst gives the scanner away
    post(event("click", "proof@example.com", later + 1, url=LINKS[1], **custom_args(delivery)))
    post(
        event("click", "proof@example.com", later, url=LINKS[0], **custom_args(delivery)),
        event("click", "proof@example.com", later + 2, url=LINKS[2], **custom_args(delivery)),
        event("click", "proof@example.com", later + 9000, url=LINKS[0], **custom_args(delivery)),
    )
    clicks = session.scalars(
        select(EmailEvent).where(EmailEvent.type == "click").order_by(EmailEvent.at)
    ).all()
    assert [c.is_scanner for c in clicks] == [True, True, True, False]


def test_scanner_clicks_by_hand():
    # Delivered at 0, window 10 s, links {a, b, c}.
    # 1: a at 5 s (within 10 s of delivery: scanner). 2-4: a, b, c at 100, 103, 109 s: a burst of
    # 9 s covering every link (scanner). 5: b at 200 s (a reader). 6: a at 300, 7: c at 311
    # (11 s apart, and b missing: readers).
    s = [T0 + dt.timedelta(seconds=x) for x in (5, 100, 103, 109, 200, 300, 311)]
    clicks = [
        (1, s[0], "a"),
        (2, s[1], "a"),
        (3, s[2], "b"),
        (4, s[3], "c"),
        (5, s[4], "b"),
        (6, s[5], "a"),
        (7, s[6], "c"),
    ]
    assert scanner_clicks(clicks, T0, {"a", "b", "c"}, 10) == {1, 2, 3, 4}
    assert scanner_clicks(clicks, None, {"a"}, 10) == set()  # one link: a burst proves nothing


def test_a_human_click_brings_an_inactive_subscriber_back_a_scanner_click_does_not(post, session):
    sub = make_subscriber(session, "sleepy@example.com", status="inactive")
    delivery = make_delivery(session, sub, T0)
    post(event("click", "sleepy@example.com", TS + 3, url=LINKS[0], **custom_args(delivery)))
    assert status_of(session, sub) == "inactive"
    post(event("click", "sleepy@example.com", TS + 4000, url=LINKS[0], **custom_args(delivery)))
    assert status_of(session, sub) == "active"
    assert last_reason(session, sub) == "click"


def test_a_readers_click_moves_their_stage_at_once(post, session):
    now = utcnow()
    sub = make_subscriber(session, "fresh@example.com", confirmed_at=now - dt.timedelta(days=3))
    delivery = make_delivery(session, sub, now - dt.timedelta(hours=2))
    ts = int(now.timestamp()) - 3600
    post(event("open", "fresh@example.com", ts, sg_machine_open=True, **custom_args(delivery)))
    session.expire_all()
    assert session.get(Subscriber, sub.id).stage == "confirmed"  # a machine open proves nothing
    post(event("click", "fresh@example.com", ts + 60, url=LINKS[0], **custom_args(delivery)))
    session.expire_all()
    assert session.get(Subscriber, sub.id).stage == "engaged"


def test_erasure_drops_the_address_from_stored_events(post, session):
    from growth.subscribers import erase

    sub = make_subscriber(session, "forget@example.com")
    post(
        event(
            "bounce",
            "forget@example.com",
            TS,
            type="blocked",
            reason="550 <forget@example.com> full",
        )
    )
    erase(session, sub, utcnow())
    session.expire_all()
    [row] = session.scalars(select(EmailEvent)).all()
    assert (row.email, row.reason, row.payload, row.type) == (None, None, None, "bounce")


def test_a_stage_won_on_a_click_later_judged_a_scanners_is_taken_back(post, session):
    """bench/floods.py found it: the rest of a scanner's burst arrived after its first click."""
    sub = make_subscriber(session, "burst@example.com")
    sent = utcnow() - dt.timedelta(days=5)
    first, second, third = (make_delivery(session, sub, sent + dt.timedelta(hours=i)) for i in range(3))
    ts = int((utcnow() - dt.timedelta(days=3)).timestamp())

    def stage() -> str:
        session.expire_all()
        return session.get(Subscriber, sub.id).stage

    post(
        event("open", "burst@example.com", ts, sg_machine_open=False, **custom_args(first)),
        event("open", "burst@example.com", ts, sg_machine_open=False, **custom_args(second)),
    )
    assert stage() == "engaged"
    post(event("click", "burst@example.com", ts + 100, url=LINKS[0], **custom_args(third)))
    assert stage() == "nurtured"  # three value emails read, as far as we know
    post(
        event("click", "burst@example.com", ts + 101, url=LINKS[1], **custom_args(third)),
        event("click", "burst@example.com", ts + 102, url=LINKS[2], **custom_args(third)),
    )
    assert stage() == "engaged"  # every link within seconds: a scanner read the third
