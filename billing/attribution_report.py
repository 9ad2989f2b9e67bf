"""Loading attribution's inputs and serving its results (the rules: billing.attribution).

Net cash comes from billing.cash (through billing.reports.load_cash), touches from every domain
through growth.attribution_touches (billing adds the paywall starts it keeps on subscriptions),
acquisition facts from the core's subscribers, partners and counted referrals. Other domains
read the results through `growth.access.attribution`, never by importing billing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, g, has_app_context, has_request_context, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import attribution as rules
from billing.models import Subscription, SubscriptionSnapshot
from billing.reports import load_cash
from growth import acquisition_metrics as am
from growth import attribution_touches, reports
from growth.attribution_touches import PAYWALL_START, Touch
from growth.db import ids_in, utcnow
from growth.models import Subscriber
from growth.partner_models import Partner, PartnerSignup

MAX_IDS_PER_QUERY = 5000  # SQLite binds each id of an IN list as its own parameter
CSV_HEADER = ("by", "key", "label", "currency", "revenue_cents", "conversions")


def paywall_starts(session: Session, subscriber_ids: Collection[int] | None) -> list[Touch]:
    """The post that started each subscription's Checkout, at the subscription's first state."""
    first = (
        select(SubscriptionSnapshot.stripe_subscription_id, func.min(SubscriptionSnapshot.at).label("at"))
        .group_by(SubscriptionSnapshot.stripe_subscription_id)
        .subquery()
    )
    query = (
        select(Subscription.subscriber_id, Subscription.checkout_post_id, first.c.at, Subscription.state_at)
        .outerjoin(first, first.c.stripe_subscription_id == Subscription.stripe_subscription_id)
        .where(Subscription.checkout_post_id.is_not(None), Subscription.subscriber_id.is_not(None))
    )
    if subscriber_ids is not None:
        query = query.where(ids_in(Subscription.subscriber_id, list(subscriber_ids)))
    return [
        Touch(int(sid), at or state_at, PAYWALL_START, int(post_id))
        for sid, post_id, at, state_at in session.execute(query)
        if sid is not None and post_id is not None
    ]


def load_conversions(session: Session, now: dt.datetime) -> list[rules.Conversion]:
    """Every paying subscriber's conversion from their net-cash entries (billing.cash) up to now."""
    cash: dict[int, list[tuple[dt.datetime, str, int, str]]] = {}
    for entry in load_cash(session):
        kind, _, key = entry.customer.partition(":")
        if kind == "subscriber" and key.isdigit():
            cash.setdefault(int(key), []).append((entry.at, entry.currency, entry.cents, entry.kind))
    return rules.conversions_from_cash(cash, now)


def _base_host() -> str:
    if not has_app_context():
        return ""
    return urlsplit(current_app.config["MASTHEAD"].base_url).hostname or ""


def load_acquisitions(session: Session, subscriber_ids: Sequence[int]) -> dict[int, rules.Acquisition]:
    """The signup facts of these subscribers, classed as the acquisition report classes them."""
    if not subscriber_ids:
        return {}
    s = Subscriber
    rows = session.execute(
        select(s.id, s.created_at, s.source, s.utm_campaign, s.referrer_id, s.referrer_url).where(
            ids_in(s.id, list(subscriber_ids))
        )
    ).all()
    referred = reports.referred(session, [r.id for r in rows])
    partners = {
        sid: (code, price is not None)
        for sid, code, price in session.execute(
            select(PartnerSignup.subscriber_id, Partner.code, Partner.price_per_subscriber_cents)
            .join(Partner, Partner.id == PartnerSignup.partner_id)
            .where(ids_in(PartnerSignup.subscriber_id, list(subscriber_ids)))
        )
    }
    host = _base_host()
    out = {}
    for r in rows:
        partner, partner_paid = partners.get(r.id, ("", False))
        referrer = r.referrer_id if r.referrer_id is not None and r.id in referred else None
        their_host = urlsplit(r.referrer_url or "").hostname or ""
        signup = am.Signup(
            subscriber_id=r.id,
            signed_up_at=r.created_at,
            source=r.source or "",
            campaign=r.utm_campaign or "",
            referrer=str(referrer) if referrer is not None else "",
            partner=partner,
            partner_paid=partner_paid,
            other_site=bool(their_host) and their_host != host,
        )
        out[r.id] = rules.Acquisition(r.id, am.source_key(signup), am.campaign_of(signup), referrer)
    return out


def referral_chain(session: Session) -> dict[int, int]:
    """{subscriber: their referrer} of every counted referral (influence walks up it)."""
    pairs: dict[int, int | None] = {
        sid: ref
        for sid, ref in session.execute(
            select(Subscriber.id, Subscriber.referrer_id).where(Subscriber.referrer_id.is_not(None))
        )
    }
    ids = list(pairs)
    counted: set[int] = set()
    for i in range(0, len(ids), MAX_IDS_PER_QUERY):
        counted |= reports.referred(session, ids[i : i + MAX_IDS_PER_QUERY])
    return {sid: int(ref) for sid, ref in pairs.items() if sid in counted and ref is not None}


def compute(session: Session, now: dt.datetime) -> rules.Attribution:
    """Attribution of every conversion up to `now`."""
    conversions = load_conversions(session, now)
    ids = [c.subscriber_id for c in conversions]
    wanted = set(ids)
    # Past a few thousand payers one pass over every touch beats a statement naming them all.
    touches = attribution_touches.touches(session, ids if len(ids) <= MAX_IDS_PER_QUERY else None)
    acquisitions: dict[int, rules.Acquisition] = {}
    for i in range(0, len(ids), MAX_IDS_PER_QUERY):
        acquisitions.update(load_acquisitions(session, ids[i : i + MAX_IDS_PER_QUERY]))
    return rules.attribute(
        conversions,
        [t for t in touches if t.subscriber_id in wanted],
        acquisitions,
        referral_chain(session),
    )


def attribution(session: Session, now: dt.datetime) -> tuple[rules.Attribution, dt.datetime]:
    """The attribution up to `now` and the instant it was computed at, once per request.

    The desk, the posts report and each report page may all ask in one request: the first
    computation (all cash, every payer's touches) serves the rest of that request. Outside a
    request (the CLI, the worker's desk panels) it is computed fresh each time.
    """
    if not has_request_context():
        return compute(session, now), now
    this = request._get_current_object()  # type: ignore[attr-defined]
    memo = g.get("attribution_memo")
    # g outlives a request when an app context was pushed around it (tests, the shell)
    if memo is not None and memo[0] is this and memo[1] is session:
        return memo[2], memo[3]
    result = compute(session, now)
    g.attribution_memo = (this, session, result, now)
    return result, now


def _labels(session: Session, by: str, keys: Collection[str]) -> dict[str, str]:
    ids = [int(k) for k in keys if k.isdigit()]
    if by == "post":
        titles = attribution_touches.post_titles(session, ids)
        known = {str(i): t for i, t in titles.items()}
        return {k: known.get(k, f"post {k} (deleted)") if k.isdigit() else "no post" for k in keys}
    if by == "referrer":
        emails = {
            str(i): e
            for i, e in session.execute(
                select(Subscriber.id, Subscriber.email).where(ids_in(Subscriber.id, ids))
            )
        }
        return {k: emails.get(k, f"subscriber {k}") if k.isdigit() else "not referred" for k in keys}
    if by == "campaign":
        return {k: "no campaign" if k == rules.NO_CAMPAIGN else k for k in keys}
    return {k: k for k in keys}


def _credit_json(key: str, label: str, credit: rules.Credit) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "revenue_cents": dict(sorted(credit.revenue.items())),
        "conversions": credit.conversions,
    }


def report(session: Session, by: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """One view of the attribution as JSON: rows (most revenue first) summing to the total."""
    if by not in rules.VIEWS:
        raise ValueError(by)
    result, now = attribution(session, now or utcnow())
    credits = result.views[by]
    keys = list(credits)
    labels = _labels(session, by, keys)
    if by != "post" and rules.UNKNOWN in labels:
        labels[rules.UNKNOWN] = "unknown (signup facts gone)"
    rows = [_credit_json(k, labels[k], credits[k]) for k in keys]
    rows.sort(key=lambda r: (-sum(r["revenue_cents"].values()), -r["conversions"], r["key"]))
    out: dict[str, Any] = {
        "by": by,
        "at": now.isoformat(),
        "currencies": sorted(result.total.revenue),
        "rows": rows,
        "total_revenue_cents": dict(sorted(result.total.revenue.items())),
        "conversions": result.total.conversions,
        "rules": rules.RULES[by],
    }
    if by == "referrer":
        ids = [str(i) for i in result.influence]
        names = _labels(session, "referrer", ids)
        influence = [_credit_json(k, names[k], result.influence[int(k)]) for k in ids]
        influence.sort(key=lambda r: (-sum(r["revenue_cents"].values()), r["key"]))
        out["influence"] = {"label": rules.INFLUENCE_LABEL, "rows": influence}
    return out


def csv_rows(result: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One row per key and currency (a key without revenue: one row, currency empty)."""
    for row in result["rows"]:
        base = {
            "by": result["by"],
            "key": row["key"],
            "label": row["label"],
            "conversions": row["conversions"],
        }
        if not row["revenue_cents"]:
            yield {**base, "currency": None, "revenue_cents": 0}
        for currency, cents in row["revenue_cents"].items():
            yield {**base, "currency": currency, "revenue_cents": cents}


def post_figures(session: Session, post_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """{post_id: {paid_conversions, revenue: {currency: cents}, revenue_note}} from the post view."""
    credits = attribution(session, utcnow())[0].views["post"]
    out: dict[int, dict[str, Any]] = {}
    for post_id in post_ids:
        credit = credits.get(str(post_id))
        out[post_id] = {
            "paid_conversions": credit.conversions if credit else 0,
            "revenue": dict(sorted(credit.revenue.items())) if credit else {},
            "revenue_note": None,
        }
    return out
