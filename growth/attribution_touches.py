"""The touches payment attribution weighs, asked of the domains that record them.

Billing's attribution (billing.attribution) credits each paid conversion to a post; what a
reader did before paying lives elsewhere: content knows the web reads and the email clicks of
its posts, billing the post whose paywall started Checkout. Each domain registers a provider
here in its init_app; the core never imports them, and billing never imports content.

Kinds of touch:
- `web_read`: a visit of a post's page (/p/<slug>) through the reader's signed link;
- `email_click`: a click in a post's email that no security scanner made;
- `paywall_start`: the post whose paywall or upgrade link started Checkout.
Opens never are touches (machine opens least of all).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

WEB_READ, EMAIL_CLICK, PAYWALL_START = "web_read", "email_click", "paywall_start"
KINDS = (WEB_READ, EMAIL_CLICK, PAYWALL_START)


@dataclass(frozen=True)
class Touch:
    """One thing a reader did with a post, at an instant (UTC)."""

    subscriber_id: int
    at: dt.datetime
    kind: str  # one of KINDS
    post_id: int


# (session, subscriber ids or None for everyone) -> their touches, in any order
TouchProvider = Callable[[Session, Collection[int] | None], list[Touch]]
# (session, post ids) -> {post_id: title} of those that exist
PostTitles = Callable[[Session, Sequence[int]], dict[int, str]]

_providers: dict[str, TouchProvider] = {}
_post_titles: PostTitles | None = None


def register_touches(name: str, provider: TouchProvider) -> None:
    """A domain offers touches (its init_app calls this once, under its own name)."""
    _providers[name] = provider


def register_post_titles(lookup: PostTitles) -> None:
    """Content says which posts exist and their titles (for labels and checking ids)."""
    global _post_titles
    _post_titles = lookup


def touches(session: Session, subscriber_ids: Collection[int] | None = None) -> list[Touch]:
    """Every registered domain's touches of these subscribers (everyone's when None)."""
    if subscriber_ids is not None and not subscriber_ids:
        return []
    found: list[Touch] = []
    for provider in _providers.values():
        found.extend(provider(session, subscriber_ids))
    return found


def post_titles(session: Session, post_ids: Sequence[int]) -> dict[int, str]:
    """{post_id: title} of the posts that exist; {} without content."""
    if _post_titles is None or not post_ids:
        return {}
    return _post_titles(session, post_ids)


def known_posts(session: Session, post_ids: Sequence[int]) -> set[int]:
    """Which of these ids name a post (none without content)."""
    return set(post_titles(session, post_ids))
