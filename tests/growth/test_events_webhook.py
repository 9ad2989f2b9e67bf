"""The signed SendGrid Event Webhook: verification before parsing, each event stored once."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from sqlalchemy import func, select

from growth.models import EmailEvent, Subscriber, SubscriberEvent
from tests.conftest import REDIS_URL
from tests.fakes.engagement_data import T0, custom_args, make_delivery, make_subscriber
from tests.fakes.sendgrid_webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSigner, event

TS = int(T0.timestamp())


def stored(session) -> list[EmailEvent]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.scalars(select(EmailEvent).order_by(EmailEvent.id)))


def test_signed_batch_is_stored_and_mapped_by_custom_args(hook, signer, session):
    sub = make_subscriber(session, "ana@example.com")
    delivery = make_delivery(session, sub, T0)
    batch = [
        event("processed", "ana@example.com", TS, **custom_args(delivery)),
        event("delivered", "ana@example.com", TS + 5, **custom_args(delivery)),
        event("open", "ana@example.com", TS + 600, **custom_args(delivery)),
    ]
    body, headers = signer.signed(batch)
    response = hook.post("/webhooks/sendgrid", data=body, headers=headers)
    assert response.status_code == 200 and response.json == {"received": 3}
    rows = stored(session)
    assert [(r.type, r.delivery_id, r.subscriber_id) for r in rows] == [
        ("processed", delivery.id, sub.id),
        ("delivered", delivery.id, sub.id),
        ("open", delivery.id, sub.id),
    ]
    assert rows[2].at == T0 + dt.timedelta(seconds=600)
    assert rows[0].event_id == batch[0]["sg_event_id"] and rows[0].payload["template"] == "post"


def test_replayed_batch_changes_nothing(hook, signer, session):
    sub = make_subscriber(session, "ana@example.com")
    body, headers = signer.signed(
        [event("bounce", "ana@example.com", TS, type="bounce", reason="550 no such user")]
    )
    assert hook.post("/webhooks/sendgrid", data=body, headers=headers).status_code == 200
    history = session.scalar(select(func.count()).select_from(SubscriberEvent))
    again = hook.post("/webhooks/sendgrid", data=body, headers=headers)
    assert again.status_code == 200
    assert len(stored(session)) == 1
    assert session.scalar(select(func.count()).select_from(SubscriberEvent)) == history
    assert session.get(Subscriber, sub.id).status == "bounced"


def test_same_event_redelivered_in_a_new_batch_is_stored_once(hook, signer, session):
    make_subscriber(session, "ana@example.com")
    first = event("open", "ana@example.com", TS)
    second = event("click", "ana@example.com", TS + 60, url="https://example.com/a")
    for batch in ([first], [second, first]):
        body, headers = signer.signed(batch)
        assert hook.post("/webhooks/sendgrid", data=body, headers=headers).status_code == 200
    assert sorted(r.type for r in stored(session)) == ["click", "open"]


@pytest.mark.parametrize(
    "how", ["other_key", "tampered_body", "unsigned", "garbage_signature", "old_timestamp_header"]
)
def test_forged_batches_are_refused_and_nothing_is_stored(hook, signer, session, how):
    sub = make_subscriber(session, "ana@example.com")
    body, headers = signer.signed([event("spamreport", "ana@example.com", TS)])
    if how == "other_key":
        headers.update(WebhookSigner().sign(body))
    elif how == "tampered_body":
        body = body.replace(b"spamreport", b"delivered")
    elif how == "unsigned":
        headers = {"Content-Type": "application/json"}
    elif how == "garbage_signature":
        headers[SIGNATURE_HEADER] = "not base64 !!"
    else:  # a valid signature with another timestamp than the one signed
        headers[TIMESTAMP_HEADER] = str(int(headers[TIMESTAMP_HEADER]) + 1)
    response = hook.post("/webhooks/sendgrid", data=body, headers=headers)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "invalid_signature"
    assert stored(session) == []
    assert session.get(Subscriber, sub.id).status == "active"


def test_without_a_key_every_request_is_refused_with_a_warning(client, signer, session, caplog):
    body, headers = signer.signed([event("open", "ana@example.com", TS)])
    with caplog.at_level(logging.WARNING, logger="growth.events"):
        response = client.post("/webhooks/sendgrid", data=body, headers=headers)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "webhook_not_configured"
    assert "SENDGRID_WEBHOOK_PUBLIC_KEY" in caplog.text
    assert stored(session) == []


def test_malformed_key_refuses_everything(app_factory, signer, session, caplog):
    with caplog.at_level(logging.ERROR):
        client = app_factory(sendgrid_webhook_public_key="bm90IGEga2V5").test_client()
    assert "malformed" in caplog.text  # at startup
    body, headers = signer.signed([event("open", "ana@example.com", TS)])
    assert client.post("/webhooks/sendgrid", data=body, headers=headers).status_code == 403


@pytest.mark.parametrize("body", [b"[{not json", b'{"event": "open"}', b""])
def test_signed_but_malformed_json_is_a_400(hook, signer, session, body):
    response = hook.post("/webhooks/sendgrid", data=body, headers=signer.sign(body))
    assert response.status_code == 400
    assert response.json["error"]["code"] in {"malformed_json", "malformed_batch"}
    assert stored(session) == []


def test_a_body_that_is_not_utf8_cannot_be_verified(hook, signer, session):
    body = b"\xff\xfe[]"
    assert hook.post("/webhooks/sendgrid", data=body, headers=signer.sign(body)).status_code == 403


def test_events_without_id_type_or_time_are_skipped_the_rest_stored(hook, signer, session):
    make_subscriber(session, "ana@example.com")
    good = event("open", "ana@example.com", TS)
    batch = [
        good,
        {"event": "open", "email": "ana@example.com", "timestamp": TS},  # no sg_event_id
        event("teleported", "ana@example.com", TS),
        event("open", "ana@example.com", "yesterday"),
        "not an object",
    ]
    body, headers = signer.signed(batch)
    assert hook.post("/webhooks/sendgrid", data=body, headers=headers).json == {"received": 5}
    assert [r.event_id for r in stored(session)] == [good["sg_event_id"]]


def test_every_event_type_is_stored(hook, signer, session):
    sub = make_subscriber(session, "ana@example.com")
    delivery = make_delivery(session, sub, T0)
    kinds = [
        "processed",
        "delivered",
        "deferred",
        "open",
        "click",
        "bounce",
        "dropped",
        "spamreport",
        "unsubscribe",
        "group_unsubscribe",
        "group_resubscribe",
    ]
    batch = [
        event(
            k,
            "ana@example.com",
            TS + 3600 + i,
            url="https://example.com/story",
            **custom_args(delivery),
        )
        for i, k in enumerate(kinds)
    ]
    body, headers = signer.signed(batch)
    assert hook.post("/webhooks/sendgrid", data=body, headers=headers).status_code == 200
    assert [r.type for r in stored(session)] == kinds


def test_events_without_custom_args_map_by_address(hook, signer, session):
    sub = make_subscriber(session, "ana@example.com")
    other = make_subscriber(session, "bo@example.com")
    foreign = make_delivery(session, other, T0)
    batch = [
        event("open", "Ana@Example.com", TS),
        event("open", "ana@example.com", TS + 1, **custom_args(foreign)),  # args of someone else's mail
        event("open", "stranger@example.com", TS + 2),
    ]
    body, headers = signer.signed(batch)
    hook.post("/webhooks/sendgrid", data=body, headers=headers)
    assert [(r.subscriber_id, r.delivery_id) for r in stored(session)] == [
        (sub.id, None),
        (sub.id, None),
        (None, None),
    ]


def test_body_is_verified_exactly_as_sent(hook, signer, session):
    """Pretty-printed JSON is signed as is: re-serialising it would break the signature."""
    make_subscriber(session, "ana@example.com")
    body = json.dumps([event("open", "ana@example.com", TS)], indent=2).encode()
    response = hook.post("/webhooks/sendgrid", data=body, headers=signer.sign(body))
    assert response.status_code == 200 and len(stored(session)) == 1


def test_an_event_twice_in_one_batch_is_stored_once(hook, signer, session):
    sub = make_subscriber(session, "ana@example.com")
    twice = event("spamreport", "ana@example.com", TS)
    body, headers = signer.signed([twice, dict(twice)])
    assert hook.post("/webhooks/sendgrid", data=body, headers=headers).status_code == 200
    assert len(stored(session)) == 1
    changes = session.scalars(
        select(SubscriberEvent).where(
            SubscriberEvent.subscriber_id == sub.id, SubscriberEvent.field == "status"
        )
    ).all()
    assert [c.to_value for c in changes] == ["complained"]


def test_nonsense_custom_args_fall_back_to_the_address(hook, signer, session):
    sub = make_subscriber(session, "ana@example.com")
    batch = [
        event("open", "ana@example.com", TS, delivery_id="99999999999999999999"),
        event("open", "ana@example.com", TS + 1, delivery_id="-3"),
        event("open", "ana@example.com", TS + 2, delivery_id=True),
    ]
    body, headers = signer.signed(batch)
    assert hook.post("/webhooks/sendgrid", data=body, headers=headers).status_code == 200
    assert [(r.subscriber_id, r.delivery_id) for r in stored(session)] == [(sub.id, None)] * 3


@pytest.mark.skipif(not REDIS_URL, reason="needs Redis: without it the batch is processed in process")
def test_with_redis_the_request_only_queues_the_batch(app_factory, signer, session):
    from growth.jobs import run_task

    other = app_factory(sendgrid_webhook_public_key=signer.public_key, queue_async=True)
    queue = other.extensions["masthead_queue"]
    queue.empty()
    sub = make_subscriber(session, "ana@example.com")
    body, headers = signer.signed([event("spamreport", "ana@example.com", TS)])
    response = other.test_client().post("/webhooks/sendgrid", data=body, headers=headers)
    assert response.status_code == 200 and stored(session) == []  # answered before processing
    [job] = queue.jobs
    queue.empty()
    assert job.func is run_task and job.args[0] == "process_sendgrid_events"
    with other.app_context():
        run_task(*job.args)  # what the worker does, on the arguments that went through Redis
    assert len(stored(session)) == 1
    assert session.get(Subscriber, sub.id).status == "complained"
