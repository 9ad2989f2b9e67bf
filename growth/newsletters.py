"""A publication's newsletters: create, rename, describe, sender name and reply-to, archive.

An archived newsletter is offered to nobody (signup form, embed, reader's page, the post form's list) and
cannot be chosen at signup; its memberships and history stay, and it can be brought back.
The default newsletter cannot be archived: a signup that names none joins it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from growth import series
from growth.errors import Conflict, NotFound, ValidationFailed
from growth.fields import Rule
from growth.models import Membership, MembershipStatus, Newsletter
from growth.subscribers import default_newsletter

NAME = Rule.of(Newsletter.name, "name", min_length=1)
SLUG = Rule.of(Newsletter.slug, "slug")
DESCRIPTION = Rule("description", 2000, multiline=True)
SENDER_NAME = Rule.of(Newsletter.sender_name, "sender name")
REPLY_TO = Rule.of(Newsletter.reply_to, "reply-to")
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
EDITABLE = ("name", "description", "sender_name", "reply_to")


@dataclass(frozen=True)
class NewsletterFigures:
    """A newsletter with how many readers it has."""

    newsletter: Newsletter
    active: int
    pending: int


def active_newsletters(session: Session) -> list[Newsletter]:
    """What readers are offered: every newsletter not archived, the default first."""
    default_newsletter(session)
    return list(
        session.scalars(
            select(Newsletter)
            .where(Newsletter.archived_at.is_(None))
            .order_by(Newsletter.is_default.desc(), Newsletter.id)
        )
    )


def all_newsletters(session: Session) -> list[NewsletterFigures]:
    """Every newsletter (archived last) with its active and pending members."""
    default_newsletter(session)
    counts: dict[tuple[int, str], int] = {
        (nid, status): n
        for nid, status, n in session.execute(
            select(Membership.newsletter_id, Membership.status, func.count()).group_by(
                Membership.newsletter_id, Membership.status
            )
        )
    }
    rows = session.scalars(
        select(Newsletter).order_by(
            Newsletter.archived_at.is_not(None), Newsletter.is_default.desc(), Newsletter.id
        )
    )
    return [
        NewsletterFigures(
            n, counts.get((n.id, MembershipStatus.ACTIVE), 0), counts.get((n.id, MembershipStatus.PENDING), 0)
        )
        for n in rows
    ]


def get_newsletter(session: Session, newsletter_id: int) -> Newsletter:
    """One newsletter by id; NotFound otherwise."""
    newsletter = session.get(Newsletter, newsletter_id)
    if newsletter is None:
        raise NotFound("No such newsletter.")
    return newsletter


def slug_for(name: str) -> str:
    """A URL-safe slug from a name ("Friday Notes!" -> "friday-notes")."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")
    return slug or "newsletter"


def _clean_reply_to(raw: Any) -> str | None:
    value = REPLY_TO.clean_optional(raw)
    if value is None:
        return None
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationFailed("reply-to must be an email address", code="invalid_reply_to") from exc


def _apply(newsletter: Newsletter, values: dict[str, Any]) -> None:
    if "name" in values:
        newsletter.name = NAME.clean(values["name"])
    if "description" in values:
        newsletter.description = DESCRIPTION.clean(values["description"] or "").strip()
    if "sender_name" in values:
        newsletter.sender_name = SENDER_NAME.clean_optional(values["sender_name"])
    if "reply_to" in values:
        newsletter.reply_to = _clean_reply_to(values["reply_to"])


def create_newsletter(session: Session, values: dict[str, Any], now: dt.datetime) -> Newsletter:
    """A new newsletter; its slug is given or made from the name, and must be free (409)."""
    name = NAME.clean(values.get("name"))
    raw_slug = values.get("slug")
    slug = SLUG.clean(raw_slug).lower() if raw_slug else slug_for(name)
    if not _SLUG.fullmatch(slug):
        raise ValidationFailed(
            "slug must be lower-case letters, digits and dashes (not at either end)", code="invalid_slug"
        )
    newsletter = Newsletter(slug=slug, name=name, description="", is_default=False, created_at=now)
    _apply(newsletter, {k: v for k, v in values.items() if k in EDITABLE})
    try:
        with session.begin_nested():
            session.add(newsletter)
    except IntegrityError as exc:
        raise Conflict(f"A newsletter with the slug {slug!r} exists.", code="slug_taken") from exc
    return newsletter


def update_newsletter(session: Session, newsletter: Newsletter, values: dict[str, Any]) -> Newsletter:
    """Rename, describe, set the sender name or reply-to (the slug stays: links carry it)."""
    _apply(newsletter, {k: v for k, v in values.items() if k in EDITABLE})
    session.flush()
    return newsletter


def archive_newsletter(session: Session, newsletter: Newsletter, now: dt.datetime) -> Newsletter:
    """Offer it to nobody from now on (idempotent); the default newsletter cannot be archived."""
    if newsletter.is_default:
        raise Conflict("The default newsletter cannot be archived.", code="default_newsletter")
    if newsletter.archived_at is None:
        newsletter.archived_at = now
        session.flush()
    return newsletter


def restore_newsletter(session: Session, newsletter: Newsletter) -> Newsletter:
    """Offer an archived newsletter again."""
    newsletter.archived_at = None
    session.flush()
    return newsletter


def daily_signups(
    session: Session, newsletter: Newsletter, now: dt.datetime, days: int, tz: str
) -> series.Series:
    """Signups (memberships asked for) and confirmations of this newsletter per local day."""
    start = now - dt.timedelta(days=days + 1)  # a day's margin for the zone; daily_counts cuts exactly
    rows = session.execute(
        select(Membership.created_at, Membership.confirmed_at).where(
            Membership.newsletter_id == newsletter.id,
            or_(Membership.created_at >= start, Membership.confirmed_at >= start),
        )
    ).all()
    return series.daily_counts(
        {"Signups": [r.created_at for r in rows], "Confirmations": [r.confirmed_at for r in rows]},
        now,
        days,
        tz,
    )


def newsletter_json(n: Newsletter) -> dict[str, Any]:
    """The API shape of a newsletter."""
    return {
        "id": n.id,
        "slug": n.slug,
        "name": n.name,
        "description": n.description,
        "sender_name": n.sender_name,
        "reply_to": n.reply_to,
        "is_default": n.is_default,
        "archived_at": n.archived_at.isoformat() if n.archived_at else None,
        "created_at": n.created_at.isoformat(),
    }
