"""The core's webhook events carry the documented payloads; the OpenAPI document has every one."""

from __future__ import annotations

import datetime as dt

from growth import subscribers
from growth.db import utcnow
from growth.models import Stage, Status
from growth.outgoing import registry


def signup(session, email="ana@example.com"):  # type: ignore[no-untyped-def]
    sub = subscribers.signup(session, subscribers.SignupRequest(email=email), utcnow()).subscriber
    session.flush()
    return sub


def test_signup_confirm_unsubscribe(session, emitted):  # type: ignore[no-untyped-def]
    sub = signup(session)
    [created] = emitted.of("subscriber.created")
    assert (
        created["data"]["subscriber"]["id"] == sub.id and created["data"]["subscriber"]["email"] == sub.email
    )
    assert created["data"]["subscriber"]["status"] == "pending"
    subscribers.confirm(session, sub, utcnow())
    subscribers.confirm(session, sub, utcnow())  # a second click changes nothing and says nothing
    [confirmed] = emitted.of("subscriber.confirmed")
    assert confirmed["data"]["subscriber"]["status"] == "active"
    [stage] = emitted.of("subscriber.stage_changed")
    assert (stage["data"]["from"], stage["data"]["to"]) == ("signed_up", "confirmed")
    subscribers.unsubscribe(session, sub, utcnow())
    [left] = emitted.of("subscriber.unsubscribed")
    assert (
        left["data"]["reason"] == "unsubscribe_link"
        and left["data"]["subscriber"]["status"] == "unsubscribed"
    )


def test_suppressed_bounced_or_complained(session, emitted):  # type: ignore[no-untyped-def]
    a, b = signup(session, "a@example.com"), signup(session, "b@example.com")
    subscribers.set_status(session, a, Status.BOUNCED, utcnow(), reason="bounce")
    subscribers.set_status(session, b, Status.COMPLAINED, utcnow(), reason="spamreport")
    assert [e["data"]["reason"] for e in emitted.of("subscriber.suppressed")] == ["bounced", "complained"]
    assert emitted.of("subscriber.unsubscribed") == []


def test_envelope_and_timestamp(session, emitted):  # type: ignore[no-untyped-def]
    sub = signup(session)
    at = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
    subscribers.set_stage(session, sub, Stage.ENGAGED, at)
    [e] = [p for p in emitted.of("subscriber.stage_changed") if p["data"]["to"] == "engaged"]
    assert set(e) == {"type", "timestamp", "data"} and e["timestamp"] == "2026-05-01T12:00:00+00:00"


def test_every_event_type_is_in_the_openapi_document(client):  # type: ignore[no-untyped-def]
    doc = client.get("/api/v1/openapi.json").get_json()
    wanted = {
        "subscriber.created",
        "subscriber.confirmed",
        "subscriber.unsubscribed",
        "subscriber.suppressed",
        "subscriber.stage_changed",
        "subscription.started",
        "subscription.canceled",
        "subscription.churned",
        "referral.counted",
        "reward.granted",
        "post.published",
        "send.finished",
    }
    assert {t.name for t in registry.event_types()} == wanted
    assert set(doc["webhooks"]) == wanted | {"webhook.test"}
    for name in wanted:
        ref = doc["webhooks"][name]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        component = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert component == registry.schema_for(name)
        assert component["properties"]["type"] == {"const": name}


def test_imported_subscribers_are_created_events_too(session, emitted):  # type: ignore[no-untyped-def]
    from growth import imports

    rows = [{"email": "one@example.com"}, {"email": "two@example.com"}, {"email": "one@example.com"}]
    imports.import_subscribers(session, rows, utcnow(), confirmed=True)
    assert [e["data"]["subscriber"]["email"] for e in emitted.of("subscriber.created")] == [
        "one@example.com",
        "two@example.com",
    ]


def test_erasure_forgets_the_readers_events(session, emitted):  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from growth.outgoing.models import WebhookDelivery, WebhookEvent

    ana, bo = signup(session, "ana_1%@example.com"), signup(session, "bo@example.com")
    subscribers.confirm(session, ana, utcnow())
    assert len(emitted.of("subscriber.created")) == 2
    subscribers.erase(session, ana, utcnow())
    session.flush()
    payloads = [e.payload for e in session.scalars(select(WebhookEvent))]
    assert payloads and all("ana_1%@example.com" not in str(p) for p in payloads)
    assert [e["data"]["subscriber"]["id"] for e in emitted.of("subscriber.created")] == [bo.id]
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == len(payloads)
