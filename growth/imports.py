"""CSV import of subscribers: validated row by row, idempotent, never resurrects anyone.

An address already known is left exactly as it is (an unsubscribed, bounced or complained
reader is not brought back by an import), and an erased address is never imported again (an
import carries no consent of the reader's own: they may sign up again themselves). New
addresses arrive `pending` with a confirmation email (double opt-in), or `active` when the
operator vouches that they opted in elsewhere.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from growth import addresses, custom_fields, privacy, signals, subscribers
from growth.errors import InvalidRequest, ValidationFailed
from growth.models import Consent, Membership, MembershipStatus, Stage, Status, Subscriber
from growth.outgoing import core_events

MAX_ROWS = 100_000
KNOWN_COLUMNS = {"email", "name", "source", "utm_source", "utm_medium", "utm_campaign"}
# The same rules as a signup's: a row that breaks one is reported, the others go in.
RULES = {name: subscribers.SIGNUP_RULES[name] for name in KNOWN_COLUMNS - {"email"}}


@dataclass
class ImportReport:
    """What an import did, row by row where it did not create."""

    created: int = 0
    existing: int = 0
    erased: int = 0  # addresses erased on request: only the reader may come back, by signing up
    invalid: list[dict[str, object]] = field(default_factory=list)
    confirmations_queued: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "created": self.created,
            "existing": self.existing,
            "erased": self.erased,
            "invalid": self.invalid,
            "confirmations_queued": self.confirmations_queued,
        }


def parse_csv(text: str) -> list[dict[str, str]]:
    """Rows of a CSV with a header naming at least `email` (case-insensitive)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or "email" not in {f.strip().lower() for f in reader.fieldnames}:
        raise InvalidRequest(
            "The CSV needs a header row with an 'email' column.", code="missing_email_column"
        )
    rows = []
    for row in reader:
        rows.append({(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k})
        if len(rows) > MAX_ROWS:
            raise InvalidRequest(f"At most {MAX_ROWS} rows per import; split the file.", code="too_many_rows")
    return rows


def import_subscribers(
    session: Session,
    rows: Iterable[dict[str, str]],
    now: dt.datetime,
    *,
    confirmed: bool,
    newsletter_slugs: list[str] | None = None,
    label: str = "csv",
    enrol: bool = False,
    refuse_disposable: bool = True,
) -> ImportReport:
    """Create the new addresses of `rows`; report the known and the invalid ones.

    Throwaway addresses are invalid rows unless `refuse_disposable` is off (DISPOSABLE_EMAILS).
    `enrol` (with `confirmed`): announce each new subscriber as confirmed for sequences
    (`signals.subscriber_imported`), so their `confirmed` sequences start; otherwise none do.
    """
    newsletters = subscribers.resolve_newsletters(session, newsletter_slugs)
    report = ImportReport()
    # A column named after a custom field fills it (checked like every other path).
    by_name = {f.name: f for f in custom_fields.active_fields(session)}
    valid: list[tuple[dict[str, str | None], dict[int, str | None], str, str]] = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        try:
            display, key = subscribers.normalize_email(row.get("email", ""))
            if refuse_disposable:
                addresses.refuse_disposable(key)
            fields: dict[str, str | None] = {
                name: RULES[name].clean_optional(row.get(name)) for name in RULES
            }
            answers = custom_fields.clean_values(
                session, {n: row[n] for n in by_name if n in row}, "import", by_name
            )
        except ValidationFailed as exc:
            report.invalid.append({"line": line, "email": row.get("email", ""), "reason": exc.message})
            continue
        valid.append((fields, answers, display, key))
    seen = _known_addresses(session, [key for *_, key in valid])
    erased = privacy.erased_hashes(session, [key for *_, key in valid if key not in seen])
    for values, answers, display, key in valid:
        if key in seen:
            report.existing += 1
            continue
        if key in erased:
            report.erased += 1
            continue
        seen.add(key)
        subscriber = _create(session, values, display, key, now, confirmed, newsletters, label)
        if given := {fid: v for fid, v in answers.items() if v is not None}:
            custom_fields.set_values(session, subscriber.id, given, "import", now)
        report.created += 1
        core_events.subscriber_created(session, subscriber, now)  # a CRM wants imported readers too
        if confirmed and enrol:
            signals.subscriber_imported.send(subscriber, session=session, enrol=True, now=now)
        if not confirmed and subscribers.queue_confirmation(session, subscriber, now, resend_after=0):
            report.confirmations_queued += 1
    return report


def _known_addresses(session: Session, keys: list[str], chunk: int = 1000) -> set[str]:
    """The addresses among `keys` that are already stored (one query per thousand)."""
    known: set[str] = set()
    for start in range(0, len(keys), chunk):
        part = keys[start : start + chunk]
        known.update(
            session.scalars(select(Subscriber.email_normalized).where(Subscriber.email_normalized.in_(part)))
        )
    return known


def _create(session, row, display, key, now, confirmed, newsletters, label):  # type: ignore[no-untyped-def]
    status = Status.ACTIVE if confirmed else Status.PENDING
    stage = Stage.CONFIRMED if confirmed else Stage.SIGNED_UP
    subscriber = Subscriber(
        email=display,
        email_normalized=key,
        name=row.get("name") or None,
        status=status,
        stage=stage,
        referral_code=subscribers.new_referral_code(),
        source=row.get("source") or "import",
        utm_source=row.get("utm_source") or None,
        utm_medium=row.get("utm_medium") or None,
        utm_campaign=row.get("utm_campaign") or None,
        created_at=now,
        confirmed_at=now if confirmed else None,
        status_changed_at=now,
        stage_changed_at=now,
    )
    session.add(subscriber)
    session.flush()
    subscribers.record_first_events(session, subscriber, now, reason="import")
    for newsletter in newsletters:
        session.add(
            Membership(
                subscriber_id=subscriber.id,
                newsletter_id=newsletter.id,
                status=MembershipStatus.ACTIVE if confirmed else MembershipStatus.PENDING,
                created_at=now,
                confirmed_at=now if confirmed else None,
            )
        )
    session.add(
        Consent(
            subscriber_id=subscriber.id,
            action="import_confirmed" if confirmed else "import",
            at=now,
            form=label,
            newsletter_ids=[n.id for n in newsletters],
        )
    )
    session.flush()
    return subscriber
