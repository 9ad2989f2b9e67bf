"""POST /webhooks/stripe with a signed body that is not a storable event: 400, nothing stored."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from billing.models import StripeEvent
from tests.billing.conftest import WEBHOOK_SECRET, post_event
from tests.fakes.stripe import event, invoice, sign, subscription

T = 1_767_225_600  # 2026-01-01T00:00:00Z


def events_stored(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(StripeEvent))


def post_raw(client, body: bytes, timestamp: int | None = None):  # type: ignore[no-untyped-def]
    header = sign(body, WEBHOOK_SECRET, timestamp)
    return client.post(
        "/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def _nested(depth: int) -> dict:
    value: object = "x"
    for _ in range(depth):
        value = {"a": value}
    return value  # type: ignore[return-value]


@pytest.mark.parametrize(
    "body",
    [
        json.dumps([event("invoice.paid", invoice(), T)]).encode(),  # a signed JSON array
        b"[]",
        b'"evt_1"',
        b"null",
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the parser's stack
        json.dumps({**event("invoice.paid", invoice(), T), "data": {"object": _nested(300)}}).encode(),
        json.dumps(event("invoice.paid", invoice(), T, event_id="evt_" + "x" * 300)).encode(),
        json.dumps({**event("invoice.paid", invoice(), T), "id": 12345}).encode(),
        json.dumps({**event("invoice.paid", invoice(), T), "type": {"not": "a string"}}).encode(),
        json.dumps({**event("invoice.paid", invoice(), T), "type": "x" * 101}).encode(),
        json.dumps(event("invoice.paid", {**invoice(), "customer_email": "a\u0000@example.com"}, T)).encode(),
        json.dumps(event("invoice.paid\u0000", invoice(), T)).encode(),
        b"\xff\xfe not utf-8",
        json.dumps(event("invoice.paid", {**invoice(), "amount_paid": float("nan")}, T)).encode(),
    ],
    ids=[
        "array",
        "empty_array",
        "string",
        "null",
        "deep_body",
        "deep_object",
        "long_id",
        "id_not_a_string",
        "type_not_a_string",
        "long_type",
        "nul_in_object",
        "nul_in_type",
        "not_utf8",
        "nan",
    ],
)
def test_a_signed_body_that_is_not_a_storable_event_is_a_400(bclient, bsession, body):
    response = post_raw(bclient, body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "malformed_event"
    assert events_stored(bsession) == 0


@pytest.mark.parametrize("ahead, status", [(60, 200), (290, 200), (310, 400), (86_400, 400), (10**11, 400)])
def test_a_signature_from_more_than_five_minutes_ahead_is_refused(bclient, bsession, ahead, status):
    payload = event("customer.subscription.created", subscription(), T)
    response = post_event(bclient, payload, timestamp=int(time.time()) + ahead)
    assert response.status_code == status
    assert events_stored(bsession) == (1 if status == 200 else 0)
    if status == 400:
        assert response.get_json()["error"]["code"] == "invalid_signature"


def test_the_longest_event_id_stripe_could_send_is_stored(bclient, bsession):
    payload = event("invoice.paid", invoice(), T, event_id="evt_" + "x" * 251)
    assert post_event(bclient, payload).status_code == 200
    assert events_stored(bsession) == 1


@pytest.mark.parametrize("raw_id", [str(2**31), str(2**63), "9" * 40])
def test_ids_in_metadata_beyond_the_database_range_name_nobody(bclient, bsession, raw_id):
    session_obj = {
        "id": "cs_big",
        "object": "checkout.session",
        "customer": "cus_big",
        "subscription": "sub_big",
        "client_reference_id": raw_id,
        "metadata": {"subscriber_id": raw_id, "tier_id": raw_id},
        "customer_details": {"email": "nobody@example.com"},
    }
    assert post_event(bclient, event("checkout.session.completed", session_obj, T)).status_code == 200
    meta = {"subscriber_id": raw_id, "tier_id": raw_id}
    sub = subscription(sub_id="sub_big", customer="cus_big", metadata=meta)
    assert post_event(bclient, event("customer.subscription.created", sub, T + 1)).status_code == 200
    bsession.expire_all()
    rows = list(bsession.scalars(select(StripeEvent).order_by(StripeEvent.id)))
    assert [(r.type, r.outcome) for r in rows] == [
        ("checkout.session.completed", "unmatched"),
        ("customer.subscription.created", "unmatched"),
    ]
