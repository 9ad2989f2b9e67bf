"""Stage recompute on the database with a fixed clock: transitions are event rows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from growth.engagement import recompute_stages, snapshots
from growth.models import Subscriber, SubscriberEvent
from growth.stages import Engagement, Policy
from tests.fakes.engagement_data import T0, make_delivery, make_event, make_subscriber

NOW = T0 + dt.timedelta(days=200)
POLICY = Policy(engaged_window_days=30, nurture_min_value=3, lapsed_after_days=90)


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def stage_events(session, sub: Subscriber) -> list[tuple[str | None, str, dt.datetime, str | None]]:  # type: ignore[no-untyped-def]
    rows = session.scalars(
        select(SubscriberEvent)
        .where(SubscriberEvent.subscriber_id == sub.id, SubscriberEvent.field == "stage")
        .order_by(SubscriberEvent.id)
    )
    return [(r.from_value, r.to_value, r.at, r.reason) for r in rows]


def test_recompute_moves_each_subscriber_and_writes_the_transition(session):
    nurtured = make_subscriber(session, "n@example.com")
    for i in range(3):  # three value emails, each opened by a person
        d = make_delivery(session, nurtured, day(180 + i))
        make_event(session, nurtured, "open", day(180 + i) + dt.timedelta(hours=2), delivery=d)
    engaged = make_subscriber(session, "e@example.com")
    d = make_delivery(session, engaged, day(190))
    make_event(
        session,
        engaged,
        "click",
        day(190) + dt.timedelta(hours=1),
        delivery=d,
        url="https://example.com",
    )
    lapsed = make_subscriber(session, "l@example.com", stage="engaged")  # silent since T0
    paying = make_subscriber(session, "p@example.com", stage="paying")  # silent, but billing's
    machine = make_subscriber(session, "m@example.com")
    for i in range(3):  # received and "opened" by Apple's proxy, clicked by a scanner: not read
        d = make_delivery(session, machine, day(185 + i))
        make_event(session, machine, "open", day(185 + i), delivery=d, is_machine=True)
        make_event(session, machine, "click", day(185 + i), delivery=d, is_scanner=True)

    moved = recompute_stages(session, NOW, POLICY)

    assert moved == {"nurtured": 1, "engaged": 1, "lapsed": 1}
    session.expire_all()
    stages = {s.email: s.stage for s in session.scalars(select(Subscriber))}
    assert stages == {
        "n@example.com": "nurtured",
        "e@example.com": "engaged",
        "l@example.com": "lapsed",
        "p@example.com": "paying",
        "m@example.com": "confirmed",
    }
    assert stage_events(session, lapsed) == [("engaged", "lapsed", NOW, "engagement:disengaged")]
    assert session.get(Subscriber, nurtured.id).stage_changed_at == NOW
    assert stage_events(session, paying) == []

    assert recompute_stages(session, NOW + dt.timedelta(hours=1), POLICY) == {}  # nothing new to do


def test_lapse_waits_for_ninety_days_of_disengagement(session):
    sub = make_subscriber(session, "quiet@example.com", stage="engaged")
    make_event(session, sub, "click", day(10), url="https://example.com")
    # Last click day 10: disengaged from day 40, lapsed from day 130.
    assert recompute_stages(session, day(129), POLICY) == {}
    assert recompute_stages(session, day(130), POLICY) == {"lapsed": 1}
    # A click brings them back to engaged.
    make_event(session, sub, "click", day(140), url="https://example.com")
    assert recompute_stages(session, day(141), POLICY) == {"engaged": 1}
    assert [e[:2] for e in stage_events(session, sub)] == [
        ("engaged", "lapsed"),
        ("lapsed", "engaged"),
    ]


def test_snapshots_ignore_events_after_now(session):
    sub = make_subscriber(session, "future@example.com")
    make_event(session, sub, "click", day(300), url="https://example.com")
    [snap] = snapshots(session, [sub], day(100), 30)
    assert snap.engagement == Engagement.DISENGAGED and snap.last_human is None
    assert snap.disengaged_since == day(30)
