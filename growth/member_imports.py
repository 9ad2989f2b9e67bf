"""Moving in from Substack, beehiiv, Ghost or Kit: their member exports, free and paid.

Built on growth.imports' rules: every row validated (a bad one is reported by line, the others
go in), known addresses never resurrected, erased ones never imported again. What differs:
readers keep the standing they had there (active, unsubscribed, pending, bounced, complained),
their consent says `imported-from-<platform>`, and only those who never confirmed there get a
confirmation email. Paid members bring their Stripe customer id (the same Stripe account):
billing, which the core does not import, registers growth.paid_members to say who owns a
customer and to link one, mirroring its subscriptions so MRR and the paying stage are right at
once. Nobody re-enters a card.

`plan_import` reads and decides without writing; a dry run stops there. Re-running a file
changes nothing: addresses and Stripe customers are unique, and a row whose reader and customer
are already linked is `unchanged`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from growth import access, addresses, imports, paid_members, privacy, subscribers
from growth.errors import DomainError, InvalidRequest, ValidationFailed
from growth.models import Consent, Membership, MembershipStatus, Newsletter, Stage, Status, Subscriber
from growth.outgoing import core_events
from growth.platforms import FORMATS, PLATFORMS, Member, RowRefused

log = logging.getLogger(__name__)

# A bounced reader never left the newsletters (the address is suppressed until an operator lifts
# it); a complaint is taken as leaving them.
MEMBERSHIP = {
    Status.ACTIVE: MembershipStatus.ACTIVE,
    Status.PENDING: MembershipStatus.PENDING,
    Status.BOUNCED: MembershipStatus.ACTIVE,
    Status.COMPLAINED: MembershipStatus.UNSUBSCRIBED,
    Status.UNSUBSCRIBED: MembershipStatus.UNSUBSCRIBED,
}


# -- reading and planning ----------------------------------------------------------------------


@dataclass
class PlannedRow:
    """One readable row and what the import does with it."""

    line: int
    member: Member
    display: str
    key: str
    action: str  # new | updated | unchanged | erased
    subscriber_id: int | None = None
    link_customer: bool = False
    assign_tier: bool = False  # linked already, but its subscriptions unlock no tier yet


@dataclass
class MemberImportReport:
    """What an import did, or in a dry run would do."""

    platform: str
    dry_run: bool
    new: int = 0
    updated: int = 0  # known readers whose Stripe customer is linked now
    unchanged: int = 0
    erased: int = 0  # erased on request: only the reader may come back, by signing up
    invalid: list[dict[str, object]] = field(default_factory=list)
    paid_found: int = 0  # rows of paying members with a Stripe customer id
    paid_linked: int = 0  # of those, linked by this run
    subscriptions_mirrored: int = 0
    untiered: int = 0  # paid members whose subscriptions' prices no tier knows (no paid posts)
    paid_errors: list[dict[str, object]] = field(default_factory=list)  # imported, not linked
    notes: list[dict[str, object]] = field(default_factory=list)  # what was not carried over
    new_by_status: dict[str, int] = field(default_factory=dict)
    confirmations_queued: int = 0
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "platform": self.platform,
            "dry_run": self.dry_run,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "erased": self.erased,
            "invalid": self.invalid,
            "paid_found": self.paid_found,
            "paid_linked": self.paid_linked,
            "subscriptions_mirrored": self.subscriptions_mirrored,
            "untiered": self.untiered,
            "paid_errors": self.paid_errors,
            "notes": self.notes,
            "new_by_status": self.new_by_status,
            "confirmations_queued": self.confirmations_queued,
            "warnings": self.warnings,
        }


def plan_import(
    session: Session,
    platform: str,
    rows: list[dict[str, str]],
    report: MemberImportReport,
    *,
    refuse_disposable: bool = True,
    tier_id: int | None = None,
) -> list[PlannedRow]:
    """Read every row and decide what it would change; writes nothing.

    `tier_id`: the tier for paid members whose Stripe prices no tier knows (their old
    platform's prices); without it they count in MRR but unlock no paid posts (`untiered`).
    """
    read = FORMATS[platform].read
    valid: list[PlannedRow] = []
    first_line: dict[str, int] = {}
    customer_line: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        raw_email = row.get("email_address") or row.get("email", "")
        try:
            member = read(row)
            display, key = subscribers.normalize_email(member.email)
            if refuse_disposable:
                addresses.refuse_disposable(key)
            name = imports.RULES["name"].clean_optional(member.name)
            utm = {f: imports.RULES[f].clean_optional(getattr(member, f)) for f in _UTM}
        except (ValidationFailed, RowRefused) as exc:
            reason = exc.message if isinstance(exc, ValidationFailed) else str(exc)
            report.invalid.append({"line": line, "email": raw_email[:320], "reason": reason})
            continue
        if key in first_line:
            report.invalid.append(
                {
                    "line": line,
                    "email": raw_email[:320],
                    "reason": f"the same address as line {first_line[key]}",
                }
            )
            continue
        customer = member.stripe_customer_id
        if customer and customer in customer_line:
            report.invalid.append(
                {
                    "line": line,
                    "email": raw_email[:320],
                    "reason": f"Stripe customer {customer} is already on line {customer_line[customer]}",
                }
            )
            continue
        first_line[key] = line
        if customer:
            customer_line[customer] = line
        member = Member(
            email=member.email,
            status=member.status,
            name=name,
            stripe_customer_id=customer,
            note=member.note,
            **utm,
        )
        if member.note:
            report.notes.append({"line": line, "email": display, "note": member.note})
        valid.append(PlannedRow(line, member, display, key, action="new"))

    known = _known(session, [p.key for p in valid])
    erased = privacy.erased_hashes(session, [p.key for p in valid if p.key not in known])
    paid = paid_members.registered()
    customers = [p.member.stripe_customer_id for p in valid if p.member.stripe_customer_id]
    owners = paid.owners(session, customers) if paid and customers else {}
    linked = [c for c in customers if owners.get(c) is not None]
    untiered = paid.untiered(session, linked) if paid and linked else set()
    planned: list[PlannedRow] = []
    for p in valid:
        customer = p.member.stripe_customer_id
        p.subscriber_id = known.get(p.key)
        if p.subscriber_id is None and p.key in erased:
            p.action = "erased"
            report.erased += 1
            continue
        owner = owners.get(customer) if customer else None
        if customer and owner is not None and owner != p.subscriber_id:
            report.invalid.append(
                {
                    "line": p.line,
                    "email": p.display,
                    "reason": f"Stripe customer {customer} already belongs to subscriber {owner}",
                }
            )
            continue
        p.link_customer = bool(customer) and owner is None
        if customer in untiered:
            if tier_id is None:
                report.untiered += 1
            else:
                p.assign_tier = True
        if p.subscriber_id is None:
            p.action = "new"
            report.new += 1
            report.new_by_status[str(p.member.status)] = report.new_by_status.get(str(p.member.status), 0) + 1
        elif p.link_customer or p.assign_tier:
            p.action = "updated"
            report.updated += 1
        else:
            p.action = "unchanged"
            report.unchanged += 1
        if customer:
            report.paid_found += 1
        planned.append(p)
    if any(p.link_customer for p in planned):
        problem = paid.problem() if paid else "This installation has no billing: paid members import as free."
        if problem:
            report.warnings.append(problem)
    return planned


def _untiered_warning(report: MemberImportReport) -> None:
    if report.untiered:
        report.warnings.append(
            f"{report.untiered} paid member(s) pay through Stripe prices no tier knows: they count "
            "in MRR but unlock no paid posts. Import the file again naming the tier they bought."
        )


_UTM = ("utm_source", "utm_medium", "utm_campaign")


def _known(session: Session, keys: list[str], chunk: int = 1000) -> dict[str, int]:
    """{address: subscriber id} of those among `keys` already stored (one query per thousand)."""
    found: dict[str, int] = {}
    for start in range(0, len(keys), chunk):
        part = keys[start : start + chunk]
        for key, subscriber_id in session.execute(
            select(Subscriber.email_normalized, Subscriber.id).where(Subscriber.email_normalized.in_(part))
        ):
            found[str(key)] = subscriber_id
    return found


# -- applying ----------------------------------------------------------------------------------


def import_members(
    session: Session,
    platform: str,
    rows: list[dict[str, str]],
    now: dt.datetime,
    *,
    dry_run: bool = False,
    newsletter_slugs: list[str] | None = None,
    label: str | None = None,
    refuse_disposable: bool = True,
    tier_id: int | None = None,
) -> MemberImportReport:
    """Import a platform's export; with `dry_run`, only report what would change.

    `tier_id` names the tier paid members bought when their Stripe prices are the old
    platform's (see plan_import).
    """
    if platform not in PLATFORMS:
        raise InvalidRequest(f"Unknown platform {platform[:40]!r}.", code="unknown_platform")
    if tier_id is not None and tier_id not in access.tier_names(session):
        raise ValidationFailed(f"There is no tier {tier_id}.", code="unknown_tier")
    newsletters = subscribers.resolve_newsletters(session, newsletter_slugs)
    report = MemberImportReport(platform=platform, dry_run=dry_run)
    planned = plan_import(
        session, platform, rows, report, refuse_disposable=refuse_disposable, tier_id=tier_id
    )
    if dry_run:
        _untiered_warning(report)
        return report
    paid = paid_members.registered()
    form = (label or f"{platform}-export")[:100]
    arrivals = [p for p in planned if p.action == "new"]
    created: dict[int, Subscriber] = {}
    for start in range(0, len(arrivals), CHUNK):
        part = arrivals[start : start + CHUNK]
        created.update(_create_chunk(session, platform, part, now, newsletters, form))
    for p in planned:
        subscriber: Subscriber | None
        if p.action == "new":
            subscriber = created.get(p.line)
            if subscriber is None:  # the same address, imported at the same moment by another run
                report.new -= 1
                report.unchanged += 1
                continue
            core_events.subscriber_created(session, subscriber, now)
            if subscriber.status == Status.PENDING and subscribers.queue_confirmation(
                session, subscriber, now, resend_after=0
            ):
                report.confirmations_queued += 1
        elif p.link_customer or p.assign_tier:
            subscriber = session.get(Subscriber, p.subscriber_id)
        else:
            continue
        customer = p.member.stripe_customer_id
        if paid is not None and p.assign_tier and customer and tier_id is not None:
            paid.assign_tier(session, customer, tier_id, now)
            continue
        if not p.link_customer or subscriber is None or customer is None:
            continue
        if paid is None:
            report.paid_errors.append(
                {"line": p.line, "email": p.display, "reason": "no billing on this installation"}
            )
            continue
        try:
            with session.begin_nested():
                linked = paid.link(session, subscriber, customer, now, tier_id)
        except DomainError as exc:
            log.warning("import line %s: customer not linked: %s", p.line, exc.message)
            report.paid_errors.append({"line": p.line, "email": p.display, "reason": exc.message})
            continue
        except IntegrityError:  # another import linked the same customer at this moment
            log.info("import line %s: customer %s linked by a concurrent import", p.line, customer)
            report.paid_errors.append(
                {
                    "line": p.line,
                    "email": p.display,
                    "reason": "another import was linking this customer at the same moment; "
                    "run the file again to check",
                }
            )
            continue
        report.paid_linked += 1
        report.subscriptions_mirrored += linked.get("subscriptions", 0)
        report.untiered += 1 if linked.get("untiered", 0) else 0
    session.flush()
    _untiered_warning(report)
    return report


CHUNK = 500  # new readers written per flush (and per savepoint)


def _create_chunk(
    session: Session,
    platform: str,
    part: list[PlannedRow],
    now: dt.datetime,
    newsletters: list[Newsletter],
    form: str,
) -> dict[int, Subscriber]:
    """{line: new reader} for the rows of `part`, written together; an address another run
    imported meanwhile (a unique clash) sends the chunk back one row at a time, that row left out."""
    built = [(p, _new_subscriber(platform, p.member, p.display, p.key, now)) for p in part]
    try:
        with session.begin_nested():
            session.add_all([subscriber for _, subscriber in built])
            session.flush()
    except IntegrityError:
        if len(part) == 1:
            return {}
        found: dict[int, Subscriber] = {}
        for p in part:
            found.update(_create_chunk(session, platform, [p], now, newsletters, form))
        return found
    for _, subscriber in built:
        _record_arrival(session, platform, subscriber, now, newsletters, form)
    session.flush()
    return {p.line: subscriber for p, subscriber in built}


def _new_subscriber(platform: str, member: Member, display: str, key: str, now: dt.datetime) -> Subscriber:
    """A new reader with the standing they had on `platform` (not yet added)."""
    status = member.status
    confirmed = status != Status.PENDING
    return Subscriber(
        email=display,
        email_normalized=key,
        name=member.name,
        status=status,
        stage=Stage.CONFIRMED if confirmed else Stage.SIGNED_UP,
        referral_code=subscribers.new_referral_code(),
        source=platform,
        utm_source=member.utm_source,
        utm_medium=member.utm_medium,
        utm_campaign=member.utm_campaign,
        created_at=now,
        confirmed_at=now if confirmed else None,
        unsubscribed_at=now if status == Status.UNSUBSCRIBED else None,
        status_changed_at=now,
        stage_changed_at=now,
    )


def _record_arrival(
    session: Session,
    platform: str,
    subscriber: Subscriber,
    now: dt.datetime,
    newsletters: list[Newsletter],
    form: str,
) -> None:
    """A new reader's first events, newsletters and consent (imported from `platform`)."""
    subscribers.record_first_events(session, subscriber, now, reason=f"imported-from-{platform}")
    membership = MEMBERSHIP.get(Status(subscriber.status), MembershipStatus.UNSUBSCRIBED)
    confirmed = subscriber.confirmed_at is not None
    for newsletter in newsletters:
        session.add(
            Membership(
                subscriber_id=subscriber.id,
                newsletter_id=newsletter.id,
                status=membership,
                created_at=now,
                confirmed_at=now if confirmed else None,
            )
        )
    session.add(
        Consent(
            subscriber_id=subscriber.id,
            action=f"imported-from-{platform}",
            at=now,
            form=form,
            newsletter_ids=[n.id for n in newsletters],
        )
    )


def report_lines(report: MemberImportReport, limit: int = 50) -> list[str]:
    """The report as lines for a terminal: the counts first, then each row that needs a look."""
    verb = "would import" if report.dry_run else "imported"
    lines = [
        f"{report.platform}: {verb} {report.new} new, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.invalid)} invalid, {report.erased} erased",
        f"paid members found {report.paid_found}, linked {report.paid_linked}, "
        f"subscriptions mirrored {report.subscriptions_mirrored}, without a tier {report.untiered}, "
        f"confirmations queued {report.confirmations_queued}",
    ]
    if report.new_by_status:
        lines.append(
            "new by status: " + ", ".join(f"{k} {v}" for k, v in sorted(report.new_by_status.items()))
        )
    lines += [f"warning: {w}" for w in report.warnings]
    for title, entries, key in (
        ("invalid", report.invalid, "reason"),
        ("paid member not linked", report.paid_errors, "reason"),
        ("note", report.notes, "note"),
    ):
        for entry in entries[:limit]:
            lines.append(f"  {title}: line {entry['line']}: {entry['email']!r}: {entry[key]}")
        if len(entries) > limit:
            lines.append(f"  ... and {len(entries) - limit} more {title} rows")
    if report.dry_run:
        lines.append("dry run: nothing was written")
    return lines
