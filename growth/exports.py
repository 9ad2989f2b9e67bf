"""The subscriber list as rows for CSV: the JSON list's filters, read in keyset pages.

A million rows stream in flat memory: each page is one `id > last` query of plain column
tuples (no ORM objects, nothing kept in the session), so neither the process nor a database
cursor holds more than a page at a time. Each page is its own short transaction: on SQLite every
transaction holds the write lock (growth.db), and a download that takes a minute must not keep
signups and webhooks waiting that long.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from growth import subscribers
from growth.errors import InvalidRequest
from growth.models import Status, Subscriber

PAGE_SIZE = 1000

COLUMNS = (
    Subscriber.id,
    Subscriber.email,
    Subscriber.name,
    Subscriber.status,
    Subscriber.stage,
    Subscriber.referral_code,
    Subscriber.referrer_id,
    Subscriber.source,
    Subscriber.utm_source,
    Subscriber.utm_medium,
    Subscriber.utm_campaign,
    Subscriber.created_at,
    Subscriber.confirmed_at,
    Subscriber.unsubscribed_at,
)
HEADER = tuple(c.key for c in COLUMNS)


def subscriber_filters(args: Mapping[str, str]) -> list[ColumnElement[bool]]:
    """The list's filters from query parameters (`status`, `email`); bad values are a 4xx."""
    where: list[ColumnElement[bool]] = []
    status = args.get("status")
    if status:
        if status not in set(Status):
            raise InvalidRequest(f"unknown status {status!r}", code="invalid_status")
        where.append(Subscriber.status == status)
    email = args.get("email")
    if email:
        _, key = subscribers.normalize_email(email)
        where.append(Subscriber.email_normalized == key)
    return where


def iter_subscriber_rows(
    session: Session, where: list[ColumnElement[bool]], page_size: int = PAGE_SIZE
) -> Iterator[tuple[Any, ...]]:
    """Matching subscribers in id order, one page of `page_size` tuples per query.

    Commits after each page (ending its read): call it once the request's unit of work is done.
    """
    last = 0
    while True:
        # Core rows through the session's connection: the ORM's per-row bookkeeping is not needed.
        page = (
            session.connection()
            .execute(
                select(*COLUMNS).where(*where, Subscriber.id > last).order_by(Subscriber.id).limit(page_size)
            )
            .all()
        )
        session.commit()  # nothing is pending: this ends the page's transaction
        for row in page:
            yield tuple(row)
        if len(page) < page_size:
            return
        last = page[-1][0]
