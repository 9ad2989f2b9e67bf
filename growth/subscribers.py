"""State changes of subscribers: signup, double opt-in, unsubscribe, status and stage.

Functions take the session first, may flush, and never commit: the caller owns the unit of work.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, cast

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import CursorResult, Table, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from growth import addresses, custom_fields, emails, partners, referral_asks, signals
from growth.db import lock_row
from growth.errors import Conflict, NotFound, ValidationFailed
from growth.fields import Rule, printable, valid_ip
from growth.models import (
    SUPPRESSED_STATUSES,
    Consent,
    Delivery,
    DeliveryKind,
    Membership,
    MembershipStatus,
    Newsletter,
    Stage,
    Status,
    Subscriber,
    SubscriberEvent,
)
from growth.partner_models import Partner

log = logging.getLogger(__name__)

REFERRAL_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: codes are read aloud
REFERRAL_CODE_LENGTH = 10  # 32^10 ≈ 1e15: unguessable at any list size

# What a signup may carry, on every path (form, embed, API, import): as long as the columns.
SIGNUP_RULES = {
    "name": Rule.of(Subscriber.name),
    "source": Rule.of(Subscriber.source),
    "ref": Rule.of(Subscriber.referral_code, "ref"),
    "partner": Rule.of(Partner.code, "partner"),
    "utm_source": Rule.of(Subscriber.utm_source),
    "utm_medium": Rule.of(Subscriber.utm_medium),
    "utm_campaign": Rule.of(Subscriber.utm_campaign),
    "referrer_url": Rule.of(Subscriber.referrer_url),
    "landing_url": Rule.of(Subscriber.landing_url),
    "form": Rule.of(Consent.form),
}
NEWSLETTER_SLUG = Rule.of(Newsletter.slug, "newsletters")
USER_AGENT_LENGTH = 500


class Suppressed(Conflict):
    """The address is suppressed (bounced, complained): only an operator may lift that."""

    code = "suppressed"

    def __init__(self, subscriber: Subscriber):
        cause = "reported one of our emails as spam" if subscriber.status == Status.COMPLAINED else "bounced"
        super().__init__(f"We stopped all mail to {subscriber.email}: it {cause}. Only we can lift that.")
        self.subscriber_status = subscriber.status


def normalize_email(raw: str) -> tuple[str, str]:
    """Validate an address; return (as given but normalised, identity key lower-cased)."""
    if not isinstance(raw, str):
        raise ValidationFailed("email must be text", code="invalid_email")
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(str(exc), code="invalid_email") from exc
    return result.normalized, result.normalized.lower()


def new_referral_code() -> str:
    """A short, unguessable referral code."""
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


def default_newsletter(session: Session) -> Newsletter:
    """The publication's default newsletter, created on first use."""
    newsletter = session.scalars(select(Newsletter).where(Newsletter.is_default)).first()
    if newsletter is None:
        newsletter = Newsletter(slug="main", name="Newsletter", is_default=True)
        session.add(newsletter)
        session.flush()
    return newsletter


def resolve_newsletters(session: Session, slugs: Iterable[str] | None) -> list[Newsletter]:
    """Newsletters by slug (the default one when none is named); unknown slugs are an error."""
    wanted = [NEWSLETTER_SLUG.clean(s) for s in (slugs or []) if s]
    wanted = [s for s in wanted if s]
    if not wanted:
        return [default_newsletter(session)]
    found = {
        n.slug: n
        for n in session.scalars(
            select(Newsletter).where(Newsletter.slug.in_(wanted), Newsletter.archived_at.is_(None))
        )
    }
    missing = [s for s in wanted if s not in found]
    if missing:
        raise ValidationFailed(f"Unknown newsletter: {', '.join(missing)}", code="unknown_newsletter")
    return [found[s] for s in dict.fromkeys(wanted)]


def find_by_email(session: Session, raw_email: str) -> Subscriber | None:
    """The subscriber with this address, if any."""
    _, key = normalize_email(raw_email)
    return session.scalars(select(Subscriber).where(Subscriber.email_normalized == key)).first()


def record_first_events(session: Session, subscriber: Subscriber, now: dt.datetime, reason: str) -> None:
    """The event rows of a new subscriber's first status and stage (from nothing)."""
    for field_name in ("status", "stage"):
        session.add(
            SubscriberEvent(
                subscriber_id=subscriber.id,
                field=field_name,
                from_value=None,
                to_value=str(getattr(subscriber, field_name)),
                at=now,
                reason=reason,
            )
        )


def set_status(
    session: Session, subscriber: Subscriber, new: str, now: dt.datetime, reason: str | None = None
) -> bool:
    """Change the status and record the event; False when nothing changed."""
    return _change(session, subscriber, "status", new, now, reason)


def set_stage(
    session: Session, subscriber: Subscriber, new: str, now: dt.datetime, reason: str | None = None
) -> bool:
    """Change the funnel stage and record the event; False when nothing changed."""
    return _change(session, subscriber, "stage", new, now, reason)


def _change(
    session: Session, subscriber: Subscriber, field_name: str, new: str, now: dt.datetime, reason: str | None
) -> bool:
    old = getattr(subscriber, field_name)
    if old == new:
        return False
    setattr(subscriber, field_name, str(new))
    setattr(subscriber, f"{field_name}_changed_at", now)
    session.add(
        SubscriberEvent(
            subscriber_id=subscriber.id,
            field=field_name,
            from_value=old,
            to_value=str(new),
            at=now,
            reason=reason,
        )
    )
    signals.subscriber_changed.send(
        subscriber, session=session, field=field_name, old=old, new=str(new), now=now, reason=reason
    )
    return True


@dataclass
class SignupRequest:
    """A validated signup from the form, the embed or the API."""

    email: str
    name: str | None = None
    newsletters: list[str] = field(default_factory=list)
    source: str | None = None
    ref: str | None = None
    partner: str | None = None  # a partner publication's code: an earned source, never a referral
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    referrer_url: str | None = None
    landing_url: str | None = None
    ask: str | None = None  # the referral ask (growth.referral_asks.PLACEMENTS) the link came from
    ip: str | None = None
    user_agent: str | None = None
    form: str = "api"
    fields: dict[str, object] = field(default_factory=dict)  # custom fields, {name: value}


def clean_signup(req: SignupRequest) -> SignupRequest:
    """The request with every field checked against SIGNUP_RULES (ValidationFailed names one)."""
    values: dict[str, Any] = {
        name: rule.clean_optional(getattr(req, name)) for name, rule in SIGNUP_RULES.items()
    }
    values["form"] = values["form"] or "api"
    return replace(
        req,
        **values,
        ip=valid_ip(req.ip),
        user_agent=printable(req.user_agent, USER_AGENT_LENGTH),
        ask=referral_asks.clean_placement(req.ask) if req.ref else None,
    )


@dataclass
class SignupResult:
    subscriber: Subscriber
    created: bool
    confirmation_queued: bool


FINISH_SIGNUP_TASK = "finish_signup"


def signup(
    session: Session,
    req: SignupRequest,
    now: dt.datetime,
    resend_after: int = 600,
    *,
    refuse_disposable: bool = True,
    defer: bool = False,
) -> SignupResult:
    """Sign an address up (pending) and queue the confirmation; safe to repeat and to race.

    A known address gets no new row; a pending or returning one gets the confirmation again at
    most once per `resend_after` seconds; a suppressed one (bounced, complained) gets nothing.
    A throwaway address is refused (422) unless `refuse_disposable` is off (DISPOSABLE_EMAILS).
    `defer` (the public views): a new address is only inserted, with what its finishing needs
    in `setup_pending`; one `finish_signup` job (or, with SIGNUP_FINISH=sweep, the worker's
    finisher) does the rest after the commit.
    """
    req = clean_signup(req)
    answers = custom_fields.clean_values(session, req.fields, custom_fields.SIGNUP)
    if req.partner and partners.is_partner_code(session, req.partner):
        # Through a partner's link: an earned source tagged with the partner, never a referral
        # (no referrer, no referral signal: K is unchanged), whatever ref cookie came along.
        req = replace(req, ref=None)
    display, key = normalize_email(req.email)
    if refuse_disposable:
        addresses.refuse_disposable(key)
    # No slug named: the default newsletter, found by whoever finishes (no read here).
    newsletter_ids = None
    if req.newsletters:
        newsletter_ids = [n.id for n in resolve_newsletters(session, req.newsletters)]
    setup = signup_setup_values(req, newsletter_ids, answers)
    # Most signups are new: try the INSERT first; a known address answers with its row.
    subscriber, created = _insert_subscriber(session, req, display, key, now, setup=setup if defer else None)
    if created:
        if defer:
            if _job_per_signup():
                from growth import jobs

                jobs.enqueue(FINISH_SIGNUP_TASK, subscriber.id)
            return SignupResult(subscriber, True, False)
        return _complete_signup(session, subscriber, True, setup, now, now, resend_after)
    if subscriber.setup_pending is not None:
        # Its own signup is not finished yet (the job is queued): finish it first, here.
        finish_signup(session, subscriber.id, now, resend_after)
    return _complete_signup(session, subscriber, False, setup, now, now, resend_after)


def signup_setup_values(
    req: SignupRequest, newsletter_ids: list[int] | None, answers: dict[Any, Any]
) -> dict[str, Any]:
    """What finishing a signup needs from its request (kept in `setup_pending`, JSON)."""
    return {
        "newsletter_ids": newsletter_ids,
        "ip": req.ip,
        "user_agent": req.user_agent,
        "form": req.form or req.source,
        "ref": req.ref,
        "ask": req.ask,
        "partner": req.partner,
        "fields": {str(k): v for k, v in answers.items()},
    }


def _job_per_signup() -> bool:
    """Whether a deferred signup queues its own job; with SIGNUP_FINISH=sweep and a worker's
    queue, the worker's finisher finds it instead (a Redis round trip and RQ's work saved per
    request). Without Redis, or with QUEUE_ASYNC off (jobs run at once, no worker), the job runs
    in process after the commit, whichever the setting."""
    queue = current_app.extensions.get("masthead_queue")
    return current_app.config["MASTHEAD"].signup_finish == "job" or queue is None or not queue.is_async


def finish_signup(
    session: Session,
    subscriber_id: int,
    now: dt.datetime,
    resend_after: int = 600,
    *,
    mail: bool = True,
    skip_locked: bool = False,
) -> bool:
    """Do what a deferred signup left (consent, memberships, history, signals, confirmation) once.

    The row is locked and its `setup_pending` cleared in the same unit of work: a second run, in
    a job run twice, the sweep or a signup of the same address, waits, then finds nothing to do.
    False when there was nothing to finish. Records are dated at the signup, the
    confirmation at `now`. `mail=False` queues no confirmation (a payment confirms them instead).
    `skip_locked` (the finishers of several workers walking one batch): a row another
    transaction holds is left to it, False at once, on PostgreSQL.
    """
    subscriber = lock_row(session, Subscriber, subscriber_id, skip_locked=skip_locked)
    if subscriber is None or subscriber.setup_pending is None:
        return False
    setup = subscriber.setup_pending
    subscriber.setup_pending = None
    if subscriber.status == Status.ERASED:  # erasure clears it too; be safe
        return False
    _complete_signup(session, subscriber, True, setup, subscriber.created_at, now, resend_after, mail=mail)
    return True


def _complete_signup(
    session: Session,
    subscriber: Subscriber,
    created: bool,
    setup: dict[str, Any],
    at: dt.datetime,
    now: dt.datetime,
    resend_after: int,
    *,
    mail: bool = True,
) -> SignupResult:
    """The rest of a signup once its row exists: records dated `at`, the confirmation at `now`."""
    if subscriber.status == Status.ERASED:  # cannot happen by key (erased rows lose it); be safe
        return SignupResult(subscriber, False, False)
    answers = {int(k): v for k, v in (setup.get("fields") or {}).items()}
    if answers and (created or subscriber.status == Status.PENDING):
        # Anyone may sign an address up: only a new or unconfirmed reader's fields are filled.
        custom_fields.set_values(session, subscriber.id, answers, custom_fields.SIGNUP, at)
    newsletter_ids = setup.get("newsletter_ids") or [default_newsletter(session).id]
    session.add(
        Consent(
            subscriber_id=subscriber.id,
            action="signup",
            at=at,
            ip=setup.get("ip"),
            user_agent=setup.get("user_agent"),
            form=setup.get("form"),
            newsletter_ids=newsletter_ids,
        )
    )
    if created:
        record_first_events(session, subscriber, at, reason="signup")
        partners.tag_signup(session, subscriber, setup.get("partner"), at)
        signals.subscriber_signed_up.send(
            subscriber,
            session=session,
            ref=setup.get("ref"),
            ip=setup.get("ip"),
            user_agent=setup.get("user_agent"),
            now=at,
            ask=setup.get("ask"),
        )
    if subscriber.status in SUPPRESSED_STATUSES:
        log.info("signup for suppressed subscriber %s: no mail", subscriber.id)
        return SignupResult(subscriber, created, False)

    wants_new_list = _add_pending_memberships(session, subscriber, newsletter_ids, at)
    if (subscriber.status == Status.ACTIVE and not wants_new_list) or not mail:
        return SignupResult(subscriber, created, False)
    queued = queue_confirmation(session, subscriber, now, resend_after)
    return SignupResult(subscriber, created, queued)


def _insert_subscriber(
    session: Session,
    req: SignupRequest,
    display: str,
    key: str,
    now: dt.datetime,
    setup: dict[str, Any] | None = None,
) -> tuple[Subscriber, bool]:
    """Insert under the unique constraints; a racing signup that won is returned instead.

    INSERT ... ON CONFLICT DO NOTHING RETURNING: one statement, no savepoint, whether the
    address or (rarely) the drawn referral code was taken.
    """
    referrer = None
    if req.ref:
        referrer = session.scalars(
            select(Subscriber).where(Subscriber.referral_code == req.ref.strip().lower())
        ).first()
    for _attempt in range(5):
        values = subscriber_values(req, display, key, now, referrer, setup)
        # On the session's connection, in its transaction: the ORM's execute adds nothing here.
        connection = session.connection()
        statement = insert_subscriber_statement(connection.dialect.name, values)
        row = connection.execute(statement, values).first()
        if row is not None:
            return _persistent(session, row._mapping), True
        existing = session.scalars(select(Subscriber).where(Subscriber.email_normalized == key)).first()
        if existing is not None:
            return existing, False
        # otherwise a referral code collided: draw another
    raise RuntimeError("could not allocate a referral code")


def subscriber_values(
    req: SignupRequest,
    display: str,
    key: str,
    now: dt.datetime,
    referrer: Subscriber | None,
    setup: dict[str, Any] | None,
) -> dict[str, Any]:
    """The columns a signup's INSERT sets (a fresh referral code each call)."""
    return dict(
        email=display,
        email_normalized=key,
        name=req.name,
        status=Status.PENDING,
        stage=Stage.SIGNED_UP,
        status_changed_at=now,
        stage_changed_at=now,
        referral_code=new_referral_code(),
        referrer_id=referrer.id if referrer and referrer.status != Status.ERASED else None,
        source=req.source or ("referral" if referrer else req.form),
        utm_source=req.utm_source,
        utm_medium=req.utm_medium,
        utm_campaign=req.utm_campaign,
        referrer_url=req.referrer_url,
        landing_url=req.landing_url,
        signup_ip=req.ip,
        created_at=now,
        setup_pending=setup,
    )


def insert_subscriber_statement(dialect: str, columns: Iterable[str]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING every column, through Core; built once.

    Core, not the ORM's INSERT, and bound parameters, not values: building the ORM statement
    anew cost more than its round trip (bench/signup_profile.py). Run it with the values of
    `columns` as parameters; the table's defaults apply to the others as before. `dialect`:
    "postgresql" or "sqlite". bench/load.py's bare route runs this same statement.
    """
    key = (dialect, tuple(columns))
    statement = _INSERT_STATEMENTS.get(key)
    if statement is None:
        table = cast(Table, Subscriber.__table__)
        insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[key[0]]
        statement = (
            insert(table)  # type: ignore[attr-defined]  # both dialects' Insert have on_conflict
            .values({name: bindparam(name, type_=table.c[name].type) for name in key[1]})
            .on_conflict_do_nothing()
            .returning(*table.c)
        )
        _INSERT_STATEMENTS[key] = statement
    return statement


_INSERT_STATEMENTS: dict[tuple[str, tuple[str, ...]], Any] = {}


def _persistent(session: Session, row: Any) -> Subscriber:
    """The Subscriber of a row just inserted, in the session as if loaded (no SQL)."""
    subscriber = Subscriber(**row)
    make_transient_to_detached(subscriber)
    session.add(subscriber)
    # Known empty: no SELECT for them when the signup adds the first.
    set_committed_value(subscriber, "memberships", [])
    return subscriber


def _add_pending_memberships(
    session: Session, subscriber: Subscriber, newsletter_ids: list[int], now: dt.datetime
) -> bool:
    """Ask for each newsletter not already active; True when one awaits confirmation."""
    current = {m.newsletter_id: m for m in subscriber.memberships}
    waiting = False
    for newsletter_id in newsletter_ids:
        membership = current.get(newsletter_id)
        if membership is None:
            membership = Membership(
                subscriber_id=subscriber.id, newsletter_id=newsletter_id, status="pending", created_at=now
            )
            subscriber.memberships.append(membership)
            waiting = True
        elif membership.status != MembershipStatus.ACTIVE:
            membership.status = MembershipStatus.PENDING
            waiting = True
        elif subscriber.status != Status.ACTIVE:
            waiting = True
    session.flush()
    return waiting


def queue_confirmation(session: Session, subscriber: Subscriber, now: dt.datetime, resend_after: int) -> bool:
    """Queue the confirmation unless one went out within `resend_after` seconds (atomically).

    Returns whether it was queued.
    """
    cutoff = now - dt.timedelta(seconds=resend_after)
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Subscriber)
        .where(
            Subscriber.id == subscriber.id,
            or_(Subscriber.confirmation_sent_at.is_(None), Subscriber.confirmation_sent_at <= cutoff),
        )
        .values(confirmation_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    # The UPDATE above wrote it: the object learns it without a second UPDATE at flush.
    set_committed_value(subscriber, "confirmation_sent_at", now)
    from growth.links import confirm_url

    # One link, signed once: a second signature a second later would differ from the mailed one.
    link = confirm_url(subscriber)
    emails.queue_email(
        session,
        subscriber,
        "confirmation",
        kind=DeliveryKind.TRANSACTIONAL,
        list_mail=False,
        confirm_url=link,
    )
    if current_app.config["MASTHEAD"].mail_backend == "outbox":
        # Local trials read the link here; the outbox holds it anyway. A real backend's links
        # confirm real readers: they stay out of the logs.
        log.info("confirmation link for subscriber %s: %s", subscriber.id, link)
    else:
        log.info("confirmation email queued for subscriber %s", subscriber.id)
    return True


def subscriber_for_token(session: Session, payload: dict, *, for_update: bool = False) -> Subscriber:
    """The subscriber a signed link names; erased or re-addressed subscribers match no link.

    `for_update` locks the row until commit (call it first in the unit of work, see `lock_row`):
    requests racing on one link then take turns, each seeing what the one before did.
    """
    subscriber_id = payload.get("s") if isinstance(payload, dict) else None
    if not isinstance(subscriber_id, int) or isinstance(subscriber_id, bool):
        subscriber = None
    elif for_update:
        subscriber = lock_row(session, Subscriber, subscriber_id)
    else:
        subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status == Status.ERASED:
        raise NotFound("This link no longer leads anywhere.", code="unknown_subscriber")
    if "e" in payload and payload["e"] != subscriber.email_normalized:
        raise NotFound("This link no longer leads anywhere.", code="unknown_subscriber")
    return subscriber


@dataclass
class ConfirmResult:
    subscriber: Subscriber
    newly_confirmed: bool


def confirm(
    session: Session,
    subscriber: Subscriber,
    now: dt.datetime,
    ip: str | None = None,
    user_agent: str | None = None,
    form: str = "confirmation_link",
) -> ConfirmResult:
    """Complete double opt-in: pending newsletters become active, the subscriber active.

    Confirming twice changes nothing and sends nothing; load the subscriber `for_update` so
    that parallel clicks on one link make one transition and one welcome.
    """
    if subscriber.status in SUPPRESSED_STATUSES:
        raise Suppressed(subscriber)
    pending = [m for m in subscriber.memberships if m.status == MembershipStatus.PENDING]
    if subscriber.status == Status.ACTIVE and not pending:
        return ConfirmResult(subscriber, False)
    if not pending and not any(m.status == MembershipStatus.ACTIVE for m in subscriber.memberships):
        pending = _add_default_membership(session, subscriber, now)
    for membership in pending:
        membership.status = MembershipStatus.ACTIVE
        membership.confirmed_at = now
    first_time = subscriber.confirmed_at is None
    if first_time:
        subscriber.confirmed_at = now
    became_active = set_status(session, subscriber, Status.ACTIVE, now, reason="confirmed")
    if subscriber.stage == Stage.SIGNED_UP:
        set_stage(session, subscriber, Stage.CONFIRMED, now, reason="confirmed")
    subscriber.unsubscribed_at = None
    session.add(
        Consent(
            subscriber_id=subscriber.id,
            action="confirm",
            at=now,
            ip=valid_ip(ip),
            user_agent=printable(user_agent, USER_AGENT_LENGTH),
            form=form,
            newsletter_ids=[m.newsletter_id for m in pending],
        )
    )
    session.flush()
    if became_active:
        newsletter = pending[0].newsletter if pending else None
        emails.queue_welcome(session, subscriber, newsletter)
    signals.subscriber_confirmed.send(
        subscriber, session=session, first_time=first_time, ip=ip, user_agent=user_agent, now=now
    )
    return ConfirmResult(subscriber, became_active or bool(pending))


PAYMENT_FORM = "stripe_checkout"


def invitee(session: Session, raw_email: str, now: dt.datetime, source: str) -> Subscriber | None:
    """The subscriber someone else named (a gift's recipient): found, or added as pending.

    No consent is recorded and no confirmation sent: they confirm by acting on the one email
    they are sent (a gift's redeem link). None for an address that cannot be one.
    """
    try:
        display, key = normalize_email(raw_email)
    except ValidationFailed:
        return None
    subscriber = session.scalars(select(Subscriber).where(Subscriber.email_normalized == key)).first()
    if subscriber is None:
        req = SignupRequest(email=display, source=source, form=source)
        subscriber, created = _insert_subscriber(session, req, display, key, now)
        if created:
            record_first_events(session, subscriber, now, reason=source)
    return subscriber


def join_by_payment(session: Session, raw_email: str, now: dt.datetime) -> Subscriber | None:
    """The subscriber a completed payment names: a new or pending address becomes active.

    Paying at Checkout proves the address (the payment provider sent its receipt there), so it
    stands for the confirmation click: the consent is recorded with form `stripe_checkout` and
    the welcome is sent. A suppressed reader (bounced, complained, unsubscribed) stays as they
    are; None for an address that cannot be one.
    """
    try:
        display, key = normalize_email(raw_email)
    except ValidationFailed:
        return None
    subscriber = session.scalars(select(Subscriber).where(Subscriber.email_normalized == key)).first()
    if subscriber is None:
        req = SignupRequest(email=display, source="checkout", form=PAYMENT_FORM)
        subscriber, created = _insert_subscriber(session, req, display, key, now)
        if created:
            session.add(Consent(subscriber_id=subscriber.id, action="signup", at=now, form=PAYMENT_FORM))
            record_first_events(session, subscriber, now, reason="signup")
            signals.subscriber_signed_up.send(
                subscriber, session=session, ref=None, ip=None, user_agent=None, now=now
            )
    elif subscriber.setup_pending is not None:  # their signup's job has not run yet: first that,
        finish_signup(session, subscriber.id, now, mail=False)  # without a confirmation to click
    if subscriber.status == Status.PENDING:
        confirm(session, subscriber, now, form=PAYMENT_FORM)
    return subscriber


def _add_default_membership(session: Session, subscriber: Subscriber, now: dt.datetime) -> list[Membership]:
    newsletter = default_newsletter(session)
    existing = next((m for m in subscriber.memberships if m.newsletter_id == newsletter.id), None)
    if existing is None:
        existing = Membership(subscriber_id=subscriber.id, newsletter_id=newsletter.id, created_at=now)
        subscriber.memberships.append(existing)
    existing.status = MembershipStatus.PENDING
    session.flush()
    return [existing]


def unsubscribe(
    session: Session,
    subscriber: Subscriber,
    now: dt.datetime,
    newsletter_id: int | None = None,
    reason: str = "unsubscribe_link",
) -> list[int]:
    """Leave one newsletter (or all when None); with none left, status becomes unsubscribed.

    Returns the ids of the newsletters left. Takes effect at once; repeating it is harmless.
    """
    left = []
    for membership in subscriber.memberships:
        if newsletter_id is not None and membership.newsletter_id != newsletter_id:
            continue
        if membership.status != MembershipStatus.UNSUBSCRIBED:
            membership.status = MembershipStatus.UNSUBSCRIBED
            membership.unsubscribed_at = now
            left.append(membership.newsletter_id)
    remaining = [m for m in subscriber.memberships if m.status != MembershipStatus.UNSUBSCRIBED]
    if not remaining and subscriber.status in {Status.ACTIVE, Status.PENDING, Status.INACTIVE}:
        set_status(session, subscriber, Status.UNSUBSCRIBED, now, reason=reason)
        subscriber.unsubscribed_at = now
    session.flush()
    return left


def set_memberships(
    session: Session, subscriber: Subscriber, newsletter_ids: set[int], now: dt.datetime
) -> None:
    """From the subscriber's own page (a signed link proves the address): keep exactly these."""
    if subscriber.status in SUPPRESSED_STATUSES:
        raise Suppressed(subscriber)
    if subscriber.status in {Status.PENDING}:
        raise ValidationFailed("Confirm your subscription first.", code="not_confirmed")
    offered = set(session.scalars(select(Newsletter.id).where(Newsletter.archived_at.is_(None))))
    wanted = newsletter_ids & offered
    # An archived newsletter is not on the page: its membership is left as it is.
    current = {m.newsletter_id: m for m in subscriber.memberships if m.newsletter_id in offered}
    for nid in wanted:
        membership = current.get(nid)
        if membership is None:
            membership = Membership(subscriber_id=subscriber.id, newsletter_id=nid, created_at=now)
            subscriber.memberships.append(membership)
        if membership.status != MembershipStatus.ACTIVE:
            membership.status = MembershipStatus.ACTIVE
            membership.confirmed_at = now
    for nid, membership in current.items():
        if nid not in wanted and membership.status != MembershipStatus.UNSUBSCRIBED:
            membership.status = MembershipStatus.UNSUBSCRIBED
            membership.unsubscribed_at = now
    session.flush()
    if wanted:
        if subscriber.status != Status.ACTIVE:
            session.add(
                Consent(
                    subscriber_id=subscriber.id,
                    action="resubscribe",
                    at=now,
                    form="manage_page",
                    newsletter_ids=sorted(wanted),
                )
            )
        set_status(session, subscriber, Status.ACTIVE, now, reason="manage_page")
        subscriber.unsubscribed_at = None
    else:
        unsubscribe(session, subscriber, now, reason="manage_page")


def lift_suppression(session: Session, subscriber: Subscriber, now: dt.datetime, operator: str) -> None:
    """An operator lifts a bounce or complaint (the reader asked): mail may go to them again.

    A confirmed reader with a newsletter left becomes active, one who never confirmed pending
    (their confirmation link works again), one who left every newsletter unsubscribed.
    Nothing is sent.
    """
    if subscriber.status not in SUPPRESSED_STATUSES:
        raise Conflict(
            f"Subscriber {subscriber.id} is {subscriber.status}, not suppressed.", code="not_suppressed"
        )
    if subscriber.confirmed_at is None:
        target = Status.PENDING
    elif any(m.status != MembershipStatus.UNSUBSCRIBED for m in subscriber.memberships):
        target = Status.ACTIVE
    else:
        target = Status.UNSUBSCRIBED
    set_status(session, subscriber, target, now, reason=f"suppression_lifted:{operator}"[:200])
    session.add(
        Consent(
            subscriber_id=subscriber.id,
            action="lift_suppression",
            at=now,
            form=f"operator:{operator}"[:100],
            newsletter_ids=sorted(
                m.newsletter_id for m in subscriber.memberships if m.status != "unsubscribed"
            ),
        )
    )
    session.flush()


MAX_PAUSE_DAYS = 365


def pause(session: Session, subscriber: Subscriber, now: dt.datetime, days: int | None) -> None:
    """Pause list mail for `days` (None resumes); status stays as it is."""
    if days is not None and not 1 <= days <= MAX_PAUSE_DAYS:
        raise ValidationFailed(f"days must be from 1 to {MAX_PAUSE_DAYS}", code="invalid_number")
    subscriber.paused_until = now + dt.timedelta(days=days) if days else None
    session.flush()
    signals.subscriber_paused.send(subscriber, session=session, until=subscriber.paused_until, now=now)


def is_paused(subscriber: Subscriber, now: dt.datetime) -> bool:
    return subscriber.paused_until is not None and subscriber.paused_until > now


def erase(session: Session, subscriber: Subscriber, now: dt.datetime) -> None:
    """Remove personal data, keep the anonymous row so counts stay true. Final."""
    set_status(session, subscriber, Status.ERASED, now, reason="erasure")
    subscriber.email = f"erased-{subscriber.id}@erased.invalid"
    subscriber.email_normalized = None
    subscriber.name = None
    subscriber.signup_ip = None
    subscriber.referrer_url = None
    subscriber.landing_url = None
    subscriber.setup_pending = None  # an unfinished signup's IP and user agent; its job then stops
    for consent in session.scalars(select(Consent).where(Consent.subscriber_id == subscriber.id)):
        consent.ip = None
        consent.user_agent = None
    for membership in subscriber.memberships:
        membership.status = MembershipStatus.UNSUBSCRIBED
        membership.unsubscribed_at = membership.unsubscribed_at or now
    # Sent mail kept the address and the rendered text (with the name): keep only the counts.
    session.execute(
        update(Delivery)
        .where(Delivery.subscriber_id == subscriber.id)
        .values(to_email=subscriber.email, message=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()


def get_subscriber(session: Session, subscriber_id: int) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFound("No such subscriber.")
    return subscriber
