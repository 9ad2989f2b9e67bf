"""The complaint guard on stored deliveries: pauses hold the next send and a step, warnings only warn."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select

from content import complaint_guard, sequence_engine
from content.models import ComplaintAlert, SendState
from content.send_control import send_due
from content.sending import create_send
from content.sequence_models import StepClaim
from growth import auth
from growth.db import commit
from growth.models import Delivery, DeliveryKind, DeliveryState, EmailEvent
from tests.content.conftest import NOW, add_subscribers, make_post
from tests.content.test_sequences import enrolled, enrolment_of_reason, make_sequence, subjects_of
from tests.growth.helpers import messages


def sent(session, n, domain, *, send_id=None, kind=DeliveryKind.VALUE, at=NOW - dt.timedelta(days=2)):  # type: ignore[no-untyped-def]
    """n value emails sent to n new readers at `domain`; their delivery ids."""
    ids = add_subscribers(session, n)
    session.execute(
        insert(Delivery),
        [
            {
                "subscriber_id": sid,
                "send_id": send_id,
                "kind": kind,
                "template": "post",
                "state": DeliveryState.SENT,
                "to_email": f"reader{sid}@{domain}",
                "sent_at": at,
                "created_at": at,
            }
            for sid in ids
        ],
    )
    return list(
        session.scalars(select(Delivery.id).where(Delivery.subscriber_id.in_(ids)).order_by(Delivery.id))
    )


def report(session, delivery_ids, kind="spamreport", **fields):  # type: ignore[no-untyped-def]
    for did in delivery_ids:
        d = session.get(Delivery, did)
        session.add(
            EmailEvent(
                event_id=f"{kind}-{did}",
                type=kind,
                subscriber_id=d.subscriber_id,
                delivery_id=did,
                at=NOW - dt.timedelta(days=1),
                **fields,
            )
        )
    session.flush()


def alerts(session):  # type: ignore[no-untyped-def]
    return [
        (a.scope, a.measure, a.level, a.numerator, a.denominator, a.too_few)
        for a in session.scalars(select(ComplaintAlert).order_by(ComplaintAlert.id))
    ]


def test_a_pause_holds_the_next_send_until_an_admin_confirms(session, outbox):  # type: ignore[no-untyped-def]
    admin = auth.create_operator(session, "boss@example.com", "a-long-password", "admin")
    yahoo = sent(session, 1200, "yahoo.com")
    gmail = sent(session, 600, "gmail.com")
    report(session, yahoo[:5] + gmail[:3])  # Gmail's (were there any) are not in the rate

    complaint_guard.run_guard(session, NOW)
    commit()
    # 5 / 1,200 = 0.42%, with 5 complaints and 1,200 counted deliveries: a pause.
    assert alerts(session) == [("publication", "complaints", "pause", 5, 1200, False)]
    [mail] = messages(outbox, "complaint_alert")
    assert mail["To"] == "boss@example.com"
    assert "0.42% (5 of 1,200): paused" in mail["Subject"]

    post = make_post(session)
    send = create_send(session, post, "all", NOW)
    commit()
    assert send.state == SendState.SCHEDULED  # held, not started
    assert send_due(session, NOW + dt.timedelta(minutes=1))["started"] == 0
    assert send.state == SendState.SCHEDULED

    complaint_guard.run_guard(session, NOW + dt.timedelta(minutes=5))  # a rerun adds nothing
    commit()
    assert len(alerts(session)) == 1 and len(messages(outbox, "complaint_alert")) == 1

    [alert] = complaint_guard.open_alerts(session)
    complaint_guard.confirm_alert(session, alert.id, admin.id, NOW + dt.timedelta(minutes=6))
    commit()
    assert complaint_guard.holding_alert(session) is None
    assert send_due(session, NOW + dt.timedelta(minutes=7))["started"] == 1
    # The window counts afresh from the confirmation: the old complaints do not pause again.
    complaint_guard.run_guard(session, NOW + dt.timedelta(minutes=10))
    commit()
    assert len(alerts(session)) == 1


def test_below_the_minimum_counts_it_only_warns_too_few_to_judge(session, outbox):  # type: ignore[no-untyped-def]
    yahoo = sent(session, 1200, "yahoo.com")
    report(session, yahoo[:4])  # 0.33%, but only 4 complaints
    complaint_guard.run_guard(session, NOW)
    commit()
    assert alerts(session) == [("publication", "complaints", "warn", 4, 1200, True)]
    assert complaint_guard.holding_alert(session) is None
    [(text, link)] = complaint_guard.admin_notices(session)
    assert "too few to judge" in text and link == "/admin/complaints"
    send = create_send(session, make_post(session), "all", NOW)
    assert send.state == SendState.SENDING


def test_google_hosted_domains_from_the_setting_leave_the_denominator(app_factory, session, outbox):  # type: ignore[no-untyped-def]
    other = app_factory(google_hosted_domains=("corp.example",))
    yahoo = sent(session, 1000, "yahoo.com")
    corp = sent(session, 1000, "corp.example")
    report(session, yahoo[:2] + corp[:5])
    with other.app_context():
        [(_, _, _, verdict)] = [w for w in complaint_guard.judge_all(session, NOW) if w[0] == "publication"]
    assert (verdict.numerator, verdict.denominator, verdict.level) == (2, 1000, "warn")


def test_a_send_with_over_two_percent_hard_bounces_is_warned_about(session, outbox):  # type: ignore[no-untyped-def]
    post = make_post(session)
    send = create_send(session, post, "all", NOW - dt.timedelta(hours=12))
    ids = sent(session, 100, "yahoo.com", send_id=send.id, at=NOW - dt.timedelta(hours=6))
    report(session, ids[:3], kind="bounce", bounce_type="bounce")  # 3% hard
    report(session, ids[3:10], kind="bounce", bounce_type="blocked")  # blocked: not hard bounces
    complaint_guard.run_guard(session, NOW)
    commit()
    assert ("send", "hard_bounces", "warn", 3, 100, False) in alerts(session)
    assert complaint_guard.holding_alert(session) is None  # bounces never pause


def test_a_paused_step_waits_and_goes_on_after_the_confirmation(session, outbox):  # type: ignore[no-untyped-def]
    make_sequence(session, [{"subject": "One"}, {"subject": "Two", "delay_minutes": 60}])
    ids = enrolled(session, 3)
    sequence_engine.run_sequences(session, NOW)
    commit()
    one = session.scalars(select(StepClaim.step_id).where(StepClaim.subscriber_id == ids[0])).one()
    first_delivery = session.scalars(
        select(StepClaim.delivery_id).where(StepClaim.subscriber_id == ids[0])
    ).one()
    report(session, [first_delivery])
    # One complaint over three emails: 33%, far too few to judge; the step is warned about only.
    counts = complaint_guard.step_counts(session, complaint_guard.unreported(), NOW - dt.timedelta(days=30))
    assert (counts[one].sent, counts[one].complaints) == (3, 1)
    complaint_guard.run_guard(session, NOW + dt.timedelta(minutes=1))
    assert ("step", "complaints", "warn", 1, 3, True) in alerts(session)

    # A pause on step Two (as the guard records one): its readers wait, with the reason shown.
    two = one + 1
    session.add(
        ComplaintAlert(
            key="step-two",
            scope="step",
            scope_id=two,
            measure="complaints",
            level="pause",
            numerator=5,
            denominator=1000,
            created_at=NOW,
            notified_at=NOW,
        )
    )
    commit()
    sequence_engine.run_sequences(session, NOW + dt.timedelta(hours=2))
    commit()
    assert subjects_of(session, ids[1]) == ["One"]
    assert enrolment_of_reason(session, ids[1]) == ["step_paused"]
    for alert in complaint_guard.open_alerts(session):
        complaint_guard.confirm_alert(session, alert.id, None, NOW + dt.timedelta(hours=2))
    commit()
    sequence_engine.run_sequences(session, NOW + dt.timedelta(days=1))
    commit()
    assert subjects_of(session, ids[1]) == ["One", "Two"]


def test_the_admin_sees_the_hold_everywhere_and_confirms_it(client, session, outbox):  # type: ignore[no-untyped-def]
    import re

    from flask import g

    from tests.growth.helpers import login_as

    admin = auth.create_operator(session, "boss@example.com", "long enough pw", "admin")
    creator = auth.create_operator(session, "writer@example.com", "long enough pw", "creator")
    yahoo = sent(session, 1000, "yahoo.com", at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    report(session, yahoo[:6])
    complaint_guard.run_guard(session, dt.datetime.now(dt.UTC))
    commit()
    [alert] = complaint_guard.open_alerts(session)

    login_as(client, creator)
    page = client.get("/admin/posts").get_data(as_text=True)
    assert "Complaint guard: The publication (last 30 days): complaint rate 0.60% (6 of 1,000)" in page
    assert "The next send is held." in page
    complaints = client.get("/admin/complaints")
    assert complaints.status_code == 200
    text = complaints.get_data(as_text=True)
    assert "postmaster.google.com" in text and "gmail.com, googlemail.com" in text
    assert f"/admin/complaints/{alert.id}/confirm" not in text  # lifting a pause is for admins
    client.post("/admin/logout")

    login_as(client, admin)
    g.pop("csrf_token", None)
    page = client.get("/admin/complaints").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    answer = client.post(f"/admin/complaints/{alert.id}/confirm", data={"csrf_token": token})
    assert answer.status_code == 302
    assert client.post("/admin/complaints/999999/confirm", data={"csrf_token": token}).status_code == 404
    session.expire_all()
    assert complaint_guard.holding_alert(session) is None
    assert "Complaint guard" not in client.get("/admin/posts").get_data(as_text=True)
