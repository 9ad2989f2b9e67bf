"""Signup through the API and the form: validation, no enumeration, honeypot, consent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from growth import subscribers
from growth.models import Consent, Delivery, Membership, Status, Subscriber, SubscriberEvent
from tests.growth.helpers import messages, signup


def count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(model))


def test_signup_creates_pending_subscriber_and_sends_confirmation(client, session, outbox):
    response = signup(client, "Ana.Lima@Example.COM", name="Ana", utm_source="twitter", source="homepage")
    assert response.status_code == 202
    assert response.get_json() == {"status": "pending"}
    sub = session.scalars(select(Subscriber)).one()
    assert sub.email_normalized == "ana.lima@example.com"
    assert sub.email == "Ana.Lima@example.com"  # domain normalised, local part kept
    assert (sub.status, sub.stage, sub.name, sub.utm_source, sub.source) == (
        "pending",
        "signed_up",
        "Ana",
        "twitter",
        "homepage",
    )
    assert len(sub.referral_code) == 10
    [membership] = session.scalars(select(Membership)).all()
    assert membership.status == "pending"
    events = {(e.field, e.from_value, e.to_value) for e in session.scalars(select(SubscriberEvent))}
    assert events == {("status", None, "pending"), ("stage", None, "signed_up")}
    [mail] = messages(outbox, "confirmation")
    assert mail["To"].addresses[0].addr_spec == "Ana.Lima@example.com"
    assert "/confirm/" in mail.get_body(("plain",)).get_content()
    delivery = session.scalars(select(Delivery)).one()
    assert (delivery.kind, delivery.template, delivery.state) == ("transactional", "confirmation", "sent")


def test_consent_is_recorded(client, session):
    client.post(
        "/api/v1/subscribers",
        json={"email": "c@example.com", "source": "podcast"},
        headers={"User-Agent": "TestBrowser/1.0"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    consent = session.scalars(select(Consent)).one()
    assert (consent.action, consent.ip, consent.user_agent, consent.form) == (
        "signup",
        "203.0.113.9",
        "TestBrowser/1.0",
        "podcast",
    )
    assert consent.at is not None and consent.at.tzinfo is not None


def test_known_address_gets_same_answer_and_no_duplicate_row(client, session, outbox):
    assert signup(client, "dup@example.com").get_json() == {"status": "pending"}
    again = signup(client, "DUP@example.com")
    assert again.status_code == 202 and again.get_json() == {"status": "pending"}
    assert count(session, Subscriber) == 1
    # a pending address gets the confirmation again at most once per 10 minutes
    assert len(messages(outbox, "confirmation")) == 1


def test_pending_address_gets_confirmation_again_after_ten_minutes(app, session):
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    req = subscribers.SignupRequest(email="later@example.com")
    first = subscribers.signup(session, req, now)
    soon = subscribers.signup(session, req, now + dt.timedelta(minutes=9))
    later = subscribers.signup(session, req, now + dt.timedelta(minutes=10, seconds=1))
    assert (first.confirmation_queued, soon.confirmation_queued, later.confirmation_queued) == (
        True,
        False,
        True,
    )


def test_suppressed_address_gets_202_and_no_mail(client, session, outbox):
    signup(client, "gone@example.com")
    sub = session.scalars(select(Subscriber)).one()
    subscribers.set_status(session, sub, Status.BOUNCED, dt.datetime.now(dt.UTC), reason="test")
    sub.confirmation_sent_at = None
    session.commit()
    for path in outbox.glob("*.eml"):
        path.unlink()
    response = signup(client, "gone@example.com")
    assert response.status_code == 202 and response.get_json() == {"status": "pending"}
    assert messages(outbox) == []
    assert count(session, Subscriber) == 1


def test_invalid_email_is_422_with_envelope_and_nothing_stored(client, session):
    response = signup(client, "not-an-email")
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"]["code"] == "invalid_email" and body["error"]["message"]
    assert count(session, Subscriber) == 0


def test_malformed_json_and_missing_field_are_400(client, session):
    bad = client.post("/api/v1/subscribers", data="{nope", content_type="application/json")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "malformed_json"
    missing = client.post("/api/v1/subscribers", json={"name": "x"})
    assert missing.status_code == 400 and missing.get_json()["error"]["code"] == "missing_field"
    wrong_type = client.post("/api/v1/subscribers", json={"email": 42})
    assert wrong_type.status_code == 400 and wrong_type.get_json()["error"]["code"] == "invalid_field"
    not_object = client.post("/api/v1/subscribers", json=["a@example.com"])
    assert not_object.status_code == 400
    assert count(session, Subscriber) == 0


def test_unknown_newsletter_is_422(client, session):
    response = signup(client, "n@example.com", newsletters=["nope"])
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "unknown_newsletter"
    assert count(session, Subscriber) == 0


def test_honeypot_drops_bots_silently(client, session, outbox):
    api = client.post("/api/v1/subscribers", json={"email": "bot@example.com", "website": "http://spam"})
    assert api.status_code == 202 and api.get_json() == {"status": "pending"}
    form = client.post("/subscribe", data={"email": "bot2@example.com", "website": "x"})
    assert form.status_code == 200
    assert count(session, Subscriber) == 0
    assert messages(outbox) == []


def test_form_signup_and_errors(client, session, outbox):
    page = client.get("/subscribe?utm_source=news&ref=abc")
    assert page.status_code == 200 and b'name="website"' in page.data
    bad = client.post("/subscribe", data={"email": "nope"})
    assert bad.status_code == 422 and b'role="alert"' in bad.data
    ok = client.post(
        "/subscribe",
        data={"email": "form@example.com", "utm_campaign": "launch", "landing_url": "http://masthead.test/x"},
    )
    assert ok.status_code == 200 and b"Check your inbox" in ok.data
    sub = session.scalars(select(Subscriber)).one()
    assert (sub.utm_campaign, sub.landing_url, sub.source) == (
        "launch",
        "http://masthead.test/x",
        "subscribe_page",
    )
    assert len(messages(outbox, "confirmation")) == 1


def test_ref_links_the_referrer(client, session, outbox):
    signup(client, "referrer@example.com")
    referrer = session.scalars(select(Subscriber)).one()
    signup(client, "friend@example.com", ref=referrer.referral_code)
    friend = session.scalars(
        select(Subscriber).where(Subscriber.email_normalized == "friend@example.com")
    ).one()
    assert friend.referrer_id == referrer.id and friend.source == "referral"


def test_ref_cookie_links_the_referrer(client, session):
    signup(client, "ref2@example.com")
    referrer = session.scalars(select(Subscriber)).one()
    landing = client.get(f"/r/{referrer.referral_code}")
    assert landing.status_code == 200
    client.post("/subscribe", data={"email": "cookie@example.com"})
    friend = session.scalars(
        select(Subscriber).where(Subscriber.email_normalized == "cookie@example.com")
    ).one()
    assert friend.referrer_id == referrer.id


def test_signup_to_named_newsletters(client, session):
    from growth.models import Newsletter

    session.add(Newsletter(slug="weekly", name="Weekly"))
    session.commit()
    signup(client, "multi@example.com", newsletters=["weekly", "main"])
    sub = session.scalars(select(Subscriber)).one()
    assert sorted(m.newsletter.slug for m in sub.memberships) == ["main", "weekly"]


def test_cors_allows_only_configured_origins(app_factory):
    app = app_factory(cors_origins=("https://blog.example",))
    client = app.test_client()
    pre = client.options(
        "/api/v1/subscribers",
        headers={"Origin": "https://blog.example", "Access-Control-Request-Method": "POST"},
    )
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "https://blog.example"
    post = client.post(
        "/api/v1/subscribers", json={"email": "cors@example.com"}, headers={"Origin": "https://blog.example"}
    )
    assert post.status_code == 202 and post.headers["Access-Control-Allow-Origin"] == "https://blog.example"
    other = client.post(
        "/api/v1/subscribers", json={"email": "x@example.com"}, headers={"Origin": "https://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in other.headers
