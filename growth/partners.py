"""Recommendations between publications: partners, inbound tagging, outbound ticks, the report.

Inbound: a signup carrying `partner=<code>` (form, embed, API) is tagged with that partner and is
not a referral (its `ref` is dropped, so K is unchanged). Outbound: after confirming and on their
own page a reader sees the recommended partners, boxes unticked; only a ticked box passes their
address on (to the partner's signup API, whose double opt-in applies) or opens the partner's
page with our code there. Each (partner, reader) tick is stored once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from growth import access, jobs, partner_metrics
from growth.db import commit, db, ids_in, utcnow
from growth.errors import Conflict, NotFound, ValidationFailed
from growth.fields import one_line
from growth.models import EmailEvent, Subscriber
from growth.partner_models import Partner, PartnerRecommendation, PartnerSignup

log = logging.getLogger(__name__)

CODE = re.compile(r"[a-z0-9][a-z0-9-]{1,39}")
MAX_PRICE_CENTS = 10_000_000
CALL_TASK = "growth.partner_signup"


@dataclass
class PartnerInput:
    """What the operator says of a partner."""

    code: Any = None
    name: Any = None
    description: Any = ""
    website: Any = ""
    recommended: Any = False
    signup_api_url: Any = None
    page_url: Any = None
    their_code: Any = None
    price_per_subscriber_cents: Any = None
    currency: Any = "usd"


def _url(value: Any, field: str) -> str | None:
    text = one_line(value, field, 500)
    if not text:
        return None
    if not re.match(r"https?://[^\s/?#]+", text):
        raise ValidationFailed(f"{field} must be an http(s) address", code="invalid_field")
    return text


def create_partner(session: Session, data: PartnerInput, now: dt.datetime) -> Partner:
    """A new partner; its code (what its links carry) is unique."""
    code = one_line(data.code, "code", 40, required=True).lower()
    if not CODE.fullmatch(code):
        raise ValidationFailed("code: 2 to 40 of a-z, 0-9 and -, not starting with -", code="invalid_field")
    price = data.price_per_subscriber_cents
    if isinstance(price, str):
        price = int(price) if price.strip().isdigit() else (None if not price.strip() else -1)
    if price is not None and (
        not isinstance(price, int) or isinstance(price, bool) or not 1 <= price <= MAX_PRICE_CENTS
    ):
        raise ValidationFailed(
            "price_per_subscriber_cents must be whole cents, at least 1", code="invalid_field"
        )
    currency = one_line(data.currency or "usd", "currency", 3).lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise ValidationFailed("currency must be a three-letter code", code="invalid_field")
    api, page = _url(data.signup_api_url, "signup_api_url"), _url(data.page_url, "page_url")
    recommended = data.recommended in (True, "on", "true", "1")
    if recommended and not (api or page):
        raise ValidationFailed("a recommended partner needs a signup API or a page", code="invalid_field")
    if session.scalars(select(Partner.id).where(Partner.code == code)).first() is not None:
        raise Conflict("A partner has that code.", code="partner_exists")
    partner = Partner(
        code=code,
        name=one_line(data.name, "name", 200, required=True),
        description=one_line(data.description, "description", 500),
        website=_url(data.website, "website") or "",
        recommended=recommended,
        signup_api_url=api,
        page_url=page,
        their_code=one_line(data.their_code, "their_code", 100) or None,
        price_per_subscriber_cents=price,
        currency=currency,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(partner)
    except IntegrityError as exc:
        raise Conflict("A partner has that code.", code="partner_exists") from exc
    return partner


def list_partners(session: Session) -> list[Partner]:
    """Every partner by name."""
    return list(session.scalars(select(Partner).order_by(Partner.name, Partner.id)))


def get_partner(session: Session, partner_id: int) -> Partner:
    """A partner by id, or NotFound."""
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise NotFound("No such partner.", code="partner_not_found")
    return partner


def partner_json(partner: Partner) -> dict[str, Any]:
    """The API shape of a partner."""
    return {
        "id": partner.id,
        "code": partner.code,
        "name": partner.name,
        "description": partner.description,
        "website": partner.website,
        "recommended": partner.recommended,
        "signup_api_url": partner.signup_api_url,
        "page_url": partner.page_url,
        "their_code": partner.their_code,
        "price_per_subscriber_cents": partner.price_per_subscriber_cents,
        "currency": partner.currency,
    }


# ---------------------------------------------------------------------------------------------
# Inbound


def tag_signup(session: Session, subscriber: Subscriber, code: str | None, now: dt.datetime) -> bool:
    """Tag a new subscriber with the partner whose link brought them; False for an unknown code.

    Their source becomes `partner:<code>`: the acquisition source the funnel and desk count.
    """
    if not code:
        return False
    partner = session.scalars(select(Partner).where(Partner.code == code.lower())).first()
    if partner is None:
        return False
    try:
        with session.begin_nested():
            session.add(PartnerSignup(partner_id=partner.id, subscriber_id=subscriber.id, signed_up_at=now))
    except IntegrityError:
        return True  # tagged already
    subscriber.source = f"partner:{partner.code}"
    return True


def is_partner_code(session: Session, code: str | None) -> bool:
    """Whether a signup's `partner` names a known partner."""
    if not code:
        return False
    return session.scalars(select(Partner.id).where(Partner.code == code.lower())).first() is not None


# ---------------------------------------------------------------------------------------------
# Outbound


def recommended(
    session: Session, subscriber: Subscriber
) -> list[tuple[Partner, PartnerRecommendation | None]]:
    """The partners we recommend, each with this reader's tick (None: not ticked)."""
    partners = list(
        session.scalars(
            select(Partner).where(Partner.recommended.is_(True)).order_by(Partner.name, Partner.id)
        )
    )
    ticks = {
        r.partner_id: r
        for r in session.scalars(
            select(PartnerRecommendation).where(PartnerRecommendation.subscriber_id == subscriber.id)
        )
    }
    return [(p, ticks.get(p.id)) for p in partners]


def page_link(partner: Partner) -> str | None:
    """The partner's page with our code there: `{code}` in page_url is replaced, else ?ref= is added."""
    if not partner.page_url:
        return None
    code = quote(partner.their_code or "", safe="")
    if "{code}" in partner.page_url:
        return partner.page_url.replace("{code}", code)
    if not code:
        return partner.page_url
    return f"{partner.page_url}{'&' if '?' in partner.page_url else '?'}ref={code}"


def tick(session: Session, subscriber: Subscriber, partner_ids: list[int], now: dt.datetime) -> list[Partner]:
    """Act on the partners the reader ticked: queue their API signup, or count the page opened.

    Only recommended partners count; a partner ticked twice is one tick. Returns the partners
    whose page the reader should now open (links from `page_link`).
    """
    wanted = set(partner_ids)
    pages = []
    for partner, existing in recommended(session, subscriber):
        if partner.id not in wanted:
            continue
        via = "api" if partner.signup_api_url else "page"
        if existing is None:
            rec: PartnerRecommendation | None = PartnerRecommendation(
                partner_id=partner.id,
                subscriber_id=subscriber.id,
                via=via,
                state="queued" if via == "api" else "opened",
                clicked_at=now,
            )
            try:
                with session.begin_nested():
                    session.add(rec)
            except IntegrityError:  # noqa: PERF203 - one row per ticked partner
                rec = None  # a second submit at the same moment: that one counts
            if rec is not None and via == "api":
                jobs.enqueue(CALL_TASK, rec.id)
        if via == "page":
            pages.append(partner)
    return pages


@jobs.task(CALL_TASK)
def call_partner_signup(recommendation_id: int) -> str:
    """POST the ticked reader's address to the partner's signup API, once (a 2xx: subscribed)."""
    from growth.outgoing import transport

    session = db.session
    rec = session.get(PartnerRecommendation, recommendation_id)
    if rec is None or rec.state != "queued":
        return rec.state if rec else "missing"
    partner = session.get(Partner, rec.partner_id)
    subscriber = session.get(Subscriber, rec.subscriber_id)
    if partner is None or subscriber is None or not partner.signup_api_url:
        rec.state, rec.error = "failed", "the partner or the reader is gone"
        commit()
        return rec.state
    body: dict[str, Any] = {"email": subscriber.email}
    if subscriber.name:
        body["name"] = subscriber.name
    if partner.their_code:
        body["partner"] = partner.their_code  # a Masthead partner tags the signup with us
    config = current_app.config["MASTHEAD"]
    rec.attempts += 1
    try:
        answer = transport.post(
            partner.signup_api_url,
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
            allow_private=config.webhooks_allow_private,
            production=config.is_production,
        )
    except (transport.BlockedAddress, transport.TransportError) as exc:
        rec.state, rec.error = "failed", str(exc)[:500]
    else:
        if 200 <= answer.status < 300:
            rec.state, rec.subscribed_at, rec.error = "subscribed", utcnow(), None
        else:
            rec.state, rec.error = "failed", f"the partner answered {answer.status}"
    log.info("partner %s signup for subscriber %s: %s", partner.code, subscriber.id, rec.state)
    commit()
    return rec.state


# ---------------------------------------------------------------------------------------------
# The report


def _first_human(session: Session, pairs: list[tuple[int, dt.datetime]]) -> dict[int, dt.datetime]:
    """Each subscriber's first human engagement after their signup."""
    if not pairs:
        return {}
    e = EmailEvent
    human = or_(
        (e.type == "open") & e.is_machine.is_(False),
        (e.type == "click") & e.is_scanner.is_(False),
        e.type == "web_visit",
    )
    since = {sid: at for sid, at in pairs}
    rows = session.execute(
        select(e.subscriber_id, e.at).where(ids_in(e.subscriber_id, list(since)), human).order_by(e.at)
    )
    first: dict[int, dt.datetime] = {}
    for sid, at in rows:
        if sid is not None and sid not in first and at >= since[sid]:
            first[sid] = at
    return first


PARTNER_CREDIT_RULE = (
    "Each paid conversion of a reader who signed up through the partner (and with no UTM campaign "
    "of their own, which takes the credit) is credited to the partner once, with all its net "
    "revenue: the attribution's campaign view. Sponsorships are not paid conversions."
)


def partners_report(session: Session, now: dt.datetime) -> dict[str, Any]:
    """Per partner: inbound pending, verified (14-day rule), rejected, billable, the revenue
    credited to the partner by the attribution (null without billing); outbound ticks."""
    signups = session.execute(
        select(
            PartnerSignup.partner_id,
            PartnerSignup.subscriber_id,
            PartnerSignup.signed_up_at,
            Subscriber.confirmed_at,
        ).join(Subscriber, Subscriber.id == PartnerSignup.subscriber_id)
    ).all()
    first = _first_human(session, [(sid, at) for _, sid, at, _ in signups])
    inbound = [
        partner_metrics.InboundSignup(pid, at, confirmed, first.get(sid))
        for pid, sid, at, confirmed in signups
    ]
    outbound = [
        partner_metrics.OutboundTick(pid, via, state)
        for pid, via, state in session.execute(
            select(PartnerRecommendation.partner_id, PartnerRecommendation.via, PartnerRecommendation.state)
        )
    ]
    rows = partner_metrics.partner_rows(list_partners(session), inbound, outbound, now)
    credited = access.attribution(session, "campaign", now)
    by_key = {r["key"]: r for r in credited["rows"]} if credited else {}
    for row in rows:
        # a partner signup's campaign is partner:<code> (acquisition_metrics.campaign_of)
        found = by_key.get(f"partner:{row['code']}")
        row["revenue_credited"] = (found["revenue_cents"] if found else {}) if credited else None
        row["paid_conversions"] = (found["conversions"] if found else 0) if credited else None
    return {
        "verify_days": partner_metrics.VERIFY_DAYS,
        "partners": rows,
        "revenue_credited_rule": PARTNER_CREDIT_RULE if credited else None,
    }


def partner_signup_count(session: Session, partner_id: int) -> int:
    """How many subscribers a partner brought (any state)."""
    return (
        session.scalar(
            select(func.count()).select_from(PartnerSignup).where(PartnerSignup.partner_id == partner_id)
        )
        or 0
    )
