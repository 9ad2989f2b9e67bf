"""What content contributes to the core's reports: the post a signup landed on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from content.models import Post

POST_PATH = re.compile(r"^/p/([^/?#]+)/?$")


def post_slug(url: str) -> str | None:
    """The slug of a /p/<slug> landing URL (another site's page names no post of ours)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    match = POST_PATH.match(path)
    return unquote(match.group(1)) if match else None


def landing_posts(session: Session, landing_urls: Mapping[int, str]) -> dict[int, str]:
    """{subscriber_id: slug} for those who landed on one of our posts."""
    wanted = {sid: slug for sid, url in landing_urls.items() if (slug := post_slug(url))}
    if not wanted:
        return {}
    known = set(session.scalars(select(Post.slug).where(Post.slug.in_(set(wanted.values())))))
    return {sid: slug for sid, slug in wanted.items() if slug in known}
