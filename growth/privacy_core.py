"""The core's parts of a reader's data: profile, newsletters, consent, history, deliveries, events."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import current_app, has_app_context
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from growth.models import (
    Consent,
    Delivery,
    DeliveryState,
    EmailEvent,
    Newsletter,
    Subscriber,
    SubscriberEvent,
    SunsetNotice,
)

log = logging.getLogger(__name__)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_profile(session: Session, s: Subscriber) -> dict[str, Any]:
    """Who they are to us and where they came from."""
    return {
        "email": s.email,
        "name": s.name,
        "status": s.status,
        "stage": s.stage,
        "referral_code": s.referral_code,
        "referred_by_subscriber_id": s.referrer_id,
        "source": s.source,
        "utm_source": s.utm_source,
        "utm_medium": s.utm_medium,
        "utm_campaign": s.utm_campaign,
        "referrer_url": s.referrer_url,
        "landing_url": s.landing_url,
        "signup_ip": s.signup_ip,
        "created_at": _iso(s.created_at),
        "confirmed_at": _iso(s.confirmed_at),
        "unsubscribed_at": _iso(s.unsubscribed_at),
        "paused_until": _iso(s.paused_until),
        # A signup whose second half has not run yet holds its consent details here (IP, agent).
        "unfinished_signup": s.setup_pending,
    }


def export_newsletters(session: Session, s: Subscriber) -> list[dict[str, Any]]:
    """Each newsletter they joined and their standing on it."""
    names = {nid: name for nid, name in session.execute(select(Newsletter.id, Newsletter.name))}
    return [
        {
            "newsletter": names.get(m.newsletter_id),
            "status": m.status,
            "joined_at": _iso(m.created_at),
            "confirmed_at": _iso(m.confirmed_at),
            "unsubscribed_at": _iso(m.unsubscribed_at),
        }
        for m in sorted(s.memberships, key=lambda m: m.id)
    ]


def export_consent(session: Session, s: Subscriber) -> list[dict[str, Any]]:
    """The proof of each opt-in: when, from where, through which form."""
    rows = session.scalars(select(Consent).where(Consent.subscriber_id == s.id).order_by(Consent.id))
    return [
        {
            "action": c.action,
            "at": _iso(c.at),
            "ip": c.ip,
            "user_agent": c.user_agent,
            "form": c.form,
            "newsletter_ids": list(c.newsletter_ids or []),
        }
        for c in rows
    ]


def export_history(session: Session, s: Subscriber) -> list[dict[str, Any]]:
    """Every change of their status and funnel stage."""
    rows = session.scalars(
        select(SubscriberEvent).where(SubscriberEvent.subscriber_id == s.id).order_by(SubscriberEvent.id)
    )
    return [
        {"field": e.field, "from": e.from_value, "to": e.to_value, "at": _iso(e.at), "reason": e.reason}
        for e in rows
    ]


def export_deliveries(session: Session, s: Subscriber) -> list[dict[str, Any]]:
    """Every message we queued for them (the text itself is not kept once sent)."""
    rows = session.scalars(select(Delivery).where(Delivery.subscriber_id == s.id).order_by(Delivery.id))
    return [
        {
            "id": d.id,
            "template": d.template,
            "kind": d.kind,
            "state": d.state,
            "to_email": d.to_email,
            "subject": d.subject,
            "created_at": _iso(d.created_at),
            "sent_at": _iso(d.sent_at),
        }
        for d in rows
    ]


def export_events(session: Session, s: Subscriber) -> dict[str, Any]:
    """What the mail provider told us (opens, clicks, bounces) and the re-engagement emails."""
    events = session.scalars(
        select(EmailEvent).where(EmailEvent.subscriber_id == s.id).order_by(EmailEvent.at, EmailEvent.id)
    )
    notices = session.scalars(
        select(SunsetNotice).where(SunsetNotice.subscriber_id == s.id).order_by(SunsetNotice.id)
    )
    return {
        "email_events": [
            {
                "type": e.type,
                "at": _iso(e.at),
                "delivery_id": e.delivery_id,
                "url": e.url,
                "machine_open": e.is_machine,
                "scanner_click": e.is_scanner,
            }
            for e in events
        ],
        "reengagement_notices": [
            {"sent_at": _iso(n.sent_at), "kept_at": _iso(n.kept_at), "inactivated_at": _iso(n.inactivated_at)}
            for n in notices
        ],
    }


def _origin_only(url: str | None) -> str | None:
    """The site a reader came from, without the path or query that could name them."""
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", "")) or None


def _path_only(url: str | None) -> str | None:
    """Which of our pages they landed on (reports count signups by post), without query."""
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) or None


def erase_profile(session: Session, s: Subscriber, now: dt.datetime) -> None:
    """The anonymous row stays (counts); the address, name, IPs, agents and free text go."""
    from growth import subscribers

    referrer_site, landing_page = _origin_only(s.referrer_url), _path_only(s.landing_url)
    subscribers.erase(session, s, now)
    s.referrer_url, s.landing_url = referrer_site, landing_page
    s.paused_until = None
    # Queued mail must never leave (the mailer skips erased readers too; this says so in the row).
    session.execute(
        update(Delivery)
        .where(Delivery.subscriber_id == s.id, Delivery.state == DeliveryState.QUEUED)
        .values(state=DeliveryState.SKIPPED, error="erased")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Delivery)
        .where(Delivery.subscriber_id == s.id, Delivery.state != DeliveryState.SKIPPED)
        .values(error=None)
        .execution_options(synchronize_session=False)
    )
    _forget_outbox_copies(session, s)


def _forget_outbox_copies(session: Session, s: Subscriber) -> None:
    """The local outbox holds each message as sent, address and name included: delete those.

    Files are named `<stamp>-<delivery id>-<template>.eml`. Deleting before the commit is safe:
    a rolled-back erasure loses only copies of mail, never a row.
    """
    if not has_app_context():
        return
    directory = Path(current_app.config["MASTHEAD"].outbox_dir)
    if not directory.is_dir():
        return
    ids = {str(i) for i in session.scalars(select(Delivery.id).where(Delivery.subscriber_id == s.id))}
    if not ids:
        return
    removed = 0
    for path in directory.glob("*.eml"):
        pieces = path.name.split("-", 2)
        if len(pieces) == 3 and pieces[1] in ids:
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("erasure of subscriber %s removed %s outbox files", s.id, removed)


def export_partners(session: Session, s: Subscriber) -> dict[str, Any]:
    """The partner whose link brought them, and the partners they asked us to pass them to.

    Nothing here names the reader: kept on erasure, so partner numbers stay the same.
    """
    from growth.partner_models import Partner, PartnerRecommendation, PartnerSignup

    arrived = session.execute(
        select(Partner.name, PartnerSignup.signed_up_at)
        .join(Partner, Partner.id == PartnerSignup.partner_id)
        .where(PartnerSignup.subscriber_id == s.id)
    ).first()
    ticks = session.execute(
        select(
            Partner.name,
            PartnerRecommendation.via,
            PartnerRecommendation.state,
            PartnerRecommendation.clicked_at,
        )
        .join(Partner, Partner.id == PartnerRecommendation.partner_id)
        .where(PartnerRecommendation.subscriber_id == s.id)
        .order_by(PartnerRecommendation.id)
    ).all()
    return {
        "arrived_through": {"partner": arrived[0], "at": _iso(arrived[1])} if arrived else None,
        "passed_to": [
            {"partner": name, "via": via, "state": state, "at": _iso(at)} for name, via, state, at in ticks
        ],
    }


def register_core_parts() -> None:
    """The core's parts, first in every export; the profile's eraser removes the address last."""
    from growth import custom_fields
    from growth.privacy import register_part

    register_part("profile", export=export_profile, erase=erase_profile, core=True)
    register_part("newsletters", export=export_newsletters, core=True)
    register_part("consent", export=export_consent, core=True)
    register_part("history", export=export_history, core=True)
    register_part("deliveries", export=export_deliveries, core=True)
    register_part("engagement", export=export_events, core=True)
    register_part("fields", export=custom_fields.export_fields, erase=custom_fields.erase_fields, core=True)
    register_part("partners", export=export_partners, core=True)
