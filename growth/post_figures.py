"""What other domains know about a post, asked without importing them (each registers here).

Content reports what each post did; referrals knows the visits and signups its share links
brought, billing (`billing`: paid_conversions, revenue per currency) what its attribution
credits each post with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sqlalchemy.orm import Session

# A figure: a count, money as {currency: cents}, or a note (None: not known)
Figure = int | dict[str, int] | str | None
# (session, post ids) -> {post_id: {figure name: value}}; posts without any may be left out
PostFigures = Callable[[Session, Sequence[int]], Mapping[int, Mapping[str, Figure]]]
_providers: dict[str, PostFigures] = {}


def register_post_figures(name: str, provider: PostFigures) -> None:
    """A domain offers figures per post (its init_app calls this once, under its own name)."""
    _providers[name] = provider


def has_post_figures(name: str) -> bool:
    """Whether a domain answers under that name."""
    return name in _providers


def post_figures(session: Session, post_ids: Sequence[int]) -> dict[int, dict[str, Figure]]:
    """Every registered domain's figures for these posts, merged per post."""
    merged: dict[int, dict[str, Figure]] = {post_id: {} for post_id in post_ids}
    if not post_ids:
        return merged
    for provider in _providers.values():
        for post_id, figures in provider(session, post_ids).items():
            if post_id in merged:
                merged[post_id].update(figures)
    return merged
