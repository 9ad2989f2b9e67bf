"""The publication's branding: name, logo, colour, postal address, default sender, time zone.

Stored in one database row, so an edit in the admin is used by the next page and the next email
of every process, with no restart. `PUBLICATION_*`, `BRAND_COLOR` and `MAIL_FROM` seed that row
once (the first `db-upgrade`, or the first edit); after that the database wins. Until the row
exists the environment's values are used as they are.
"""

from __future__ import annotations

import datetime as dt
import re
import weakref
from dataclasses import asdict, dataclass
from email.utils import formataddr, parseaddr
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_request_context, request
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from growth.config import Config
from growth.errors import ValidationFailed
from growth.fields import Rule, header_safe
from growth.models import Newsletter, PublicationSettings

ROW_ID = 1
DEFAULT_COLOR = "#c2410c"
COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_CACHE = "masthead_branding"

NAME = Rule.of(PublicationSettings.name, "publication name", min_length=1)
LOGO_URL = Rule.of(PublicationSettings.logo_url, "logo URL")
ADDRESS = Rule(
    "postal address", PublicationSettings.postal_address.property.columns[0].type.length, multiline=True
)
SENDER = Rule.of(PublicationSettings.default_sender, "default sender", min_length=1)
TIMEZONE = Rule.of(PublicationSettings.timezone, "time zone", min_length=1)
FIELDS = ("name", "logo_url", "brand_color", "postal_address", "default_sender", "timezone")


@dataclass(frozen=True)
class Branding:
    """What pages and emails show of the publication."""

    name: str
    logo_url: str
    brand_color: str
    postal_address: str
    default_sender: str
    timezone: str

    @property
    def sender_address(self) -> str:
        """The bare address of the default sender (where readers write to)."""
        return parseaddr(self.default_sender)[1]

    def sender_for(self, newsletter: Newsletter | None) -> str:
        """The From of a message: the newsletter's sender name, else the default sender's."""
        if newsletter is not None and newsletter.sender_name:
            return formataddr((header_safe(newsletter.sender_name), self.sender_address))
        return self.default_sender

    def as_dict(self) -> dict[str, str]:
        """The JSON shape."""
        return asdict(self)


def from_config(config: Config) -> Branding:
    """The environment's branding (what seeds the stored row)."""
    return Branding(
        name=config.publication_name or "Masthead",
        logo_url=config.publication_logo_url,
        brand_color=config.brand_color if COLOR.fullmatch(config.brand_color) else DEFAULT_COLOR,
        postal_address=config.publication_address,
        default_sender=config.mail_from,
        timezone=config.publication_timezone,
    )


def _of_row(row: PublicationSettings) -> Branding:
    return Branding(**{name: getattr(row, name) for name in FIELDS})


def load(session: Session) -> Branding:
    """The stored branding, or the environment's while nothing is stored."""
    try:
        row = session.get(PublicationSettings, ROW_ID)
    except OperationalError:  # the database is away: the 503 page still renders, as configured
        session.rollback()
        return from_config(current_app.config["MASTHEAD"])
    return _of_row(row) if row is not None else from_config(current_app.config["MASTHEAD"])


def current() -> Branding:
    """The branding in force (read once per request; outside requests, once per transaction)."""
    from growth.db import db

    if not has_request_context():
        return _per_transaction(db.session)
    # Kept on the request, not on `g`: an app context may outlive a request (tests, commands).
    cached = request.environ.get(_CACHE)
    if cached is None:
        cached = request.environ[_CACHE] = load(db.session)
    return cached  # type: ignore[no-any-return]


def _per_transaction(session: Session) -> Branding:
    """The branding, read once per transaction of `session`: a send renders thousands of emails
    in one (the row itself is held weakly by the session, so each call was a SELECT)."""
    cached = session.info.get(_CACHE)
    transaction = session.get_transaction()
    if cached is not None and transaction is not None and cached[0]() is transaction:
        return cached[1]  # type: ignore[no-any-return]
    brand = load(session)
    transaction = session.get_transaction()
    if transaction is not None:
        session.info[_CACHE] = (weakref.ref(transaction), brand)
    return brand


def forget() -> None:
    """Drop the cached copies (after an edit)."""
    from growth.db import db

    if has_request_context():
        request.environ.pop(_CACHE, None)
    db.session.info.pop(_CACHE, None)


def seed(session: Session, config: Config, now: dt.datetime) -> bool:
    """Store the environment's branding unless a row exists; whether it stored it (race-safe)."""
    if session.get(PublicationSettings, ROW_ID) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(PublicationSettings(id=ROW_ID, updated_at=now, **from_config(config).as_dict()))
    except IntegrityError:  # another process seeded it first: theirs stands
        return False
    return True


def clean(values: dict[str, Any], base: Branding) -> Branding:
    """Checked new branding: `values` over `base`; ValidationFailed names the first bad field."""
    merged = {**base.as_dict(), **{k: v for k, v in values.items() if k in FIELDS and v is not None}}
    color = merged["brand_color"].strip() if isinstance(merged["brand_color"], str) else ""
    if not COLOR.fullmatch(color):
        raise ValidationFailed("colour must look like #c2410c", code="invalid_color")
    logo = LOGO_URL.clean(merged["logo_url"])
    if logo and not logo.startswith(("https://", "http://")):
        raise ValidationFailed("logo URL must start with https://", code="invalid_url")
    zone = TIMEZONE.clean(merged["timezone"])
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(
            f"unknown time zone {zone!r} (e.g. Europe/Paris)", code="invalid_timezone"
        ) from exc
    return Branding(
        name=NAME.clean(merged["name"]),
        logo_url=logo,
        brand_color=color.lower(),
        postal_address=ADDRESS.clean(merged["postal_address"]).strip(),
        default_sender=_clean_sender(SENDER.clean(merged["default_sender"]), base.sender_address),
        timezone=zone,
    )


def _clean_sender(raw: str, kept: str) -> str:
    display, address = parseaddr(raw)
    try:
        # The address already in force stays acceptable (MAIL_FROM's default is @localhost,
        # which the validator refuses): renaming the sender must not require a new address.
        if address != kept or not address:
            validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(
            "default sender must be an address, e.g. The Daily <news@example.com>", code="invalid_sender"
        ) from exc
    return formataddr((header_safe(display), address)) if display else address


def update(session: Session, values: dict[str, Any], now: dt.datetime) -> Branding:
    """Check and store new branding (the first edit creates the row); used from the next read on."""
    seed(session, current_app.config["MASTHEAD"], now)
    row = session.get(PublicationSettings, ROW_ID, with_for_update=True)
    assert row is not None
    branding = clean(values, _of_row(row))
    for name, value in branding.as_dict().items():
        setattr(row, name, value)
    row.updated_at = now
    session.flush()
    forget()
    return branding


def warning(branding: Branding) -> str | None:
    """What the admin should be told about the branding, if anything."""
    if not branding.postal_address.strip():
        return (
            "The publication has no postal address: bulk-mail law (CAN-SPAM, and Gmail's and "
            "Yahoo's sender rules) asks for one in every newsletter. Add it under Branding."
        )
    return None
