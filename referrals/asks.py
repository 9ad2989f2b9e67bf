"""Referral asks at the moment of reading: the ask a reader sees, its views and share clicks.

The core asks for an ask through `growth.referral_asks` (content at the end of a post and
after a poll answer, the confirmation page, the welcome email); this module renders it with the
reader's own link and progress, and records a view. Share buttons go through `/share/<token>/
<target>`: the click is recorded once a day, then the reader is sent to a share page built here
from a fixed list (never a URL from the request, so there is no open redirect).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from flask import render_template
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from growth import branding, links, referral_asks
from growth.db import insert_ignoring_conflicts
from growth.errors import NotFound
from growth.models import Subscriber
from growth.tokens import make_token, read_token
from referrals import ask_metrics
from referrals.models import (
    AskEventKind,
    Referral,
    ReferralAskEvent,
    ReferralStatus,
    ReferralVisit,
)

log = logging.getLogger(__name__)

TOKEN_PURPOSE = "referral-ask"


def _x(url: str, text: str, subject: str) -> str:
    return "https://x.com/intent/post?" + urlencode({"text": text, "url": url})


def _bluesky(url: str, text: str, subject: str) -> str:
    return "https://bsky.app/intent/compose?" + urlencode({"text": f"{text} {url}"})


def _linkedin(url: str, text: str, subject: str) -> str:
    return "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": url})


def _whatsapp(url: str, text: str, subject: str) -> str:
    return "https://wa.me/?" + urlencode({"text": f"{text} {url}"})


def _email(url: str, text: str, subject: str) -> str:
    return f"mailto:?subject={quote(subject)}&body={quote(f'{text} {url}')}"


# Where a share button may send the reader: these share pages, built from our own link only.
SHARE_TARGETS = {
    "x": ("X", _x),
    "bluesky": ("Bluesky", _bluesky),
    "linkedin": ("LinkedIn", _linkedin),
    "whatsapp": ("WhatsApp", _whatsapp),
    "email": ("Email", _email),
}
# "copy" is a click too (the page's Copy button tells us with a POST), with nowhere to go.
CLICK_TARGETS = (*SHARE_TARGETS, "copy")


@dataclass(frozen=True)
class AskLink:
    """What a share click names: the reader, the placement, the post (0: none), what to share."""

    subscriber_id: int
    placement: str
    post_id: int
    share_path: str | None


def _safe_path(path: str | None) -> str | None:
    """A path on our own site, or None (a share path is ours: it must never leave the site)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    return path


def share_url(subscriber: Subscriber, placement: str, share_path: str | None = None) -> str:
    """The link the reader shares: the post's own link with their code, else their referral link."""
    path = _safe_path(share_path)
    query = urlencode({"ref": subscriber.referral_code, referral_asks.ASK_PARAM: placement})
    if path is not None:
        return links.absolute(f"{path}?{query}")
    return links.absolute(f"/r/{subscriber.referral_code}?{referral_asks.ASK_PARAM}={placement}")


def ask_token(link: AskLink) -> str:
    return make_token(
        TOKEN_PURPOSE, {"s": link.subscriber_id, "p": link.placement, "i": link.post_id, "u": link.share_path}
    )


def read_ask_token(token: str) -> AskLink:
    """The link a share button names; a forged or malformed token is a 404 (InvalidToken)."""
    payload = read_token(TOKEN_PURPOSE, token[:1000])
    if not isinstance(payload, dict):
        raise NotFound("This share link is not valid.", code="invalid_share_link")
    sid, placement, post_id = payload.get("s"), payload.get("p"), payload.get("i")
    if (
        not isinstance(sid, int)
        or referral_asks.clean_placement(placement) is None
        or not isinstance(post_id, int)
    ):
        raise NotFound("This share link is not valid.", code="invalid_share_link")
    path = payload.get("u")
    return AskLink(sid, str(placement), post_id, _safe_path(path if isinstance(path, str) else None))


def record_event(
    session: Session,
    kind: str,
    placement: str,
    subscriber_id: int,
    now: dt.datetime,
    post_id: int | None = None,
    target: str = "",
) -> bool:
    """Keep a view or a click once per reader, placement, post, target and day; True when new."""
    if referral_asks.clean_placement(placement) is None:
        raise ValueError(f"unknown placement {placement!r}")
    statement = insert_ignoring_conflicts(ReferralAskEvent.__table__).values(
        kind=kind,
        placement=placement,
        subscriber_id=subscriber_id,
        post_id=post_id or 0,
        target=target,
        day=now.astimezone(dt.UTC).date(),
        at=now,
    )
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def _share_words(placement: str) -> tuple[str, str, str]:
    """(heading, the text shared, the email subject) for a placement; never a pitch for money."""
    publication = branding.current().name
    heading = {
        "post_end": "Know someone who would like this post?",
        "confirmed": "Know someone who would like it too?",
        "poll": "Curious what your friends would answer?",
        "welcome": "Know someone who would like it too?",
    }[placement]
    text = (
        f"I thought you'd like this, from {publication}:"
        if placement == "post_end"
        else f"I read {publication} and think you'd like it too:"
    )
    return heading, text, f"{publication} is worth your inbox"


def render_ask(
    session: Session,
    subscriber: Subscriber,
    placement: str,
    now: dt.datetime,
    post_id: int | None = None,
    share_path: str | None = None,
) -> referral_asks.Ask:
    """The ask for this reader at this placement (growth.referral_asks provider); records a view."""
    from referrals import service

    record_event(session, AskEventKind.VIEW, placement, subscriber.id, now, post_id)
    url = share_url(subscriber, placement, share_path)
    token = ask_token(AskLink(subscriber.id, placement, post_id or 0, _safe_path(share_path)))
    heading, text, _subject = _share_words(placement)
    progress = service.progress(session, subscriber)
    counted = (
        f"You have brought {progress.counted} friend{'' if progress.counted == 1 else 's'} so far."
        if progress.counted
        else ""
    )
    context: dict[str, Any] = {
        "placement": placement,
        "heading": heading,
        "share_url": url,
        "share_text": text,
        "targets": [
            (key, label, links.absolute(f"/share/{token}/{key}")) for key, (label, _) in SHARE_TARGETS.items()
        ],
        "copy_url": links.absolute(f"/share/{token}/copy"),
        "counted": counted,
        "sentence": service.progress_sentence(progress),
        "hub_url": links.manage_url(subscriber) + "/referrals",
    }
    if placement == "welcome":
        html = render_template("referrals/_ask_email.html", **context)
        plain = render_template("referrals/_ask_email.txt", **context)
    else:
        html = render_template("referrals/_ask.html", **context)
        plain = f"{heading} {text} {url}"
    return referral_asks.Ask(Markup(html), plain)


def share_click(session: Session, token: str, target: str, now: dt.datetime) -> str | None:
    """Record a share click; the allow-listed share page to send the reader to (None for copy)."""
    if target not in CLICK_TARGETS:
        raise NotFound("No such share button.", code="unknown_share_target")
    link = read_ask_token(token)
    subscriber = session.get(Subscriber, link.subscriber_id)
    if not referral_asks.may_ask(subscriber):
        raise NotFound("This share link is not valid.", code="invalid_share_link")
    assert subscriber is not None
    record_event(session, AskEventKind.CLICK, link.placement, subscriber.id, now, link.post_id, target)
    if target == "copy":
        return None
    _heading, text, subject = _share_words(link.placement)
    return SHARE_TARGETS[target][1](share_url(subscriber, link.placement, link.share_path), text, subject)


# The report -------------------------------------------------------------------------------


def placement_counts(
    session: Session, start: dt.datetime | None, end: dt.datetime | None
) -> dict[str, ask_metrics.PlacementCounts]:
    """Each placement's views, share clicks, counted visits and counted referrals in [start, end)."""
    events = select(ReferralAskEvent.placement, ReferralAskEvent.kind, func.count()).group_by(
        ReferralAskEvent.placement, ReferralAskEvent.kind
    )
    visits = (
        select(ReferralVisit.placement, func.count())
        .where(ReferralVisit.placement.is_not(None), ReferralVisit.counted.is_(True))
        .group_by(ReferralVisit.placement)
    )
    referrals = (
        select(Referral.placement, func.count())
        .where(Referral.placement.is_not(None), Referral.status == ReferralStatus.COUNTED)
        .group_by(Referral.placement)
    )
    if start is not None:
        events = events.where(ReferralAskEvent.day >= start.date())
        visits = visits.where(ReferralVisit.at >= start)
        referrals = referrals.where(Referral.counted_at >= start)
    if end is not None:
        events = events.where(ReferralAskEvent.day < end.date())
        visits = visits.where(ReferralVisit.at < end)
        referrals = referrals.where(Referral.counted_at < end)
    raw: dict[str, dict[str, int]] = {p: {} for p in referral_asks.PLACEMENTS}
    for placement, kind, n in session.execute(events):
        if placement in raw:
            raw[placement]["views" if kind == AskEventKind.VIEW else "share_clicks"] = n
    for visited, n in session.execute(visits):
        if visited in raw:
            raw[visited]["visits"] = n
    for credited, n in session.execute(referrals):
        if credited in raw:
            raw[credited]["counted_referrals"] = n
    return {p: ask_metrics.PlacementCounts(**figures) for p, figures in raw.items()}


def share_url_for_token(session: Session, token: str) -> str:
    """The shared link a share token names (where "copy" opened as a page goes)."""
    link = read_ask_token(token)
    subscriber = session.get(Subscriber, link.subscriber_id)
    if subscriber is None or not referral_asks.may_ask(subscriber):
        raise NotFound("This share link is not valid.", code="invalid_share_link")
    return share_url(subscriber, link.placement, link.share_path)


def placement_report(
    session: Session, start: dt.datetime | None, end: dt.datetime | None
) -> list[dict[str, Any]]:
    """The referral report's `placements`: one row per placement, then "all"."""
    return ask_metrics.placement_rows(placement_counts(session, start, end), referral_asks.PLACEMENTS)
