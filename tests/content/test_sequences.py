"""Sequences: enrolment, exactly-once steps, leaving, the daily cap, pitches after value, live edits."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from content import sequence_engine, sequences
from content.sequence_models import ClaimState, Enrolment, EnrolmentState, StepClaim
from content.sequences import SequenceInput, StepInput
from growth import jobs, signals, subscribers
from growth.db import commit
from growth.models import Delivery, DeliveryKind, DeliveryState, Subscriber
from tests.content.conftest import NOW, add_subscribers, engage
from tests.growth.helpers import messages

DAY = dt.timedelta(days=1)


def make_sequence(session, steps, trigger="confirmed", holdout=0, **fields):  # type: ignore[no-untyped-def]
    data = SequenceInput(
        name=fields.pop("name", "Nurture"),
        trigger=trigger,
        steps=[StepInput(**s) for s in steps],
        holdout_percent=holdout,
        **fields,
    )
    return sequences.create_sequence(session, data, NOW)


def enrolled(session, n, trigger="confirmed", at=NOW):  # type: ignore[no-untyped-def]
    """n active subscribers on the default newsletter, each enrolled by `trigger` at `at`."""
    ids = add_subscribers(session, n)
    for sid in ids:
        sequences.enrol_on(session, session.get(Subscriber, sid), trigger, at)
    commit()
    return ids


def tick(session, at):  # type: ignore[no-untyped-def]
    return sequence_engine.run_sequences(session, at)


def subjects_of(session, sid):  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(Delivery.subject)
            .where(Delivery.subscriber_id == sid, Delivery.template == "sequence")
            .order_by(Delivery.id)
        )
    )


def enrolment_of(session, sid):  # type: ignore[no-untyped-def]
    return session.scalars(
        select(Enrolment).where(Enrolment.subscriber_id == sid).execution_options(populate_existing=True)
    ).one()


def test_steps_go_out_in_order_after_their_delays_each_once(session, outbox):  # type: ignore[no-untyped-def]
    make_sequence(
        session,
        [
            {"subject": "One", "body": "Hello **there** <script>x()</script>"},
            {"subject": "Two", "delay_minutes": 2 * 24 * 60},
        ],
    )
    [sid] = enrolled(session, 1)
    tick(session, NOW)
    tick(session, NOW + dt.timedelta(minutes=1))  # nothing new: step two is two days away
    assert subjects_of(session, sid) == ["One"]
    tick(session, NOW + DAY)
    assert subjects_of(session, sid) == ["One"]
    tick(session, NOW + 2 * DAY)
    tick(session, NOW + 3 * DAY)
    assert subjects_of(session, sid) == ["One", "Two"]
    sent = messages(outbox, "sequence")
    assert [m["Subject"] for m in sent] == ["One", "Two"]
    html = sent[0].get_body(preferencelist=("html",)).get_content()
    assert "<strong>there</strong>" in html and "<script" not in html
    assert sent[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert enrolment_of(session, sid).next_due_at is None  # caught up


def test_a_retried_batch_job_sends_nothing_twice(session, outbox):  # type: ignore[no-untyped-def]
    make_sequence(session, [{"subject": "Once"}])
    [sid] = enrolled(session, 1)
    tick(session, NOW)
    claim = session.scalars(select(StepClaim).where(StepClaim.subscriber_id == sid)).one()
    assert sequence_engine.deliver_sequence_batch(claim.step_id, [claim.delivery_id]) == "taken"
    assert len(messages(outbox, "sequence")) == 1


def test_a_crash_between_claim_and_send_never_sends_twice(session, outbox):  # type: ignore[no-untyped-def]
    make_sequence(session, [{"subject": "A"}, {"subject": "B"}])
    [first, second] = enrolled(session, 2)
    # The tick claims and queues, then dies before any batch job runs.
    rows = sequence_engine._due_rows(session, NOW, 1000)
    sequence_engine._process(session, sequence_engine._plans(session), rows, NOW)
    jobs.discard_pending()
    session.commit()
    assert messages(outbox, "sequence") == []
    # One of the deliveries had reached the provider request when it died: it stays unknown.
    claim = session.scalars(select(StepClaim).where(StepClaim.subscriber_id == second)).one()
    session.execute(
        update(Delivery).where(Delivery.id == claim.delivery_id).values(state=DeliveryState.SENDING)
    )
    commit()
    figures = tick(session, NOW + dt.timedelta(minutes=20))
    assert figures["unknown"] == 1 and figures["requeued"] == 1
    sent = messages(outbox, "sequence")
    assert len(sent) == 1 and session.get(Subscriber, first).email in sent[0]["To"]  # the orphan, sent now
    for _ in range(3):
        tick(session, NOW + dt.timedelta(minutes=40))
    assert len(messages(outbox, "sequence")) == 1  # nothing resent by itself, no step twice
    assert session.get(Delivery, claim.delivery_id).state == DeliveryState.UNKNOWN
    assert subjects_of(session, second) == ["A"]  # B waits for the cap, not for A to be resent


def test_editing_a_live_sequence_never_resends(session, outbox):  # type: ignore[no-untyped-def]
    sequence = make_sequence(session, [{"subject": "S1"}, {"subject": "S2", "delay_minutes": 60}])
    [ahead] = enrolled(session, 1)
    tick(session, NOW)
    tick(session, NOW + DAY)
    assert subjects_of(session, ahead) == ["S1", "S2"]  # caught up
    [behind] = enrolled(session, 1, at=NOW + DAY)
    tick(session, NOW + DAY)
    assert subjects_of(session, behind) == ["S1"]  # S2 is an hour away
    steps = sequences.step_inputs(sequence)
    steps[0].subject = "S1 (edited)"
    new = [StepInput(subject="S0"), steps[0], steps[1], StepInput(subject="S3", delay_minutes=60)]
    sequences.update_sequence(session, sequence, SequenceInput(steps=new, given={"steps"}), NOW + DAY)
    commit()
    [fresh] = enrolled(session, 1, at=NOW + DAY)
    for day in range(2, 7):
        tick(session, NOW + day * DAY)
    # S0 was inserted behind them, S1 they had: only what lies ahead, each once.
    assert subjects_of(session, ahead) == ["S1", "S2", "S3"]
    assert subjects_of(session, behind) == ["S1", "S2", "S3"]
    assert subjects_of(session, fresh) == ["S0", "S1 (edited)", "S2", "S3"]


def test_at_most_the_daily_cap_per_reader_and_the_welcome_does_not_count(session, outbox):  # type: ignore[no-untyped-def]
    make_sequence(session, [{"subject": "From A"}], name="A")
    make_sequence(session, [{"subject": "From B"}], name="B")
    [sid] = enrolled(session, 1)
    tick(session, NOW)
    assert len(subjects_of(session, sid)) == 1
    assert enrolment_of_reason(session, sid) == ["daily_cap"]
    tick(session, NOW + dt.timedelta(hours=6))
    assert len(subjects_of(session, sid)) == 1
    tick(session, NOW + DAY)
    assert sorted(subjects_of(session, sid)) == ["From A", "From B"]


def enrolment_of_reason(session, sid):  # type: ignore[no-untyped-def]
    return [
        r
        for r in session.scalars(
            select(Enrolment.waiting_reason)
            .where(Enrolment.subscriber_id == sid)
            .execution_options(populate_existing=True)
        )
        if r
    ]


def test_the_cap_can_be_turned_off(app_factory, session, outbox):  # type: ignore[no-untyped-def]
    other = app_factory(sequence_emails_per_day=0)
    with other.app_context():
        from growth.db import db

        s = db.session
        make_sequence(s, [{"subject": "From A"}], name="A")
        make_sequence(s, [{"subject": "From B"}], name="B")
        [sid] = enrolled(s, 1)
        tick(s, NOW)
        assert sorted(subjects_of(s, sid)) == ["From A", "From B"]


def test_a_step_waits_on_a_day_the_reader_gets_a_newsletter(session, outbox):  # type: ignore[no-untyped-def]
    make_sequence(session, [{"subject": "Step"}])
    [sid] = enrolled(session, 1)
    session.add(
        Delivery(
            subscriber_id=sid,
            send_id=999,
            kind=DeliveryKind.VALUE,
            template="post",
            state=DeliveryState.SENT,
            to_email="x@example.com",
            created_at=NOW - dt.timedelta(hours=2),
        )
    )
    commit()
    tick(session, NOW)
    assert subjects_of(session, sid) == []
    assert enrolment_of_reason(session, sid) == ["newsletter_today"]
    assert enrolment_of(session, sid).next_due_at == dt.datetime(2026, 6, 2, tzinfo=dt.UTC)
    tick(session, NOW + DAY)
    assert subjects_of(session, sid) == ["Step"]


def test_a_pitch_waits_for_value_and_the_reason_shows(session, outbox):  # type: ignore[no-untyped-def]
    sequence = make_sequence(session, [{"subject": "Buy", "kind": "pitch"}], pitch_wait_days=10)
    ready, waiting, never = enrolled(session, 3)
    engage(session, ready, 3)
    engage(session, waiting, 1)
    commit()
    tick(session, NOW)
    assert subjects_of(session, ready) == ["Buy"]
    assert subjects_of(session, waiting) == [] and enrolment_of_reason(session, waiting) == ["not_nurtured"]
    assert sequences.waiting_reasons(session, sequence.id) == {"not_nurtured": 2}
    engage(session, waiting, 2, at=NOW + DAY)
    commit()
    tick(session, NOW + DAY)
    assert subjects_of(session, waiting) == ["Buy"]
    # Past the operator's limit the pitch is skipped, and the skip says why; never dropped silently.
    tick(session, NOW + 11 * DAY)
    claim = session.scalars(select(StepClaim).where(StepClaim.subscriber_id == never)).one()
    assert claim.state == ClaimState.SKIPPED and claim.reason == "pitch_wait_expired"
    assert subjects_of(session, never) == []


def test_a_failing_condition_skips_the_step_and_records_it(session, outbox):  # type: ignore[no-untyped-def]
    make_sequence(
        session, [{"subject": "Engaged only", "condition": "stage:engaged"}, {"subject": "Everyone"}]
    )
    [plain] = enrolled(session, 1)
    tick(session, NOW)
    assert subjects_of(session, plain) == ["Everyone"]
    skip = session.scalars(
        select(StepClaim).where(StepClaim.subscriber_id == plain, StepClaim.state == ClaimState.SKIPPED)
    ).one()
    assert skip.reason == "condition_failed"


def test_a_send_window_holds_the_step_until_it_opens(session, outbox):  # type: ignore[no-untyped-def]
    # NOW is Monday 12:00 UTC; the window is Tuesday 9 to 11.
    make_sequence(
        session, [{"subject": "Tuesday", "window_days": [2], "window_start_hour": 9, "window_end_hour": 11}]
    )
    [sid] = enrolled(session, 1)
    tick(session, NOW)
    assert subjects_of(session, sid) == []
    assert enrolment_of(session, sid).next_due_at == dt.datetime(2026, 6, 2, 9, tzinfo=dt.UTC)
    tick(session, dt.datetime(2026, 6, 2, 9, 1, tzinfo=dt.UTC))
    assert subjects_of(session, sid) == ["Tuesday"]


def test_the_holdout_is_recorded_and_never_emailed(session, outbox):  # type: ignore[no-untyped-def]
    sequence = make_sequence(session, [{"subject": "Hi"}], holdout=50)
    ids = enrolled(session, 40)
    tick(session, NOW)
    held = set(session.scalars(select(Enrolment.subscriber_id).where(Enrolment.holdout.is_(True))))
    assert 0 < len(held) < 40  # 50%: all or none of 40 would be a 1 in 10^12 draw
    for sid in ids:
        assert subjects_of(session, sid) == ([] if sid in held else ["Hi"])
    states = dict(session.execute(select(StepClaim.state, func.count()).group_by(StepClaim.state)).all())
    assert states == {"held_out": len(held), "sent": 40 - len(held)}
    assert sequence.holdout_percent == 50


def test_readers_leave_on_unsubscribe_pause_and_status_change(session, outbox):  # type: ignore[no-untyped-def]
    make_sequence(session, [{"subject": "One"}, {"subject": "Two", "delay_minutes": 60 * 24}])
    leaver, pauser, bouncer, stayer = enrolled(session, 4)
    tick(session, NOW)
    subscribers.unsubscribe(session, session.get(Subscriber, leaver), NOW + dt.timedelta(hours=1))
    subscribers.pause(session, session.get(Subscriber, pauser), NOW + dt.timedelta(hours=1), 30)
    subscribers.set_status(session, session.get(Subscriber, bouncer), "bounced", NOW + dt.timedelta(hours=1))
    commit()
    tick(session, NOW + 2 * DAY)
    for sid, reason in ((leaver, "status:unsubscribed"), (pauser, "paused"), (bouncer, "status:bounced")):
        enrolment = enrolment_of(session, sid)
        assert (enrolment.state, enrolment.left_reason, enrolment.next_due_at) == (
            EnrolmentState.LEFT,
            reason,
            None,
        )
        assert subjects_of(session, sid) == ["One"]
    assert subjects_of(session, stayer) == ["One", "Two"]


def test_an_email_claimed_before_the_reader_left_is_not_sent(session, outbox):  # type: ignore[no-untyped-def]
    make_sequence(session, [{"subject": "Late"}])
    [sid] = enrolled(session, 1)
    rows = sequence_engine._due_rows(session, NOW, 1000)
    sequence_engine._process(session, sequence_engine._plans(session), rows, NOW)
    jobs.discard_pending()
    session.commit()
    subscribers.unsubscribe(session, session.get(Subscriber, sid), NOW)
    commit()
    claim = session.scalars(select(StepClaim).where(StepClaim.subscriber_id == sid)).one()
    sequence_engine.deliver_sequence_batch(claim.step_id, [claim.delivery_id])
    assert messages(outbox, "sequence") == []
    assert session.get(Delivery, claim.delivery_id).state == DeliveryState.SKIPPED


def test_a_win_back_series_stops_when_they_pay_again(session, outbox):  # type: ignore[no-untyped-def]
    make_sequence(
        session,
        [{"subject": "Come back"}, {"subject": "Still?", "delay_minutes": 60 * 24}],
        trigger="churned",
    )
    make_sequence(session, [{"subject": "Thanks for paying"}], trigger="upgraded", name="Paid")
    [sid] = add_subscribers(session, 1)
    reader = session.get(Subscriber, sid)
    signals.subscriber_churned.send(reader, session=session, now=NOW)
    commit()
    tick(session, NOW)
    assert subjects_of(session, sid) == ["Come back"]
    signals.subscriber_upgraded.send(reader, session=session, now=NOW + dt.timedelta(hours=2))
    commit()
    tick(session, NOW + 2 * DAY)
    assert subjects_of(session, sid) == ["Come back", "Thanks for paying"]
    churned = session.scalars(
        select(Enrolment).where(Enrolment.subscriber_id == sid, Enrolment.trigger == "churned")
    ).one()
    assert (churned.state, churned.left_reason) == (EnrolmentState.LEFT, "paying")


def test_a_win_back_series_stops_when_they_stay(session, outbox):  # type: ignore[no-untyped-def]
    make_sequence(
        session,
        [{"subject": "Before you go"}, {"subject": "Last chance", "delay_minutes": 60 * 24}],
        trigger="cancel_scheduled",
    )
    [sid] = add_subscribers(session, 1)
    reader = session.get(Subscriber, sid)
    signals.subscriber_cancel_scheduled.send(reader, session=session, now=NOW)
    commit()
    tick(session, NOW)
    assert subjects_of(session, sid) == ["Before you go"]
    # they undo the cancellation (or take the retention offer, or their payment recovers)
    signals.subscriber_kept.send(reader, session=session, now=NOW + dt.timedelta(hours=2))
    commit()
    tick(session, NOW + 2 * DAY)
    assert subjects_of(session, sid) == ["Before you go"]
    enrolment = session.scalars(select(Enrolment).where(Enrolment.subscriber_id == sid)).one()
    assert (enrolment.state, enrolment.left_reason) == (EnrolmentState.LEFT, "kept")


def test_a_stage_trigger_enrols_once_unless_the_sequence_repeats(session, outbox):  # type: ignore[no-untyped-def]
    once = make_sequence(session, [{"subject": "Lapsed?"}], trigger="stage:lapsed", name="Once")
    again = make_sequence(
        session, [{"subject": "Again?"}], trigger="stage:lapsed", name="Again", repeatable=True
    )
    [sid] = add_subscribers(session, 1)
    reader = session.get(Subscriber, sid)
    for n in range(2):
        subscribers.set_stage(session, reader, "lapsed", NOW + n * DAY)
        commit()
        tick(session, NOW + n * DAY + dt.timedelta(hours=1))
        # leaving in between: the repeatable one may enrol them again
        sequences.leave_all(session, sid, NOW + n * DAY + dt.timedelta(hours=2), "test")
        subscribers.set_stage(session, reader, "engaged", NOW + n * DAY + dt.timedelta(hours=3))
        commit()

    def count(seq):  # type: ignore[no-untyped-def]
        return session.scalar(
            select(func.count()).where(Enrolment.sequence_id == seq.id, Enrolment.subscriber_id == sid)
        )

    assert (count(once), count(again)) == (1, 2)


def test_a_paused_sequence_sends_nothing_and_resumes(session, outbox):  # type: ignore[no-untyped-def]
    sequence = make_sequence(session, [{"subject": "Paused"}])
    [sid] = enrolled(session, 1)
    sequences.set_active(session, sequence, False, NOW)
    commit()
    tick(session, NOW)
    assert subjects_of(session, sid) == []
    sequences.set_active(session, sequence, True, NOW + DAY)
    commit()
    tick(session, NOW + DAY)
    assert subjects_of(session, sid) == ["Paused"]


def test_import_enrols_only_when_asked(session, outbox):  # type: ignore[no-untyped-def]
    from growth import imports

    make_sequence(session, [{"subject": "Imported"}])
    sequences.ensure_welcome_sequence(session)
    imports.import_subscribers(session, [{"email": "plain@example.com"}], NOW, confirmed=True)
    imports.import_subscribers(session, [{"email": "enrol@example.com"}], NOW, confirmed=True, enrol=True)
    commit()
    tick(session, NOW)
    tick(session, NOW + DAY)
    sent = [(m["To"].addresses[0].addr_spec, m["Subject"]) for m in messages(outbox, "sequence")]
    # Never welcomed at confirmation, they get the welcome series too (one email a day).
    assert sorted(sent) == [("enrol@example.com", "Imported"), ("enrol@example.com", "Welcome to Masthead")]
    assert messages(outbox, "welcome") == []


def test_per_step_figures_from_stored_events_against_the_holdout(session, outbox):  # type: ignore[no-untyped-def]
    import uuid

    from content import sequence_stats
    from growth.models import EmailEvent

    sequence = make_sequence(session, [{"subject": "Measured"}], holdout=0)
    emailed = enrolled(session, 4)
    held = add_subscribers(session, 2)
    for sid in held:
        enrolment = sequences.enrol(session, sequence, session.get(Subscriber, sid), NOW, "confirmed")
        enrolment.holdout = True
    commit()
    tick(session, NOW)
    claims = {c.subscriber_id: c for c in session.scalars(select(StepClaim))}

    def event(sid, kind, **flags):  # type: ignore[no-untyped-def]
        session.add(
            EmailEvent(
                event_id=uuid.uuid4().hex,
                type=kind,
                subscriber_id=sid,
                delivery_id=claims[sid].delivery_id,
                at=NOW + dt.timedelta(hours=1),
                **flags,
            )
        )

    a, b, c, d = emailed
    for sid in emailed:
        event(sid, "delivered")
    event(a, "open")
    event(b, "open", is_machine=True)
    event(a, "click")
    event(c, "click", is_scanner=True)
    subscribers.set_stage(session, session.get(Subscriber, a), "paying", NOW + 3 * DAY)
    subscribers.set_stage(session, session.get(Subscriber, b), "paying", NOW + 40 * DAY)  # too late
    subscribers.set_stage(session, session.get(Subscriber, held[0]), "paying", NOW + 2 * DAY)
    subscribers.unsubscribe(session, session.get(Subscriber, d), NOW + DAY)
    commit()
    [step] = sequence.live_steps
    figures = sequence_stats.step_figures(session, sequence, NOW + 50 * DAY)[step.id]
    assert figures["claimed"] == {"sent": 4, "held_out": 2}
    assert (figures["delivered"], figures["human_opens"], figures["machine_opens"]) == (4, 1, 1)
    assert (figures["clicks"], figures["scanner_clicks"]) == (1, 1)
    assert (figures["unsubscribes"], figures["started_paying_30d"]) == (1, 1)
    assert figures["holdout"] == {"readers": 2, "unsubscribed": 0, "complained": 0, "started_paying_30d": 1}
    diff = figures["paying_difference"]
    assert diff["rate"] == 0.25 and diff["holdout_rate"] == 0.5 and diff["difference"] == -0.25
    assert diff["ci95"][0] < -0.25 < diff["ci95"][1]
    assert figures["deliveries"] == {"sent": 4}
