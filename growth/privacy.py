"""A reader's own data: what each part of Masthead holds of them, to hand over or to erase.

The core contributes its parts (growth/privacy_core.py); each domain registers its own in its
init_app with `register_part`, the way emails take context providers, so the core imports no
domain. An export is one JSON document with a key per part. Erasure anonymises rather than
deletes: rows that reports count (subscribers, referrals, invoices, deliveries) stay, without
anything that names the reader, so every report's totals are the same before and after.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from growth.models import ErasedAddress, Subscriber

log = logging.getLogger(__name__)

EXPORT_FORMAT = "masthead.subscriber-data/1"

# (session, subscriber) -> JSON-ready data of one part
Exporter = Callable[[Session, Subscriber], Any]
# (session, subscriber, now) -> None; runs while the subscriber still has its address
Eraser = Callable[[Session, Subscriber, dt.datetime], None]


@dataclass(frozen=True)
class Part:
    """One part of a reader's data: its key in the export, how to export it, how to erase it."""

    name: str
    export: Exporter | None = None
    erase: Eraser | None = None
    core: bool = False


_parts: dict[str, Part] = {}


def register_part(
    name: str, *, export: Exporter | None = None, erase: Eraser | None = None, core: bool = False
) -> None:
    """A domain adds its part (from init_app); registering a name again replaces it."""
    _parts[name] = Part(name, export, erase, core)


def parts() -> list[Part]:
    """The registered parts, the core's first, then the domains' in registration order."""
    _ensure_core()
    return sorted(_parts.values(), key=lambda p: not p.core)


def _ensure_core() -> None:
    from growth import privacy_core

    privacy_core.register_core_parts()


def address_hash(normalized_email: str) -> str:
    """SHA-256 of a normalised address (lower-cased): what the erased list keeps."""
    return hashlib.sha256(normalized_email.strip().lower().encode("utf-8")).hexdigest()


def export_subscriber(session: Session, subscriber: Subscriber, now: dt.datetime) -> dict[str, Any]:
    """Everything Masthead holds of one reader, as one JSON-ready document."""
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": now.isoformat(),
        "subscriber_id": subscriber.id,
    }
    for part in parts():
        if part.export is not None:
            document[part.name] = part.export(session, subscriber)
    return document


def erase_subscriber(session: Session, subscriber: Subscriber, now: dt.datetime) -> None:
    """Erase one reader everywhere: the domains' parts first (they may look for the address in
    what they stored), then the core's, which removes the address itself. Repeating it is
    harmless. Load the subscriber locked (`lock_row`) when requests may race."""
    key = subscriber.email_normalized
    if key:
        remember_erased(session, key, now)
    ordered = parts()
    for part in [p for p in ordered if not p.core] + [p for p in ordered if p.core]:
        if part.erase is not None:
            part.erase(session, subscriber, now)
    session.flush()
    log.info("subscriber %s erased", subscriber.id)


def remember_erased(session: Session, normalized_email: str, now: dt.datetime) -> None:
    """Keep the address's hash once (a second erasure of a re-signed-up address adds nothing)."""
    digest = address_hash(normalized_email)
    if session.scalar(select(ErasedAddress.id).where(ErasedAddress.address_hash == digest)) is not None:
        return
    try:
        with session.begin_nested():
            session.add(ErasedAddress(address_hash=digest, erased_at=now))
    except IntegrityError:  # another erasure of the same address committed first
        log.info("erased address already remembered")


def erased_hashes(session: Session, normalized_emails: list[str], chunk: int = 1000) -> set[str]:
    """Those of `normalized_emails` whose hash is on the erased list (one query per thousand)."""
    by_hash = {address_hash(key): key for key in normalized_emails}
    found: set[str] = set()
    digests = list(by_hash)
    for start in range(0, len(digests), chunk):
        part = digests[start : start + chunk]
        found.update(
            by_hash[d]
            for d in session.scalars(
                select(ErasedAddress.address_hash).where(ErasedAddress.address_hash.in_(part))
            )
        )
    return found


def is_erased_address(session: Session, normalized_email: str) -> bool:
    """Whether this address was erased before."""
    return bool(erased_hashes(session, [normalized_email]))
