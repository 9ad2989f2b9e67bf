"""Pure checks behind the referral rules: address folding, disposable domains, crawlers, hashes."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re

from growth.addresses import is_disposable

__all__ = ["address_pattern", "fold_address", "is_crawler", "is_disposable", "keyed_hash", "network_of"]

# Mailbox providers that ignore dots in the local part (and map googlemail to gmail).
_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}

# Link-preview fetchers, crawlers and scripted clients: they open links, they are not readers.
_CRAWLER = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|facebookexternalhit|facebookcatalog|meta-externalagent|"
    r"twitterbot|linkedinbot|whatsapp|telegrambot|slackbot|slack-imgproxy|discordbot|skypeuripreview|"
    r"pinterest|redditbot|applebot|bingpreview|embedly|iframely|vkshare|quora link preview|"
    r"google-pagerenderer|googleother|headlesschrome|phantomjs|preview|curl/|wget/|python-requests|"
    r"python-urllib|go-http-client|okhttp|java/|libwww|httpclient|axios/|node-fetch",
    re.IGNORECASE,
)


def fold_address(email: str) -> str:
    """The mailbox an address reaches: lower-cased, `+tag` dropped, Gmail dots removed."""
    local, _, domain = email.strip().lower().rpartition("@")
    if not local:
        return email.strip().lower()
    local = local.split("+", 1)[0]
    if domain in _DOTLESS:
        domain = _DOTLESS[domain]
        local = local.replace(".", "")
    return f"{local}@{domain}"


def is_crawler(user_agent: str | None) -> bool:
    """Link-preview bots, crawlers and scripts by user agent; no user agent at all counts too."""
    return not user_agent or not user_agent.strip() or bool(_CRAWLER.search(user_agent))


def keyed_hash(secret: str, value: str, purpose: str) -> str:
    """An HMAC-SHA256 of a value (client IP, folded address): comparable, not reversible."""
    return hmac.new(f"{purpose}:{secret}".encode(), value.encode(), hashlib.sha256).hexdigest()


def network_of(ip: str | None) -> str | None:
    """The network an address stands for in ring checks: an IPv6 /64 (one household or phone),
    an IPv4 address itself. None for what is no address."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


_PATTERN_NOISE = re.compile(r"[0-9._\-]+")
_MIN_STEM = 3


def address_pattern(email: str) -> str | None:
    """The shape of a made-up address: the folded address with digits and separators dropped
    (anna.k01@x.example and annak_77@x.example are both annak@x.example). None when too little
    is left to mean anything."""
    local, _, domain = fold_address(email).rpartition("@")
    stem = _PATTERN_NOISE.sub("", local)
    return f"{stem}@{domain}" if len(stem) >= _MIN_STEM and domain else None
