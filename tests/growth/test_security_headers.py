"""Security headers: CSP the pages satisfy, no framing but the embed page, HSTS behind https."""

from __future__ import annotations

import re

from growth import links
from tests.growth.helpers import signup_and_confirm
from tests.referrals.helpers import by_email


def directives(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    policy = response.headers["Content-Security-Policy"]
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in policy.split("; ")}


def test_every_html_page_gets_the_policy_and_may_not_be_framed(client, session, outbox):
    signup_and_confirm(client, outbox)
    with client.application.app_context():
        token = links.manage_token(by_email(session, "ana@example.com"))
    for path in ("/subscribe", f"/me/{token}", "/", "/no-such-page"):
        response = client.get(path)
        assert response.mimetype == "text/html", path
        csp = directives(response)
        assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'", path
        assert csp["style-src"] == "'self'" and csp["object-src"] == "'none'", path
        assert csp["frame-ancestors"] == "'none'" and csp["base-uri"] == "'none'", path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "same-origin", path
        assert "Strict-Transport-Security" not in response.headers, path  # BASE_URL is http


def test_json_and_feed_are_not_sniffed(client):
    for path in ("/api/v1/openapi.json", "/feed.xml"):
        response = client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path


def test_hsts_on_every_response_when_base_url_is_https_whatever_the_request_scheme(app_factory):
    secure = app_factory(base_url="https://news.example").test_client()
    for path in ("/subscribe", "/api/v1/openapi.json", "/feed.xml", "/static/masthead.css"):
        response = secure.get(path)  # plain http: TLS ended at the proxy
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains", path


def test_the_embed_page_may_be_framed_by_the_cors_origins_or_anyone(client, app_factory):
    anyone = client.get("/embed.html")
    assert directives(anyone)["frame-ancestors"] == "*"
    assert "X-Frame-Options" not in anyone.headers
    listed = (
        app_factory(cors_origins=("https://a.example", "https://b.example")).test_client().get("/embed.html")
    )
    assert directives(listed)["frame-ancestors"] == "https://a.example https://b.example"
    assert "X-Frame-Options" not in listed.headers


def test_the_embed_preview_is_allowed_exactly_the_snippets_inline_code(client):
    import base64
    import hashlib

    response = client.get("/embed.html")
    page = response.get_data(as_text=True)
    [script] = re.findall(r"<script>(.*?)</script>", page, re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = directives(response)
    assert csp["script-src"] == f"'self' 'sha256-{digest}'"
    assert csp["style-src"].startswith("'self' 'unsafe-hashes' 'sha256-")


INLINE = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=", re.I)


def test_pages_carry_no_inline_script_style_or_handler(client, session, outbox):
    confirmed = signup_and_confirm(client, outbox).get_data(as_text=True)
    with client.application.app_context():
        token = links.manage_token(by_email(session, "ana@example.com"))
    pages = {"confirmed": confirmed}
    for path in ("/subscribe", f"/me/{token}", f"/me/{token}/referrals", f"/me/{token}/upgrade", "/"):
        pages[path] = client.get(path).get_data(as_text=True)
    pages["check inbox"] = client.post("/subscribe", data={"email": "ben@example.com"}).get_data(as_text=True)
    for name, html in pages.items():
        assert not INLINE.findall(html), (name, INLINE.findall(html))


def test_the_embed_page_exceptions_end_with_its_request(client):
    with client.application.app_context():  # one app context around both requests
        assert "frame-ancestors *" in client.get("/embed.html").headers["Content-Security-Policy"]
        after = client.get("/subscribe")
    assert directives(after)["frame-ancestors"] == "'none'" and directives(after)["script-src"] == "'self'"
    assert after.headers["X-Frame-Options"] == "DENY"


def test_pages_reached_by_a_signed_link_are_not_cached(client, session, outbox):
    confirmed = signup_and_confirm(client, outbox, "cache@example.com")
    assert confirmed.headers["Cache-Control"] == "no-store"
    subscriber = by_email(session, "cache@example.com")
    token = links.manage_token(subscriber)
    assert client.get(f"/me/{token}").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/subscribe").headers.get("Cache-Control", "")
