"""Engagement summary API, the engagement-run command, web visits, and the list-mail guard."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from growth import auth, mailer
from growth.db import commit, utcnow
from growth.engagement import engaged_value_counts, record_web_visit
from growth.models import Delivery, DeliveryKind, DeliveryState, Status, Subscriber
from tests.conftest import read_outbox
from tests.fakes.engagement_data import make_delivery, make_event, make_subscriber


@pytest.fixture
def token(session) -> str:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "ops@example.com", "a long password")
    return auth.create_token(session, operator)


def test_summary_endpoint_shows_class_counts_and_score(client, session, token):
    now = utcnow()
    sub = make_subscriber(session, "reader@example.com", confirmed_at=now - dt.timedelta(days=200))
    value = make_delivery(session, sub, now - dt.timedelta(days=3))
    make_event(session, sub, "click", now - dt.timedelta(days=2), delivery=value, url="https://example.com")
    make_event(session, sub, "open", now - dt.timedelta(days=2), delivery=value, is_machine=True)
    make_event(session, sub, "click", now - dt.timedelta(days=3), delivery=value, is_scanner=True)
    response = client.get(
        f"/api/v1/subscribers/{sub.id}/engagement", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    body = response.json
    assert body["engagement"] == "engaged" and body["subscriber_id"] == sub.id
    assert (body["clicks_30d"], body["opens_30d"], body["engagements_90d"]) == (1, 0, 1)
    assert (
        body["machine_opens_90d"],
        body["scanner_clicks_90d"],
        body["engaged_value_emails"],
    ) == (1, 1, 1)
    assert 2.8 < body["score"] < 3.0  # one click two days old: 3 * 0.5 ** (2 / 30) = 2.86
    assert body["disengaged_since"] is None


def test_summary_endpoint_needs_a_token(client, session):
    sub = make_subscriber(session)
    assert client.get(f"/api/v1/subscribers/{sub.id}/engagement").status_code == 401


def test_summary_endpoint_404_for_an_unknown_subscriber(client, session, token):
    missing = client.get(
        "/api/v1/subscribers/999999/engagement", headers={"Authorization": f"Bearer {token}"}
    )
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


def test_summary_endpoint_is_in_the_openapi_document(client, app):
    document = client.get("/api/v1/openapi.json").json
    operation = document["paths"]["/api/v1/subscribers/{subscriber_id}/engagement"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EngagementSummary"
    }
    assert "EngagementSummary" in document["components"]["schemas"]
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            assert path in document["paths"], path


def test_engagement_run_command_recomputes_stages_and_sunsets(app, session, outbox):
    now = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    reader = make_subscriber(session, "reader@example.com", confirmed_at=now - dt.timedelta(days=300))
    make_event(session, reader, "open", now - dt.timedelta(days=1))
    silent = make_subscriber(session, "silent@example.com", confirmed_at=now - dt.timedelta(days=300))
    make_delivery(session, silent, now - dt.timedelta(days=250))
    commit()
    result = app.test_cli_runner().invoke(args=["engagement-run", "--now", now.isoformat()])
    assert result.exit_code == 0, result.output
    assert "stages moved: 1 to engaged, 1 to lapsed" in result.output
    assert "1 re-engagement emails" in result.output
    session.expire_all()
    assert {s.email: s.stage for s in session.scalars(select(Subscriber))} == {
        "reader@example.com": "engaged",
        "silent@example.com": "lapsed",
    }
    assert [m["X-Masthead-Kind"] for m in read_outbox(outbox)] == ["reengage"]


def test_engagement_run_rejects_a_bad_time(app):
    result = app.test_cli_runner().invoke(args=["engagement-run", "--now", "tuesday"])
    assert result.exit_code == 2 and "ISO time" in result.output


def test_web_visit_is_engagement_and_brings_an_inactive_subscriber_back(session):
    now = utcnow()
    sub = make_subscriber(session, status="inactive")
    value = make_delivery(session, sub, now - dt.timedelta(days=1))
    record_web_visit(session, sub.id, "http://masthead.test/p/story", now, delivery_id=value.id)
    assert sub.status == "active"
    assert engaged_value_counts(session, [sub.id]) == {sub.id: 1}
    assert engaged_value_counts(session, []) == {}


@pytest.mark.parametrize("kind", [DeliveryKind.VALUE, DeliveryKind.PITCH])
def test_no_list_mail_reaches_anyone_not_active(session, outbox, kind):
    """Every status but active is skipped by send_delivery, whatever queued the mail."""
    now = utcnow()
    deliveries = {}
    for status in Status:
        sub = make_subscriber(session, f"{status}@example.com", status=status)
        deliveries[status] = make_delivery(session, sub, now, kind=kind, state=DeliveryState.QUEUED)
    commit()
    for delivery in deliveries.values():
        mailer.send_delivery(delivery.id)
    session.expire_all()
    states = {s: session.get(Delivery, d.id).state for s, d in deliveries.items()}
    assert states == {s: ("sent" if s == Status.ACTIVE else "skipped") for s in Status}
    assert [m["To"] for m in read_outbox(outbox)] == ["active@example.com"]


def test_erasure_keeps_no_address_or_text_in_sent_mail(session):
    """Foundation fix: erase() left the address and the rendered email on deliveries."""
    from growth.subscribers import erase

    sub = make_subscriber(session, "forget-me@example.com")
    delivery = make_delivery(session, sub, utcnow())
    erase(session, sub, utcnow())
    session.expire_all()
    delivery = session.get(Delivery, delivery.id)
    assert delivery.to_email == f"erased-{sub.id}@erased.invalid" and delivery.message is None
