"""Content's part of a reader's data: their sequence enrolments and steps; erasure ends them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from content import sequence_engine
from content.sequence_models import StepClaim
from growth import privacy
from growth.models import Delivery, Subscriber
from tests.content.conftest import NOW
from tests.content.test_sequences import enrolled, enrolment_of, make_sequence

DAY = dt.timedelta(days=1)


def test_sequences_export_each_enrolment_with_its_steps_and_erasure_ends_them(session, outbox):  # type: ignore[no-untyped-def]
    make_sequence(session, [{"subject": "One"}, {"subject": "Two", "delay_minutes": 24 * 60}], name="Welcome")
    [sid] = enrolled(session, 1)
    sequence_engine.run_sequences(session, NOW)
    reader = session.get(Subscriber, sid)
    [part] = privacy.export_subscriber(session, reader, NOW)["sequences"]
    assert (part["sequence"], part["state"], part["trigger"]) == ("Welcome", "active", "confirmed")
    assert [(s["step"], s["subject"], s["state"]) for s in part["steps"]] == [(1, "One", "sent")]
    privacy.erase_subscriber(session, reader, NOW + dt.timedelta(hours=1))
    session.commit()
    enrolment = enrolment_of(session, sid)
    assert (enrolment.state, enrolment.left_reason, enrolment.next_due_at) == ("left", "erased", None)
    sequence_engine.run_sequences(session, NOW + 2 * DAY)  # step two never goes
    assert session.scalar(select(func.count()).select_from(StepClaim)) == 1  # the figures keep theirs
    assert (
        session.scalar(select(func.count()).select_from(Delivery).where(Delivery.template == "sequence")) == 1
    )
