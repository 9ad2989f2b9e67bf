"""Referral asks at the moment of reading, asked for without importing the referrals domain.

A page that has a reader in front of them at a good moment (the end of a post, the
confirmation page, the thanks after a poll answer) asks `ask_block` for the ask; the welcome
email carries one too. The referrals domain registers the provider that renders the reader's
link and progress and records that the ask was seen. A placement's name travels with the
shared link as `?ask=<placement>`; a name outside PLACEMENTS is ignored, never stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy.orm import Session

from growth.models import Status, Subscriber

PLACEMENTS = ("post_end", "confirmed", "poll", "welcome")
ASK_PARAM = "ask"
# Remembered with the referral code (mh_ref), so the signup names the placement that brought it.
ASK_COOKIE = "mh_ask"


@dataclass(frozen=True)
class Ask:
    """A rendered ask: HTML for the page or the email, and its words for a plain-text email."""

    html: Markup
    text: str


# (session, subscriber, placement, now, post_id, share_path) -> the ask, or None
AskProvider = Callable[[Session, Subscriber, str, dt.datetime, int | None, str | None], Ask | None]
_provider: AskProvider | None = None


def register_ask_provider(provider: AskProvider) -> None:
    """The referrals domain offers the ask (its init_app calls this once)."""
    global _provider
    _provider = provider


def clean_placement(raw: object) -> str | None:
    """A placement name from a link or a form, or None when it is none of ours."""
    return raw if isinstance(raw, str) and raw in PLACEMENTS else None


def may_ask(subscriber: Subscriber | None) -> bool:
    """Only a known, confirmed reader we still write to is asked to share."""
    return (
        subscriber is not None
        and subscriber.status == Status.ACTIVE
        and subscriber.confirmed_at is not None
        and bool(subscriber.referral_code)
    )


def ask_block(
    session: Session,
    subscriber: Subscriber | None,
    placement: str,
    now: dt.datetime,
    post_id: int | None = None,
    share_path: str | None = None,
) -> Markup:
    """The referral ask for this reader at this placement ("" for strangers or without referrals).

    `share_path` is what to share (a post's own path); without it, the reader's referral link.
    Rendering it records a view, so call it inside the request's unit of work.
    """
    ask = _ask(session, subscriber, placement, now, post_id, share_path)
    return ask.html if ask else Markup("")


def email_ask(session: Session, subscriber: Subscriber, placement: str, now: dt.datetime) -> dict[str, str]:
    """The ask for an email as `referral_ask_html` / `referral_ask_text` ({} when there is none).

    The email is rendered as it is queued: the view is counted then, with the queued email.
    """
    ask = _ask(session, subscriber, placement, now, None, None)
    return {"referral_ask_html": ask.html, "referral_ask_text": ask.text} if ask else {}


def _ask(
    session: Session,
    subscriber: Subscriber | None,
    placement: str,
    now: dt.datetime,
    post_id: int | None,
    share_path: str | None,
) -> Ask | None:
    if placement not in PLACEMENTS:
        raise ValueError(f"unknown placement {placement!r}")
    if _provider is None or subscriber is None or not may_ask(subscriber):
        return None
    return _provider(session, subscriber, placement, now, post_id, share_path)
