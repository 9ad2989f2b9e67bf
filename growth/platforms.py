"""The member exports of other platforms, read as one plain shape (no database, no app).

Each platform's documented export is mapped to `Member`: the address, a name, the reader's
standing there (active, unsubscribed, pending confirmation, bounced, complained), and for paid
members the Stripe customer id they pay through, on the publication's own Stripe account.

- Substack: the "email list" export (email, active_subscription, expiry, email_disabled,
  prefer_digests, created_at; newer exports add plan and stripe_customer_id) and the
  "subscribers" export of paid, comp and gift members (email, expiry, email_disabled,
  prefer_digests, stripe_connected_customer_id, type). `email_disabled` true is an unsubscribe.
  Addresses at deletion-request.substack.com are readers who asked to be deleted.
- beehiiv: the subscribers export (email, First Name, Last Name, status, tier, created_at,
  stripe_customer_id, one "<name> Tier" Yes/No column per tier, unsubscribed_at, utm_*).
- Ghost: the members export (id, email, name, note, subscribed_to_emails, complimentary_plan,
  stripe_customer_id, created_at, deleted_at, labels, tiers). Ghost members confirmed their
  address by magic link.
- Kit (ConvertKit): the subscribers export (first_name, email_address, state, created_at, tags,
  custom fields). Kit's states: active, inactive (never confirmed), cancelled, bounced,
  complained. Kit keeps no Stripe customer id; a custom field named stripe_customer_id is read.

Sources: TryGhost/migrate (packages mg-substack-members-csv and mg-beehiiv-members, their
readers and test fixtures), TryGhost/Ghost members-csv (the export header), Kit's API v4
subscriber states.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from growth.errors import InvalidRequest
from growth.imports import MAX_ROWS
from growth.models import Status

PLATFORMS = ("substack", "beehiiv", "ghost", "kit")
CUSTOMER_ID = re.compile(r"cus_[A-Za-z0-9]{1,250}")
TRUE = frozenset({"true", "yes", "1", "t", "y"})
FALSE = frozenset({"false", "no", "0", "f", "n", ""})


class RowRefused(ValueError):
    """This row cannot be imported; the message says why, for the per-row report."""


@dataclass(frozen=True)
class Member:
    """One reader of another platform, in Masthead's words."""

    email: str
    status: Status  # ACTIVE, UNSUBSCRIBED, PENDING, BOUNCED or COMPLAINED
    name: str | None = None
    stripe_customer_id: str | None = None  # only for a paying member
    note: str | None = None  # what was not carried over, said once per row
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None


@dataclass(frozen=True)
class Format:
    """How to recognise one platform's export and read its rows."""

    platform: str
    email_columns: tuple[str, ...]
    # At least one of these is in the header of that platform's export.
    marks: tuple[str, ...]
    read: Callable[[dict[str, str]], Member]


def _flag(row: dict[str, str], column: str, default: bool = False) -> bool:
    raw = row.get(column, "").strip().lower()
    if column not in row or raw == "":
        return default
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise RowRefused(f"{column} must be true or false, not {raw[:40]!r}")


def _customer(row: dict[str, str], *columns: str) -> str | None:
    for column in columns:
        value = row.get(column, "").strip()
        if value:
            if not CUSTOMER_ID.fullmatch(value):
                raise RowRefused(f"{column} is not a Stripe customer id (cus_...): {value[:40]!r}")
            return value
    return None


def _name(*parts: str | None) -> str | None:
    joined = " ".join(p.strip() for p in parts if p and p.strip())
    return joined or None


def read_substack(row: dict[str, str]) -> Member:
    """A row of Substack's email list or subscribers export."""
    email = row.get("email", "")
    if email.strip().lower().endswith("@deletion-request.substack.com"):
        raise RowRefused("the reader asked Substack to delete them")
    status = Status.UNSUBSCRIBED if _flag(row, "email_disabled") else Status.ACTIVE
    kind = (row.get("type") or row.get("plan") or "").strip().lower()
    customer = _customer(row, "stripe_connected_customer_id", "stripe_customer_id")
    paying = kind in {"paid", "founding", "monthly", "yearly", "annual"} or (
        not kind and _flag(row, "active_subscription")
    )
    note = None
    if kind in {"comp", "gift", "ios_app"}:
        note = f"a Substack {kind} member: imported as a free reader"
        customer = None
    elif customer and not paying:
        note = "a free reader on Substack: their old Stripe customer is not linked"
        customer = None
    elif paying and not customer:
        note = "paid on Substack without a Stripe customer (a group or app member): imported as free"
    return Member(email=email, status=status, stripe_customer_id=customer, note=note)


BEEHIIV_STATUSES = {
    "active": Status.ACTIVE,
    "inactive": Status.UNSUBSCRIBED,
    "pending": Status.PENDING,
    "validating": Status.PENDING,
    "needs_attention": Status.PENDING,
    "invalid": Status.BOUNCED,
}


def read_beehiiv(row: dict[str, str]) -> Member:
    """A row of beehiiv's subscribers export."""
    raw = row.get("status", "").strip().lower()
    if raw not in BEEHIIV_STATUSES:
        raise RowRefused(f"unknown beehiiv status {raw[:40]!r}")
    status = BEEHIIV_STATUSES[raw]
    if row.get("unsubscribed_at", "").strip():
        status = Status.UNSUBSCRIBED
    customer = _customer(row, "stripe_customer_id")
    premium = row.get("tier", "").strip().lower() == "premium"
    note = None
    if premium and not customer:
        note = "premium on beehiiv without a Stripe customer id: imported as free"
    return Member(
        email=row.get("email", ""),
        status=status,
        name=_name(row.get("first name"), row.get("last name")) or _name(row.get("name")),
        stripe_customer_id=customer,
        note=note,
        utm_source=row.get("utm_source") or None,
        utm_medium=row.get("utm_medium") or None,
        utm_campaign=row.get("utm_campaign") or None,
    )


def read_ghost(row: dict[str, str]) -> Member:
    """A row of Ghost's members export."""
    if row.get("deleted_at", "").strip():
        raise RowRefused("the member was deleted in Ghost")
    status = Status.ACTIVE if _flag(row, "subscribed_to_emails", default=True) else Status.UNSUBSCRIBED
    customer = _customer(row, "stripe_customer_id")
    note = None
    if _flag(row, "complimentary_plan"):
        note = "a complimentary Ghost member: imported as a free reader"
    return Member(
        email=row.get("email", ""),
        status=status,
        name=_name(row.get("name")),
        stripe_customer_id=customer,
        note=note,
    )


KIT_STATES = {
    "active": Status.ACTIVE,
    "cold": Status.ACTIVE,  # Kit's label for active readers who stopped opening
    "inactive": Status.PENDING,  # never confirmed their address
    "unconfirmed": Status.PENDING,
    "cancelled": Status.UNSUBSCRIBED,
    "canceled": Status.UNSUBSCRIBED,
    "unsubscribed": Status.UNSUBSCRIBED,
    "bounced": Status.BOUNCED,
    "complained": Status.COMPLAINED,
}


def read_kit(row: dict[str, str]) -> Member:
    """A row of Kit's subscribers export (an export without a state column lists active readers)."""
    raw = (row.get("state") or row.get("status") or "active").strip().lower()
    if raw not in KIT_STATES:
        raise RowRefused(f"unknown Kit state {raw[:40]!r}")
    return Member(
        email=row.get("email_address") or row.get("email", ""),
        status=KIT_STATES[raw],
        name=_name(row.get("first_name"), row.get("last_name")),
        stripe_customer_id=_customer(row, "stripe_customer_id"),
    )


FORMATS = {
    "substack": Format(
        "substack",
        ("email",),
        ("email_disabled", "active_subscription", "stripe_connected_customer_id"),
        read_substack,
    ),
    "beehiiv": Format("beehiiv", ("email",), ("status",), read_beehiiv),
    "ghost": Format("ghost", ("email",), ("subscribed_to_emails", "complimentary_plan"), read_ghost),
    "kit": Format("kit", ("email_address", "email"), ("email_address", "first_name", "state"), read_kit),
}


def header_problem(platform: str, columns: set[str]) -> str | None:
    """Why a header (lower-cased names) is not this platform's export; None when it is."""
    fmt = FORMATS[platform]
    if not any(c in columns for c in fmt.email_columns):
        return f"A {platform} export has an {' or '.join(fmt.email_columns)} column; this file has none."
    if not any(c in columns for c in fmt.marks):
        return (
            f"This does not look like a {platform} export: it has none of the columns {', '.join(fmt.marks)}."
        )
    return None


def parse_export(platform: str, text: str) -> list[dict[str, str]]:
    """The rows of a platform's CSV export (header names lower-cased); 400 when it is not one."""
    if platform not in PLATFORMS:
        raise InvalidRequest(
            f"Unknown platform {platform[:40]!r}: one of {', '.join(PLATFORMS)}.", code="unknown_platform"
        )
    if "\x00" in text:
        raise InvalidRequest("The file is not a CSV export.", code="not_csv")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        columns = {(f or "").strip().lower() for f in reader.fieldnames or []}
        problem = header_problem(platform, columns)
        if problem:
            raise InvalidRequest(problem, code="not_platform_export")
        rows = []
        for row in reader:
            rows.append({(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k})
            if len(rows) > MAX_ROWS:
                raise InvalidRequest(
                    f"At most {MAX_ROWS} rows per import; split the file.", code="too_many_rows"
                )
    except csv.Error as exc:
        raise InvalidRequest(f"The CSV cannot be read: {exc}", code="bad_csv") from exc
    return rows
