"""Bad input from outside gets a clear 4xx (or a per-row error), never a 500, on every path."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from growth import auth
from growth.models import Consent, Subscriber
from tests.growth.helpers import link_in, messages, signup, signup_and_confirm


def count(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(Subscriber))


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", "Ana\x00Lima"),
        ("name", "n" * 201),
        ("name", "Ana\r\nBcc: victim@example.com"),
        ("utm_source", "x" * 201),
        ("utm_campaign", "spring\x00"),
        ("source", "s" * 101),
        ("referrer_url", "https://example.com/" + "p" * 2000),
        ("landing_url", "https://example.com/\x00"),
        ("ref", "r" * 33),
        ("ref", "abc\x00"),
    ],
)
def test_api_signup_refuses_bad_fields_with_400(client, session, field, value):
    response = signup(client, "ana@example.com", **{field: value})
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "invalid_field"
    assert error["message"].startswith(f"{field}:")
    assert len(error["message"]) < 200  # names the rule, does not echo a huge value
    assert count(session) == 0


def test_api_signup_refuses_nul_in_email_and_newsletter_slug(client, session):
    assert signup(client, "ana\x00@example.com").status_code in {400, 422}
    assert signup(client, "ana@example.com", newsletters=["main\x00"]).status_code == 400
    assert signup(client, "ana@example.com", newsletters=["n" * 65]).status_code == 400
    assert count(session) == 0


def test_api_signup_refuses_lone_surrogates(client, session):
    body = b'{"email": "ana@example.com", "name": "Ana \\ud800"}'
    response = client.post("/api/v1/subscribers", data=body, content_type="application/json")
    assert response.status_code == 400
    assert count(session) == 0


def test_openapi_documents_the_same_limits(client):
    schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["SignupRequest"]
    props = schema["properties"]
    assert (props["name"]["maxLength"], props["utm_source"]["maxLength"], props["source"]["maxLength"]) == (
        200,
        200,
        100,
    )
    assert "pattern" in props["name"]


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", "Ana\x00"),
        ("name", "n" * 201),
        ("name", "Ana\nLima"),
        ("utm_medium", "m" * 201),
        ("form", "f" * 101),
        ("newsletters", "main\x00"),
    ],
)
def test_form_signup_shows_the_form_again_with_422(client, session, field, value):
    response = client.post("/subscribe", data={"email": "ana@example.com", field: value})
    assert response.status_code == 422, response.get_data(as_text=True)[:500]
    assert b"<form" in response.data
    assert count(session) == 0


def test_a_good_signup_keeps_its_stripped_values(client, session):
    assert signup(client, "ana@example.com", name="  Ana  ", utm_source="n" * 200).status_code == 202
    sub = session.scalars(select(Subscriber)).one()
    assert (sub.name, sub.utm_source) == ("Ana", "n" * 200)


def test_embed_cuts_long_urls_before_posting(client):
    snippet = client.get("/embed.html").get_data(as_text=True)
    assert "slice(0, 2000)" in snippet


@pytest.fixture
def proxied(app_factory):  # type: ignore[no-untyped-def]
    app = app_factory(trusted_proxy_count=1, extra={"ratelimit": "off"})
    return app.test_client()


@pytest.mark.parametrize(
    "forwarded, stored",
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:DB8::0:1", "2001:db8::1"),
        ("203.0.113.7:51234", "203.0.113.7"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("x" * 100, "127.0.0.1"),
        ("1.2.3.4\x00", "127.0.0.1"),
        ("unknown", "127.0.0.1"),
    ],
)
def test_forwarded_client_ip_is_validated_before_it_is_stored(proxied, session, forwarded, stored):
    response = proxied.post(
        "/api/v1/subscribers",
        json={"email": "ana@example.com"},
        headers={"X-Forwarded-For": forwarded},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert response.status_code == 202
    sub = session.scalars(select(Subscriber)).one()
    consent = session.scalars(select(Consent)).one()
    assert (sub.signup_ip, consent.ip) == (stored, stored)


def test_user_agent_with_control_characters_is_cleaned(client, session):
    client.post(
        "/api/v1/subscribers",
        json={"email": "ana@example.com"},
        headers={"User-Agent": "Bot/1.0 \x00\x01" + "a" * 600},
    )
    consent = session.scalars(select(Consent)).one()
    assert "\x00" not in consent.user_agent and len(consent.user_agent) <= 500


# ---------------------------------------------------------------------------------------------
# The reader's page


def manage_path(client, outbox) -> str:  # type: ignore[no-untyped-def]
    signup_and_confirm(client, outbox)
    return link_in(messages(outbox, "welcome")[-1], "/me/")


@pytest.mark.parametrize("days", ["abc", "1e3", "\u0663\u0660", "\u00b2", "", "0", "366", "9" * 5000])
def test_pause_days_must_be_a_whole_number_in_range(client, session, outbox, days):
    path = manage_path(client, outbox)
    response = client.post(path, data={"action": "pause", "days": days})
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert b"1 to 365" in response.data
    sub = session.scalars(select(Subscriber)).one()
    session.refresh(sub)
    assert sub.paused_until is None


def test_pause_with_good_days_says_what_it_did(client, session, outbox):
    path = manage_path(client, outbox)
    response = client.post(path, data={"action": "pause", "days": "14"})
    assert response.status_code == 200 and b"Paused for 14 days." in response.data


def test_manage_newsletter_ids_that_are_not_ascii_digits_are_refused(client, session, outbox):
    path = manage_path(client, outbox)
    response = client.post(path, data={"action": "newsletters", "newsletter": ["\u00b2"]})
    assert response.status_code == 422


# ---------------------------------------------------------------------------------------------
# CSV import


@pytest.fixture
def admin(session) -> dict[str, str]:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "admin@example.com", "long enough pw", "admin")
    token = auth.create_token(session, operator)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_import_reports_bad_fields_per_row_and_keeps_the_good_rows(client, session, admin):
    body = (
        "email,name,source,utm_source,utm_medium,utm_campaign\n"
        "good@example.com,Good,,,,\n"
        f"long-name@example.com,{'n' * 201},,,,\n"
        "nul@example.com,Nul\x00Name,,,,\n"
        f"long-utm@example.com,,,{'u' * 201},,\n"
        f"long-source@example.com,,{'s' * 101},,,\n"
        '"crlf@example.com","Two\r\nLines",,,,\n'
        "also-good@example.com,Also,,,,\n"
    )
    response = client.post(
        "/api/v1/subscribers/import?confirmed=true",
        data=body.encode(),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.get_json()
    assert report["created"] == 2
    assert [(row["line"], row["email"]) for row in report["invalid"]] == [
        (3, "long-name@example.com"),
        (4, "nul@example.com"),
        (5, "long-utm@example.com"),
        (6, "long-source@example.com"),
        (7, "crlf@example.com"),
    ]
    assert "name" in report["invalid"][0]["reason"]
    assert sorted(session.scalars(select(Subscriber.email))) == ["also-good@example.com", "good@example.com"]


def test_import_with_a_nul_in_the_email_column_is_a_row_error(client, session, admin):
    body = "email\nbad\x00@example.com\nfine@example.com\n"
    response = client.post(
        "/api/v1/subscribers/import", data=body.encode(), headers={**admin, "Content-Type": "text/csv"}
    )
    assert response.status_code == 200
    assert response.get_json()["created"] == 1
    assert [r["line"] for r in response.get_json()["invalid"]] == [2]


def test_import_refuses_a_bad_newsletter_slug_with_422(client, session, admin):
    response = client.post(
        "/api/v1/subscribers/import?newsletters=main%00",
        data=b"email\nfine@example.com\n",
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert response.status_code == 422


# ---------------------------------------------------------------------------------------------
# One-off mail: header-safe names and subjects; what cannot be sent fails, never stays sending


def stored_subscriber(session, **values) -> Subscriber:  # type: ignore[no-untyped-def]
    """A pending subscriber written directly (as data from before the rules would be)."""
    email = values.pop("email", "old@example.com")
    sub = Subscriber(email=email, email_normalized=email.lower(), referral_code="oldcode123", **values)
    session.add(sub)
    session.flush()
    return sub


def test_confirmation_to_a_name_with_crlf_is_sent_with_a_header_safe_name(app, session, outbox):
    from growth import subscribers
    from growth.db import commit, utcnow
    from growth.models import Delivery

    sub = stored_subscriber(session, name="Old\r\nBcc: someone@example.com")
    assert subscribers.queue_confirmation(session, sub, utcnow(), resend_after=0)
    commit()  # the send job runs after the commit
    delivery = session.scalars(select(Delivery)).one()
    session.refresh(delivery)
    assert delivery.state == "sent"
    [mail] = messages(outbox, "confirmation")
    assert mail["To"].addresses[0].display_name == "Old Bcc: someone@example.com"
    assert mail["Bcc"] is None


def test_a_message_that_cannot_be_sent_is_failed_not_left_sending(app, session, outbox):
    from growth import subscribers
    from growth.db import commit, utcnow
    from growth.models import Delivery

    sub = stored_subscriber(session, email="old@example.com\nBcc: x@example.com", name="Old")
    subscribers.queue_confirmation(session, sub, utcnow(), resend_after=0)
    commit()
    delivery = session.scalars(select(Delivery)).one()
    session.refresh(delivery)
    assert delivery.state == "failed"
    assert "address" in delivery.error
    assert messages(outbox) == []


# ---------------------------------------------------------------------------------------------
# Other doors


def test_login_with_a_nul_in_the_email_is_a_wrong_password_not_a_500(client, session):
    import re

    auth.create_operator(session, "ops@example.com", "correct horse battery staple")
    session.commit()
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token
    for email in ("ops\x00@example.com", "o" * 400 + "@example.com"):
        response = client.post(
            "/admin/login", data={"email": email, "password": "x", "csrf_token": token.group(1)}
        )
        assert response.status_code == 401


def test_share_link_with_a_nul_or_odd_user_agent_is_not_a_500(client, session, outbox):
    signup_and_confirm(client, outbox)
    code = session.scalars(select(Subscriber.referral_code)).one()
    assert client.get("/r/abc%00def").status_code < 500
    response = client.get(f"/r/{code}", headers={"User-Agent": "Mozilla/5.0 \x00" + "x" * 600})
    assert response.status_code == 200
