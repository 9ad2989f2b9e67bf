"""Signed SendGrid batches with bad parts: a 400 for what is malformed, the good events kept."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from growth.models import EmailEvent, Subscriber
from tests.fakes.engagement_data import T0, make_subscriber
from tests.fakes.sendgrid_webhook import event

TS = int(T0.timestamp())


def stored(session) -> list[EmailEvent]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.scalars(select(EmailEvent).order_by(EmailEvent.id)))


def post(hook, signer, body: bytes, timestamp: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": "application/json", **signer.sign(body, timestamp)}
    return hook.post("/webhooks/sendgrid", data=body, headers=headers)


@pytest.mark.parametrize("depth", [100_000, 5_000, 200])
def test_deeply_nested_json_is_a_400(hook, signer, session, depth):
    body = b"[" * depth + b"]" * depth
    response = post(hook, signer, body)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "malformed_json"
    assert stored(session) == []


def test_a_deeply_nested_field_inside_one_event_is_a_400(hook, signer, session):
    nested: object = "x"
    for _ in range(200):
        nested = {"a": nested}
    batch = [event("open", "ana@example.com", TS, deep=nested)]
    response = post(hook, signer, json.dumps(batch).encode())
    assert response.status_code == 400 and response.json["error"]["code"] == "malformed_json"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinity_is_not_json_a_400(hook, signer, session, constant):
    body = f'[{{"event": "open", "sg_event_id": "e1", "timestamp": {TS}, "score": {constant}}}]'.encode()
    response = post(hook, signer, body)
    assert response.status_code == 400 and response.json["error"]["code"] == "malformed_json"
    assert stored(session) == []


def test_a_nul_inside_one_event_drops_that_event_and_keeps_the_rest(hook, signer, session):
    sub = make_subscriber(session, "ana@example.com")
    good = [event("delivered", "ana@example.com", TS), event("open", "ana@example.com", TS + 60)]
    bad = [
        event("bounce", "ana@example.com", TS + 120, type="bounce", reason="550 no\u0000such user"),
        event("click", "ana@example.com", TS + 180, url="https://example.com/\u0000"),
        event("open", "ana\u0000@example.com", TS + 240),
        event("open", "ana@example.com", TS + 300, sg_event_id="id\u0000with-nul"),
        event("open", "ana@example.com", TS + 360, **{"key\u0000": "v"}),
    ]
    response = post(hook, signer, json.dumps(good[:1] + bad + good[1:]).encode())
    assert response.status_code == 200
    assert sorted(r.event_id for r in stored(session)) == sorted(e["sg_event_id"] for e in good)
    assert session.get(Subscriber, sub.id).status == "active"  # the NUL bounce did not count


def test_an_over_long_event_id_drops_that_event_and_keeps_the_rest(hook, signer, session):
    make_subscriber(session, "ana@example.com")
    good = event("open", "ana@example.com", TS)
    long_id = event("click", "ana@example.com", TS + 60, sg_event_id="x" * 201)
    assert post(hook, signer, json.dumps([long_id, good]).encode()).status_code == 200
    assert [r.event_id for r in stored(session)] == [good["sg_event_id"]]


@pytest.mark.parametrize(
    "offset, status",
    [(-86_400 - 60, 403), (-86_400 + 60, 200), (0, 200), (240, 200), (360, 403), (10**12, 403)],
)
def test_signed_timestamp_older_than_a_day_or_in_the_future_is_refused(hook, signer, session, offset, status):
    make_subscriber(session, "ana@example.com")
    batch = [event("open", "ana@example.com", TS)]
    response = post(hook, signer, json.dumps(batch).encode(), str(int(time.time()) + offset))
    assert response.status_code == status
    if status == 403:
        assert response.json["error"]["code"] == "stale_timestamp"
        assert stored(session) == []
    else:
        assert len(stored(session)) == 1


@pytest.mark.parametrize("timestamp", ["soon", "1e9", " 17", "-5", "9" * 400])
def test_a_signed_timestamp_that_is_not_a_unix_time_is_refused(hook, signer, session, timestamp):
    response = post(hook, signer, b"[]", timestamp)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "stale_timestamp"
