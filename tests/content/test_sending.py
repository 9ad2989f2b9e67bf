"""Sending a post: batches of at most 1000, one delivery per recipient, crashes, retries."""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter

import pytest
from sqlalchemy import func, select, update

from content import send_control, sending
from content.models import BatchState, Post, Send, SendBatch, SendState
from growth import jobs
from growth.db import commit, db, utcnow
from growth.mailer import SendError
from growth.models import Delivery, DeliveryState
from tests.conftest import read_outbox, text_of
from tests.content.conftest import add_subscribers, make_post


def recipients_of(fake) -> list[str]:  # type: ignore[no-untyped-def]
    return [p["to"][0]["email"] for body in fake.requests for p in body["personalizations"]]


def start(app, post_id: int, segment: str = "all") -> int:  # type: ignore[no-untyped-def]
    """Create a send now and let it run (in process, or through RQ when Redis is on)."""
    with app.app_context():
        send = sending.create_send(db.session, db.session.get(Post, post_id), segment, utcnow())
        commit()
        return send.id


def assert_sent_once(session, fake, send_id: int, batch_sizes: list[int]) -> None:  # type: ignore[no-untyped-def]
    """Everybody got it once, in requests of these sizes, and the send is done."""
    emails = recipients_of(fake)
    assert len(emails) == sum(batch_sizes) == len(set(emails))
    assert [len(b["personalizations"]) for b in fake.requests] == batch_sizes
    session.expire_all()
    assert states(session, send_id) == {"sent": sum(batch_sizes)}
    assert session.get(Send, send_id).state == SendState.DONE


def states(session, send_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return dict(
        session.execute(
            select(Delivery.state, func.count()).where(Delivery.send_id == send_id).group_by(Delivery.state)
        ).all()
    )


@pytest.mark.parametrize(("n", "requests"), [(999, 1), (1000, 1), (1001, 2)])
def test_batch_edges(sg_app, session, fake_sendgrid, n, requests):  # type: ignore[no-untyped-def]
    ids = add_subscribers(session, n)
    post = make_post(session)
    session.commit()
    send_id = start(sg_app, post.id)
    assert len(fake_sendgrid.requests) == requests
    assert all(len(body["personalizations"]) <= 1000 for body in fake_sendgrid.requests)
    emails = recipients_of(fake_sendgrid)
    assert len(emails) == n == len(set(emails))
    session.expire_all()
    assert states(session, send_id) == {"sent": n}
    assert session.get(Send, send_id).state == SendState.DONE
    # every personalization maps back to its delivery and subscriber
    first = fake_sendgrid.requests[0]["personalizations"][0]
    delivery = session.get(Delivery, int(first["custom_args"]["delivery_id"]))
    assert delivery.subscriber_id == int(first["custom_args"]["subscriber_id"]) == ids[0]
    assert first["custom_args"]["send_id"] == str(send_id)
    assert first["custom_args"]["kind"] == "value"
    assert delivery.provider_message_id


def test_personalization_carries_links_and_one_click_headers(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    (sid,) = add_subscribers(session, 1, name="Ana <b>")
    post = make_post(session, preview_text="Inbox teaser")
    session.commit()
    start(sg_app, post.id)
    body = fake_sendgrid.requests[0]
    p = body["personalizations"][0]
    subs = p["substitutions"]
    assert subs["[%mh:greeting%]"] == "Hi Ana <b>,"
    assert subs["[%mh:greeting_html%]"] == "Hi Ana &lt;b&gt;,"
    assert subs["[%mh:unsubscribe_url%]"].startswith("http://masthead.test/unsubscribe/")
    assert subs["[%mh:manage_url%]"].startswith("http://masthead.test/me/")
    assert subs["[%mh:web_url%]"].startswith(f"http://masthead.test/p/{post.slug}?r=")
    # the referrals domain's block (or the base fallback) carries the reader's own link
    assert "http://masthead.test/r/" in subs["[%mh:referral_block_html%]"]
    assert p["headers"]["List-Unsubscribe"] == f"<{subs['[%mh:unsubscribe_url%]']}>"
    assert p["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = next(c["value"] for c in body["content"] if c["type"] == "text/html")
    assert "[%mh:web_url%]" in html and "Inbox teaser" in html
    assert body["tracking_settings"]["subscription_tracking"]["enable"] is False


def test_outbox_writes_one_message_per_recipient_with_sender_and_reply_to(app_factory, session):  # type: ignore[no-untyped-def]
    app = app_factory()
    from growth.subscribers import default_newsletter

    newsletter = default_newsletter(session)
    newsletter.sender_name = "The Editors"
    newsletter.reply_to = "editors@example.com"
    add_subscribers(session, 3)
    post = make_post(session, title="Weekly notes")
    session.commit()
    start(app, post.id)
    messages = read_outbox(app.config["MASTHEAD"].outbox_dir)
    assert len(messages) == 3
    message = messages[0]
    assert message["Subject"] == "Weekly notes"
    assert "The Editors" in message["From"]
    assert message["Reply-To"] == "editors@example.com"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = text_of(message)
    assert "[%mh:" not in text and "Hi Reader" in text and "/p/weekly-notes?r=" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "[%mh:" not in html and "Manage your subscription" in html


def test_only_active_unpaused_members_are_sent_to(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    add_subscribers(session, 2, prefix="ok")
    add_subscribers(session, 1, prefix="pend", status="pending")
    add_subscribers(session, 1, prefix="unsub", status="unsubscribed")
    add_subscribers(session, 1, prefix="bounced", status="bounced")
    add_subscribers(session, 1, prefix="paused", paused_until=utcnow() + dt.timedelta(days=3))
    add_subscribers(session, 1, prefix="unpaused", paused_until=utcnow() - dt.timedelta(days=1))
    post = make_post(session)
    session.commit()
    start(sg_app, post.id)
    assert sorted(recipients_of(fake_sendgrid)) == [
        "ok-0@example.com",
        "ok-1@example.com",
        "unpaused-0@example.com",
    ]


def test_recipient_who_unsubscribes_after_planning_is_skipped(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    from growth.models import Subscriber

    ids = add_subscribers(session, 3, prefix="late")
    post = make_post(session)
    session.commit()
    with sg_app.app_context():
        send = sending.create_send(
            db.session, db.session.get(Post, post.id), "all", utcnow() + dt.timedelta(hours=1)
        )
        send.scheduled_at = utcnow() - dt.timedelta(seconds=1)
        send.state = SendState.SENDING
        (batch,) = sending.plan_next_batch(db.session, send.id, utcnow())
        db.session.get(Subscriber, ids[1]).status = "unsubscribed"
        jobs.discard_pending()
        db.session.commit()
        jobs.run_task("content.deliver_batch", batch.id)
    assert sorted(recipients_of(fake_sendgrid)) == ["late-0@example.com", "late-2@example.com"]
    session.expire_all()
    assert states(session, send.id) == {"sent": 2, "skipped": 1}


class WorkerDied(BaseException):
    """Stands for a worker killed mid-request (not an Exception: nothing catches it)."""


class DiesOnCall:
    """Wraps a backend; the request numbered `die_on` (1-based) kills the worker instead."""

    def __init__(self, inner, die_on: int):  # type: ignore[no-untyped-def]
        self.inner, self.die_on, self.calls, self.name = inner, die_on, 0, inner.name

    def send(self, message):  # type: ignore[no-untyped-def]
        return self.inner.send(message)

    def send_batch(self, batch):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls == self.die_on:
            raise WorkerDied()
        return self.inner.send_batch(batch)


def _planned(app, post_id: int, batches: int):  # type: ignore[no-untyped-def]
    """A started send with `batches` batches planned and committed, none sent yet."""
    with app.app_context():
        session = db.session
        send = sending.create_send(
            session, session.get(Post, post_id), "all", utcnow() + dt.timedelta(hours=1)
        )
        send.state = SendState.SENDING
        send.started_at = utcnow()
        planned = [sending.plan_next_batch(session, send.id, utcnow())[0] for _ in range(batches)]
        jobs.discard_pending()
        session.commit()
        return send.id, [b.id for b in planned]


def test_crash_between_batches_then_resume_sends_nobody_twice(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    add_subscribers(session, 25)
    post = make_post(session)
    session.commit()
    sg_app.config["MASTHEAD"] = sg_app.config["MASTHEAD"].replace(send_batch_size=10)
    send_id, batch_ids = _planned(sg_app, post.id, 2)
    with sg_app.app_context():
        assert jobs.run_task("content.deliver_batch", batch_ids[0]) == "sent"
    # the worker stops here: batch 2 queued, the rest of the list not resolved yet
    with sg_app.app_context():
        assert send_control.send_due(db.session, utcnow())["resumed"] == 0  # not stalled yet
        commit()
        later = utcnow() + send_control.STALL_AFTER + dt.timedelta(minutes=1)
        assert send_control.send_due(db.session, later)["resumed"] == 1  # the scheduler's tick
        commit()
    assert_sent_once(session, fake_sendgrid, send_id, [10, 10, 5])


def test_crash_inside_a_request_leaves_that_batch_unknown_and_resumes_the_rest(
    sg_app, session, fake_sendgrid
):  # type: ignore[no-untyped-def]
    ids = add_subscribers(session, 30)
    post = make_post(session)
    session.commit()
    sg_app.config["MASTHEAD"] = sg_app.config["MASTHEAD"].replace(send_batch_size=10)
    send_id, batch_ids = _planned(sg_app, post.id, 3)
    real = sg_app.extensions["masthead_mailer"]
    sg_app.extensions["masthead_mailer"] = DiesOnCall(real, die_on=2)
    try:
        with sg_app.app_context():
            jobs.run_task("content.deliver_batch", batch_ids[0])
            with pytest.raises(WorkerDied):
                jobs.run_task("content.deliver_batch", batch_ids[1])
    finally:
        sg_app.extensions["masthead_mailer"] = real
    session.expire_all()
    assert session.get(SendBatch, batch_ids[1]).state == BatchState.IN_FLIGHT
    # a new worker picks the send up: the in-flight batch is never sent by itself
    with sg_app.app_context():
        jobs.run_task("content.deliver_batch", batch_ids[1])
        jobs.run_task("content.run_send", send_id)
    emails = recipients_of(fake_sendgrid)
    assert len(emails) == 20 == len(set(emails))
    session.expire_all()
    # its deliveries wait as queued under the batch in flight; the operator sees them in flight
    assert states(session, send_id) == {"sent": 20, "queued": 10}
    with sg_app.app_context():
        flying = send_control.progress(db.session, db.session.get(Send, send_id)).figures
        assert (flying["in_flight"], flying["queued"], flying["sent"], flying["total"]) == (10, 0, 20, 30)
    # the scheduler's tick, once the lease is over, says what happened to it
    with sg_app.app_context():
        figures = send_control.send_due(
            db.session, utcnow() + send_control.IN_FLIGHT_LEASE + dt.timedelta(minutes=1)
        )
        commit()
    assert figures["unknown"] == 1
    session.expire_all()
    assert states(session, send_id) == {"sent": 20, "unknown": 10}
    unknown = session.execute(
        select(Delivery.attempts, Delivery.error).where(
            Delivery.send_id == send_id, Delivery.state == "unknown"
        )
    ).all()
    assert {(a, e) for a, e in unknown} == {(1, "worker stopped during the provider request")}
    with sg_app.app_context():
        progress = send_control.progress(db.session, db.session.get(Send, send_id))
        assert progress.figures["unknown"] == 10 and progress.figures["total"] == 30
        assert [b.number for b in progress.unknown_batches] == [2]
    assert len(recipients_of(fake_sendgrid)) == 20  # still nothing resent by itself
    # the operator decides to resend it
    with sg_app.app_context():
        send_control.resend_batch(db.session, send_control.get_batch(db.session, send_id, 2), utcnow())
        commit()
    emails = recipients_of(fake_sendgrid)
    assert len(emails) == 30 == len(set(emails))
    assert {f"{e.split('-')[0]}" for e in emails}  # addresses are unique across all batches
    session.expire_all()
    assert states(session, send_id) == {"sent": 30}
    assert (
        sorted(
            int(p["custom_args"]["subscriber_id"])
            for b in fake_sendgrid.requests
            for p in b["personalizations"]
        )
        == ids
    )


def test_429_and_5xx_are_retried_then_sent_once(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    add_subscribers(session, 5)
    post = make_post(session)
    session.commit()
    fake_sendgrid.fail_next.extend([429, 503])
    send_id = start(sg_app, post.id)
    assert len(fake_sendgrid.requests) == 1  # the fake records accepted requests only
    session.expire_all()
    assert states(session, send_id) == {"sent": 5}
    batch = session.scalars(select(SendBatch).where(SendBatch.send_id == send_id)).one()
    assert batch.attempts == 1 and batch.state == BatchState.SENT
    # each delivery written once with its outcome: the provider, its message id, one attempt
    rows = session.execute(
        select(Delivery.provider, Delivery.provider_message_id, Delivery.attempts, Delivery.sent_at).where(
            Delivery.send_id == send_id
        )
    ).all()
    assert {(p, m, a) for p, m, a, _ in rows} == {("sendgrid", batch.provider_message_id, 1)}
    assert batch.provider_message_id and all(at is not None for *_, at in rows)


def test_refused_batch_fails_and_can_be_resent(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    add_subscribers(session, 4)
    post = make_post(session)
    session.commit()
    fake_sendgrid.fail_next.append(400)
    send_id = start(sg_app, post.id)
    session.expire_all()
    assert states(session, send_id) == {"failed": 4}
    with sg_app.app_context():
        send_control.resend_batch(db.session, send_control.get_batch(db.session, send_id, 1), utcnow())
        commit()
    session.expire_all()
    assert states(session, send_id) == {"sent": 4}
    assert len(recipients_of(fake_sendgrid)) == 4


def test_retries_exhausted_mark_the_batch_failed(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    add_subscribers(session, 2)
    post = make_post(session)
    session.commit()
    fake_sendgrid.fail_next.extend([500, 500, 500, 500])
    send_id = start(sg_app, post.id)
    session.expire_all()
    assert states(session, send_id) == {"failed": 2}
    assert fake_sendgrid.requests == []


def test_timeout_without_answer_is_unknown_not_retried(session):  # type: ignore[no-untyped-def]
    class Silent:
        name = "silent"
        calls = 0

        def send_batch(self, batch):  # type: ignore[no-untyped-def]
            self.calls += 1
            raise SendError("read timed out", transient=True) from TimeoutError()

    backend = Silent()
    outcome, _, error = sending._post_with_retries(backend, object())
    assert outcome == BatchState.UNKNOWN and backend.calls == 1 and "timed out" in error


def test_scheduled_send_starts_when_due(sg_app, session, fake_sendgrid, app):  # type: ignore[no-untyped-def]
    add_subscribers(session, 3)
    post = make_post(session)
    session.commit()
    later = utcnow() + dt.timedelta(hours=2)
    with sg_app.app_context():
        send = sending.create_send(
            db.session, db.session.get(Post, post.id), "all", utcnow(), scheduled_at=later
        )
        commit()
        assert send.state == SendState.SCHEDULED
    assert fake_sendgrid.requests == []
    with sg_app.app_context():
        assert send_control.send_due(db.session, utcnow())["started"] == 0
        commit()
        assert send_control.send_due(db.session, later + dt.timedelta(seconds=1))["started"] == 1
        commit()
    assert len(recipients_of(fake_sendgrid)) == 3


def test_send_due_command_publishes_and_starts(app, session, outbox):  # type: ignore[no-untyped-def]
    add_subscribers(session, 2)
    post = make_post(session, status="scheduled", published_at=utcnow() + dt.timedelta(minutes=1))
    sending.create_send(session, post, "all", utcnow(), scheduled_at=utcnow() + dt.timedelta(minutes=1))
    session.commit()
    result = app.test_cli_runner().invoke(args=["send-due"])
    assert result.exit_code == 0, result.output
    assert "started 0 sends" in result.output and read_outbox(outbox) == []
    session.execute(update(Send).where(Send.post_id == post.id).values(scheduled_at=utcnow()))
    session.execute(update(Post).where(Post.id == post.id).values(published_at=utcnow()))
    session.commit()
    result = app.test_cli_runner().invoke(args=["send-due"])
    assert "published 1 posts, started 1 sends" in result.output, result.output
    assert len(read_outbox(outbox)) == 2
    session.expire_all()
    assert session.get(Post, post.id).status == "published"


def test_draft_post_cannot_be_sent(sg_app, session):  # type: ignore[no-untyped-def]
    undated = make_post(session, title="Undated", status="draft", published_at=None)
    dated = make_post(session, title="Dated", status="draft", published_at=utcnow())
    session.commit()
    from growth.errors import ValidationFailed

    for post in (undated, dated):  # a draft has no web page, whatever its date
        with sg_app.app_context(), pytest.raises(ValidationFailed):
            sending.create_send(db.session, db.session.get(Post, post.id), "all", utcnow())


def test_test_send_reaches_one_address_and_no_list(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    add_subscribers(session, 3)
    post = make_post(session, title="Proof")
    session.commit()
    with sg_app.app_context():
        send_control.send_test_email(db.session, db.session.get(Post, post.id), "editor@example.com")
    assert recipients_of(fake_sendgrid) == ["editor@example.com"]
    body = fake_sendgrid.requests[0]
    assert body["subject"] == "[Test] Proof"
    html = next(c["value"] for c in body["content"] if c["type"] == "text/html")
    assert "[%mh:" not in html
    assert (
        session.scalar(select(func.count()).select_from(Delivery).where(Delivery.send_id.is_not(None))) == 0
    )


def test_no_delivery_is_ever_doubled(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    add_subscribers(session, 12)
    post = make_post(session)
    session.commit()
    send_id = start(sg_app, post.id)
    with sg_app.app_context():  # a second run and a scheduler tick change nothing
        jobs.run_task("content.run_send", send_id)
        send_control.send_due(db.session, utcnow())
        commit()
    session.expire_all()
    per_subscriber = Counter(
        session.scalars(select(Delivery.subscriber_id).where(Delivery.send_id == send_id)).all()
    )
    assert len(per_subscriber) == 12 and set(per_subscriber.values()) == {1}
    assert len(recipients_of(fake_sendgrid)) == 12
    assert DeliveryState.SENT in states(session, send_id)


def test_paid_post_sends_the_teaser_edition_to_readers_without_access(sg_app, session, fake_sendgrid, tiers):  # type: ignore[no-untyped-def]
    free = add_subscribers(session, 2, prefix="free")
    (member,) = add_subscribers(session, 1, prefix="member")
    (by_stage,) = add_subscribers(session, 1, prefix="bystage", stage="paying")
    tiers[member] = 1
    post = make_post(session, title="Members only", audience="paid")
    session.commit()
    send_id = start(sg_app, post.id)
    assert len(fake_sendgrid.requests) == 2
    editions = {}
    for body in fake_sendgrid.requests:
        html = next(c["value"] for c in body["content"] if c["type"] == "text/html")
        text = next(c["value"] for c in body["content"] if c["type"] == "text/plain")
        who = sorted(int(p["custom_args"]["subscriber_id"]) for p in body["personalizations"])
        editions["teaser" if "Upgrade to keep reading" in html else "full"] = (who, html, text)
    assert editions["full"][0] == sorted([member, by_stage])
    assert editions["teaser"][0] == free
    assert "The rest, " in editions["full"][1] and "The rest, " not in editions["teaser"][1]
    assert "The rest, " not in editions["teaser"][2] and "First paragraph." in editions["teaser"][2]
    session.expire_all()
    assert states(session, send_id) == {"sent": 4}


def test_referral_block_of_the_referrals_domain_goes_to_each_recipient(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    from growth import emails

    def block(_session, subscriber, _context):  # type: ignore[no-untyped-def]
        return {
            "referral_block": f"{subscriber.referral_code}: 2 of 3 friends",
            "referral_block_html": f"<p>{subscriber.referral_code}: <b>2</b> of 3</p>",
        }

    ids = add_subscribers(session, 2, prefix="refblock")
    post = make_post(session)
    session.commit()
    emails.register_context_provider(block)
    try:
        start(sg_app, post.id)
    finally:
        emails._context_providers.remove(block)  # no public way to unregister; keep tests apart
    for p in fake_sendgrid.requests[0]["personalizations"]:
        code = f"refblock{ids.index(int(p['custom_args']['subscriber_id'])):06d}"
        assert p["substitutions"]["[%mh:referral_block%]"] == f"{code}: 2 of 3 friends"
        assert p["substitutions"]["[%mh:referral_block_html%]"] == f"<p>{code}: <b>2</b> of 3</p>"


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_with_redis_each_batch_is_its_own_rq_job_and_a_worker_sends_them_once(
    app_factory, session, fake_sendgrid
):  # type: ignore[no-untyped-def]
    from rq import SimpleWorker
    from rq.registry import FinishedJobRegistry

    rq_app = app_factory(
        mail_backend="sendgrid",
        sendgrid_api_key="SG.test",
        sendgrid_api_host=fake_sendgrid.url,
        queue_async=True,
        send_batch_size=10,
        extra={"send_retry_delays": "0,0,0", "ratelimit": "off"},
    )
    queue = rq_app.extensions["masthead_queue"]
    queue.empty()
    finished = FinishedJobRegistry(queue=queue)
    for job_id in finished.get_job_ids():
        finished.remove(job_id, delete_job=True)
    add_subscribers(session, 25)
    post = make_post(session)
    session.commit()
    send_id = start(rq_app, post.id)
    assert len(queue) == 1 and fake_sendgrid.requests == []  # only queued: run_send, nothing sent
    with rq_app.app_context():
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    jobs_run = Counter(queue.fetch_job(i).args[0] for i in finished.get_job_ids())
    assert jobs_run == {"content.run_send": 1, "content.deliver_batch": 3}
    assert_sent_once(session, fake_sendgrid, send_id, [10, 10, 5])
