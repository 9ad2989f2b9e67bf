"""Property tests (hypothesis) of the field rules and of the forms built on them: never a 500."""

from __future__ import annotations

import email
import email.policy
import itertools
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from growth import fields
from growth.errors import ValidationFailed
from growth.mailer import OutboxBackend, OutgoingMessage
from growth.models import Subscriber
from growth.subscribers import SIGNUP_RULES
from tests.growth.helpers import link_in, messages, signup_and_confirm

NASTY = "\x00\r\n\t\x0b\x0c\x1b\x7f\x85\u2028\u2029\ufeff \u00b2\u0663"
# Text heavy in control characters and line breaks, and text around a column's length.
nasty_text = st.text(st.one_of(st.sampled_from(NASTY), st.characters()), max_size=40)
near_limit = st.builds(lambda n, c: c * n, st.integers(195, 205), st.sampled_from("a\u00e9\U0001f600"))
field_text = st.one_of(nasty_text, near_limit, nasty_text.map(lambda t: "x" * 198 + t))
with_surrogates = st.one_of(field_text, field_text.map(lambda t: t + "\ud800"))
DB_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
counter = itertools.count()


@settings(max_examples=200, deadline=None)
@given(with_surrogates, st.booleans(), st.integers(1, 250))
def test_clean_accepts_only_what_fits_and_is_stable(value, multiline, max_length):
    rule = fields.Rule("f", max_length, multiline=multiline)
    try:
        cleaned = rule.clean(value)
    except ValidationFailed:
        return
    assert len(cleaned) <= max_length
    assert "\x00" not in cleaned
    cleaned.encode("utf-8")  # no lone surrogate survives
    if not multiline:
        assert fields.single_line(cleaned) and cleaned == cleaned.strip()
    assert rule.clean(cleaned) == cleaned


@settings(max_examples=150, deadline=None)
@given(with_surrogates)
def test_any_name_and_subject_give_a_message_with_one_line_headers(value):
    backend = OutboxBackend(Path("unused"), "Masthead <news@example.com>")
    message = OutgoingMessage(to_email="ana@example.com", to_name=value, subject=value, text="x")
    _, data = backend.render(message)
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert fields.single_line(str(parsed["Subject"])) and fields.single_line(str(parsed["To"]))
    assert parsed["To"].addresses[0].addr_spec == "ana@example.com"
    assert parsed["Bcc"] is None


@settings(max_examples=100, deadline=None)
@given(st.one_of(nasty_text, st.ip_addresses().map(str), st.text(max_size=120)))
def test_valid_ip_is_an_address_or_none(value):
    import ipaddress

    ip = fields.valid_ip(value)
    assert ip is None or (len(ip) <= 64 and str(ipaddress.ip_address(ip)) == ip)


@settings(max_examples=200, deadline=None)
@given(st.one_of(nasty_text, st.integers(-(10**12), 10**12).map(str)))
def test_parse_int_is_in_range_or_refused(value):
    try:
        number = fields.parse_int(value, "n", 1, 365)
    except ValidationFailed:
        return
    assert 1 <= number <= 365


# ---------------------------------------------------------------------------------------------
# Forms and the API, against the database (few examples: each is a request)


def no_surrogates(text: str) -> bool:
    """A form body is encoded as UTF-8 by the test client: a lone surrogate cannot be sent."""
    return not any("\ud800" <= c <= "\udfff" for c in text)


form_text = field_text.filter(no_surrogates)


@DB_SETTINGS
@given(name=form_text, utm=form_text)
def test_signup_form_never_500s_and_stores_only_valid_values(client, session, name, utm):
    address = f"p{next(counter)}-{uuid.uuid4().hex[:6]}@example.com"
    response = client.post("/subscribe", data={"email": address, "name": name, "utm_campaign": utm})
    assert response.status_code in {200, 422}
    sub = session.scalars(select(Subscriber).where(Subscriber.email == address)).first()
    assert (sub is not None) == (response.status_code == 200)
    if sub is not None:
        assert SIGNUP_RULES["name"].clean_optional(sub.name) == sub.name
        assert SIGNUP_RULES["utm_campaign"].clean_optional(sub.utm_campaign) == sub.utm_campaign


@DB_SETTINGS
@given(name=with_surrogates, source=with_surrogates)
def test_signup_api_never_500s(client, session, name, source):
    address = f"a{next(counter)}-{uuid.uuid4().hex[:6]}@example.com"
    response = client.post("/api/v1/subscribers", json={"email": address, "name": name, "source": source})
    assert response.status_code in {202, 400, 422}
    if response.status_code != 202:
        assert set(response.get_json()["error"]) == {"code", "message"}


@pytest.fixture
def manage_path(client, outbox):  # type: ignore[no-untyped-def]
    signup_and_confirm(client, outbox)
    return link_in(messages(outbox, "welcome")[-1], "/me/")


@DB_SETTINGS
@given(days=st.one_of(nasty_text.filter(no_surrogates), st.integers(-5, 400).map(str)))
def test_pause_form_never_500s(client, manage_path, days):
    response = client.post(manage_path, data={"action": "pause", "days": days})
    assert response.status_code in {200, 422}
    assert (response.status_code == 200) == (
        days.strip().isascii() and days.strip().isdigit() and 1 <= int(days) <= 365
    )
