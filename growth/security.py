"""Security headers on every response: a Content-Security-Policy the pages satisfy, no framing.

Pages load their CSS and JavaScript from /static, so the policy allows no inline code. The one
exception is the embed page, whose preview is the very snippet other sites paste (inline script
and honeypot style included): it allows exactly that code by its hashes, and it may be framed.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from flask import Flask, Response, current_app, request

HSTS = "max-age=31536000; includeSubDomains"
# Post bodies may show images from anywhere on https (Markdown image links).
BASE_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:", "https:"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
}
_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
_STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"]*)"')
_STYLE_ELEMENT = re.compile(r"<style(?:\s[^>]*)?>(.*?)</style>", re.S | re.I)
# Per request, not per app context: a context may outlive one request (tests, CLI).
_EXTRA = "masthead.csp_extra"
_FRAME_ANCESTORS = "masthead.csp_frame_ancestors"


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def allow_inline_code_of(html: str) -> None:
    """Let this response run the inline scripts, style elements and style attributes of `html` alone."""
    extra = request.environ.setdefault(_EXTRA, {})
    scripts = [_sha256(s) for s in _SCRIPT.findall(html)]
    styles = [_sha256(s) for s in _STYLE_ATTRIBUTE.findall(html)]
    if scripts:
        extra.setdefault("script-src", []).extend(scripts)
    if styles:
        # Hashes cover style attributes only together with 'unsafe-hashes' (CSP level 3).
        extra.setdefault("style-src", []).extend(["'unsafe-hashes'", *styles])
    sheets = [_sha256(s) for s in _STYLE_ELEMENT.findall(html)]
    if sheets:  # <style> elements (an email's fluid layout): their hashes, nothing else
        extra.setdefault("style-src", []).extend(sheets)


def allow_framing_by(origins: Iterable[str]) -> None:
    """Let the listed origins frame this response ('*' when none is listed)."""
    request.environ[_FRAME_ANCESTORS] = list(origins) or ["*"]


def _policy_text(policy: dict[str, list[str]]) -> str:
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in policy.items())


_BASE_POLICY_TEXT = _policy_text(BASE_POLICY)  # most responses: built once, not per request


def content_security_policy() -> str:
    """The policy of the current response."""
    if _EXTRA not in request.environ and not request.environ.get(_FRAME_ANCESTORS):
        return _BASE_POLICY_TEXT
    policy = {name: list(sources) for name, sources in BASE_POLICY.items()}
    for name, sources in request.environ.get(_EXTRA, {}).items():
        policy[name].extend(sources)
    if request.environ.get(_FRAME_ANCESTORS):
        policy["frame-ancestors"] = request.environ[_FRAME_ANCESTORS]
    return _policy_text(policy)


def add_security_headers(response: Response) -> Response:
    """Every response: nosniff, referrer policy, CSP and framing; HSTS when served over https."""
    config = current_app.config["MASTHEAD"]
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Links carry capability tokens (/me/<token>): other sites get no referrer at all.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", content_security_policy())
    if not request.environ.get(_FRAME_ANCESTORS):
        response.headers.setdefault("X-Frame-Options", "DENY")
    # A page reached by a signed link (/me/<token>, /confirm/<token>...) is the reader's own:
    # neither a shared cache nor the browser's history cache keeps it.
    if request.view_args and "token" in request.view_args:
        response.headers.setdefault("Cache-Control", "no-store")
    # TLS may end at a proxy in front, so the public URL decides, not the request's scheme.
    if config.base_url.startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    """Add the headers to every response, errors and static files included."""
    app.after_request(add_security_headers)
