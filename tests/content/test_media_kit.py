"""The media kit: engaged readers and human rates counted by hand, the rate card, refusals."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from content import media_kit
from growth.db import utcnow
from growth.errors import ValidationFailed
from growth.models import Delivery, DeliveryKind, DeliveryState, EmailEvent
from tests.content.conftest import add_subscribers


def deliver(session, sid: int, at: dt.datetime, *events: tuple[str, bool, bool], send_id: int = 1) -> None:  # type: ignore[no-untyped-def]
    delivery = Delivery(
        subscriber_id=sid,
        send_id=send_id,
        kind=DeliveryKind.VALUE,
        template="post",
        state=DeliveryState.SENT,
        to_email="x@example.com",
        sent_at=at,
        created_at=at,
    )
    session.add(delivery)
    session.flush()
    for kind, machine, scanner in events:
        session.add(
            EmailEvent(
                event_id=uuid.uuid4().hex,
                type=kind,
                subscriber_id=sid,
                delivery_id=delivery.id,
                at=at + dt.timedelta(minutes=5),
                is_machine=machine,
                is_scanner=scanner,
            )
        )
    session.flush()


def test_media_kit_counts_persons_only(session):  # type: ignore[no-untyped-def]
    now = utcnow()
    a, b, c, d = add_subscribers(session, 4, prefix="kit")
    yesterday = now - dt.timedelta(days=1)
    deliver(
        session, a, yesterday, ("delivered", False, False), ("open", False, False), ("click", False, False)
    )
    deliver(
        session, b, yesterday, ("delivered", False, False), ("open", False, False), ("open", False, False)
    )
    deliver(session, c, yesterday, ("delivered", False, False), ("open", True, False))  # Apple Mail only
    deliver(session, d, yesterday, ("delivered", False, False), ("click", False, True))  # a scanner only
    deliver(
        session,
        d,
        now - dt.timedelta(days=100),
        ("delivered", False, False),
        ("open", False, False),
        send_id=2,
    )  # old
    kit = media_kit.media_kit(session, now, 30)
    # by hand: 4 delivered in the window; persons opened 2 (a, b), clicked 1 (a)
    assert (kit.rates.delivered, kit.rates.human_open_rate, kit.rates.human_click_rate) == (4, 0.5, 0.25)
    assert kit.engaged_readers == 2  # a and b; c's machine open and d's scanner click are not people
    assert kit.active_subscribers >= 4


def test_media_kit_page_and_rate_card(client, session):  # type: ignore[no-untyped-def]
    media_kit.set_rate(session, "top", "flat", 50_000, "usd", "our main slot", utcnow())
    media_kit.set_rate(session, "top", "flat", 60_000, "USD", "raised", utcnow())  # the same line, changed
    media_kit.set_rate(session, "bottom", "per_click", 150, "usd", "", utcnow())
    session.commit()
    assert [(r.slot, r.price_cents) for r in media_kit.rate_card(session)] == [
        ("top", 60_000),
        ("bottom", 150),
    ]
    page = client.get("/media-kit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "600.00 USD per send" in html and "1.50 USD per unique human click" in html
    assert "Engaged readers" in html and "Human opens are a floor" in html
    with pytest.raises(ValidationFailed):
        media_kit.set_rate(session, "side", "flat", 1, "usd", "", utcnow())
    with pytest.raises(ValidationFailed):
        media_kit.set_rate(session, "top", "flat", -5, "usd", "", utcnow())


def test_polls_with_enough_answers_are_audience_facts(client, session):  # type: ignore[no-untyped-def]
    from content.models import Poll, PollVote
    from tests.content.conftest import make_post

    post = make_post(session, title="Ask the readers")
    readers = add_subscribers(session, 40)
    asked = Poll(
        key="job", question="What do you do?", answers=["Engineer", "Designer", "Other"], post_id=post.id
    )
    few = Poll(key="pet", question="Cats or dogs?", answers=["Cats", "Dogs"], post_id=post.id)
    session.add_all([asked, few])
    session.flush()
    now = utcnow()
    # 40 answers: 20 engineers, 10 designers, 10 other; the second poll has 29, one short.
    for i, sid in enumerate(readers):
        index = 0 if i < 20 else 1 if i < 30 else 2
        session.add(
            PollVote(
                poll_id=asked.id,
                subscriber_id=sid,
                answer=index,
                answer_text=asked.answers[index],
                first_at=now,
                answered_at=now,
            )
        )
        if i < 29:
            session.add(
                PollVote(
                    poll_id=few.id,
                    subscriber_id=sid,
                    answer=0,
                    answer_text="Cats",
                    first_at=now,
                    answered_at=now,
                )
            )
    session.commit()
    facts = media_kit.audience_polls(session)
    assert facts == [
        {
            "question": "What do you do?",
            "votes": 40,
            "answers": [("Engineer", 0.5), ("Designer", 0.25), ("Other", 0.25)],
        }
    ]
    page = client.get("/media-kit").get_data(as_text=True)
    assert "What do you do?" in page and "Engineer: 50%" in page and "Cats or dogs?" not in page
