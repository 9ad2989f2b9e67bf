"""The billing JSON API under /api/v1: tiers and the revenue report (operators only)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, jsonify, request

from billing import gateway, grants, offers, reports, retention, schemas, service, sponsorships
from billing.models import Offer, Tier
from billing.report_series import MOVEMENT_FIELDS
from growth import report_service
from growth.auth import current_operator
from growth.csvout import csv_response, wants_csv
from growth.db import commit, db, reports_session, utcnow
from growth.errors import InvalidRequest
from growth.fields import single_line
from growth.openapi import spec
from growth.schemas import json_body

bp = Blueprint("billing_api", __name__, url_prefix="/api/v1")

MAX_REPORT_DAYS = 366 * 5
LEDGER_LIMIT = 1000


def tier_json(tier: Tier) -> dict:
    """The API shape of a tier."""
    prices = {i: (p.stripe_price_id if (p := tier.current_price(i)) else None) for i in service.INTERVALS}
    return {
        "id": tier.id,
        "name": tier.name,
        "description": tier.description,
        "monthly_price_cents": tier.monthly_price_cents,
        "yearly_price_cents": tier.yearly_price_cents,
        "currency": tier.currency,
        "trial_days": tier.trial_days,
        "active": tier.active,
        "stripe_product_id": tier.stripe_product_id,
        "stripe_prices": prices,
        "synced": service.is_synced(tier),
        "retention_percent_off": tier.retention_percent_off,
        "retention_months": tier.retention_months,
        "stripe_retention_coupon_id": tier.stripe_retention_coupon_id,
    }


def _tier_input(data: dict) -> service.TierInput:
    retention_keys = ("retention_percent_off", "retention_months")
    fields = {k: v for k, v in data.items() if k not in retention_keys}
    given = any(k in data for k in retention_keys)
    return service.TierInput(
        **fields,
        retention=(data.get("retention_percent_off"), data.get("retention_months")) if given else None,
    )


@bp.get("/tiers")
@spec.operation("/api/v1/tiers", "get", summary="List tiers", response="TierList", tags=("billing",))
def list_tiers():  # type: ignore[no-untyped-def]
    """Every tier, cheapest first."""
    return jsonify({"tiers": [tier_json(t) for t in service.list_tiers(db.session)]})


@bp.post("/tiers")
@spec.operation(
    "/api/v1/tiers",
    "post",
    summary="Create a tier",
    request="TierCreate",
    response="Tier",
    status=201,
    errors=(400, 409, 422),
    tags=("billing",),
)
def create_tier():  # type: ignore[no-untyped-def]
    """A new tier; `flask sync-tiers` puts it at Stripe."""
    data = json_body(schemas.TIER_CREATE)
    tier = service.create_tier(db.session, _tier_input(data), utcnow())
    commit()
    return jsonify(tier_json(tier)), 201


@bp.get("/tiers/<id:tier_id>")
@spec.operation(
    "/api/v1/tiers/<id:tier_id>",
    "get",
    summary="One tier",
    response="Tier",
    errors=(404,),
    tags=("billing",),
)
def get_tier(tier_id: int):  # type: ignore[no-untyped-def]
    """One tier."""
    return jsonify(tier_json(service.get_tier(db.session, tier_id)))


@bp.patch("/tiers/<id:tier_id>")
@spec.operation(
    "/api/v1/tiers/<id:tier_id>",
    "patch",
    summary="Change a tier",
    request="TierUpdate",
    response="Tier",
    errors=(400, 404, 409, 422),
    tags=("billing",),
)
def update_tier(tier_id: int):  # type: ignore[no-untyped-def]
    """Change some fields of a tier."""
    data = json_body(schemas.TIER_UPDATE)
    tier = service.update_tier(db.session, service.get_tier(db.session, tier_id), _tier_input(data), utcnow())
    commit()
    return jsonify(tier_json(tier))


def _instant(name: str, default: dt.datetime) -> dt.datetime:
    raw = request.args.get(name)
    if not raw:
        return default
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidRequest(f"{name} must be an ISO date such as 2026-01-01", code="invalid_date") from exc
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@bp.get("/reports/revenue")
@spec.operation(
    "/api/v1/reports/revenue",
    "get",
    summary="MRR, ARR, movements, churn and the ledger",
    response="RevenueReport",
    parameters=[
        {
            "name": "from",
            "in": "query",
            "schema": {"type": "string", "format": "date"},
            "description": "default: start of the month 11 months ago",
        },
        {
            "name": "to",
            "in": "query",
            "schema": {"type": "string", "format": "date"},
            "description": "default: now; figures at a point in time are taken here",
        },
    ],
    tags=("billing", "reports"),
    csv="currency and month of MRR movements (with the currency's MRR, ARR and churn at `to`)",
)
def revenue():  # type: ignore[no-untyped-def]
    """Revenue over [from, to): money in integer cents per currency, rates as fractions."""
    now = utcnow()
    start = _instant("from", reports.default_start(now))
    end = _instant("to", now)
    if end <= start:
        raise InvalidRequest("`to` must be after `from`", code="invalid_range")
    if (end - start).days > MAX_REPORT_DAYS:
        raise InvalidRequest(f"the range may span at most {MAX_REPORT_DAYS} days", code="invalid_range")
    as_csv = wants_csv()
    window = current_app.config["MASTHEAD"].engaged_window_days
    read = reports_session()
    result = reports.revenue_report(read, start, end, window)
    if as_csv:
        return csv_response("revenue.csv", REVENUE_HEADER, revenue_rows(result))
    result["revenue_per_reachable_reader"] = report_service.revenue_per_reachable_reader(read, now, window)
    return jsonify(result)


CURRENCY_FIELDS = (
    "currency",
    "mrr_cents",
    "arr_cents",
    "paying_subscribers",
    "churn_rate",
    "sponsorship_cents",
    "refunds_cents",
    "disputes_cents",
    "gifts_cents",
    "net_cash_cents",
    "arppu_cents",
    "ltv_cents",
    "ltv_simple_cents",
)
CONVERSION_FIELDS = ("trial_to_paid_rate", "confirmed_to_paid_rate")
REVENUE_HEADER = (
    *CURRENCY_FIELDS,
    *CONVERSION_FIELDS,
    *MOVEMENT_FIELDS,
    "customer_churn_rate",
    "revenue_churn_rate",
)


def revenue_rows(result: dict):  # type: ignore[no-untyped-def]
    """One row per currency and month of movements; the currency's figures at `to` repeated."""
    for block in result["currencies"]:
        head = {k: block[k] for k in CURRENCY_FIELDS}
        head.update({k: block["conversion"][k] for k in CONVERSION_FIELDS})
        for month in block["movements"]:
            yield {**head, **month}


@bp.get("/reports/revenue/ledger")
@spec.operation(
    "/api/v1/reports/revenue/ledger",
    "get",
    summary="Paid invoices (the revenue ledger)",
    response="Ledger",
    parameters=[
        {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
    ],
    tags=("billing", "reports"),
    csv="invoice paid in the window (all of them: the CSV is not cut at 1000)",
)
def ledger():  # type: ignore[no-untyped-def]
    """Invoices paid in [from, to), oldest first: amount, tax, currency, period, subscriber."""
    now = utcnow()
    start = _instant("from", reports.default_start(now))
    end = _instant("to", now)
    if end <= start:
        raise InvalidRequest("`to` must be after `from`", code="invalid_range")
    read = reports_session()
    if wants_csv():
        rows = (reports.invoice_json(i) for i in reports.iter_ledger(read, start, end))
        return csv_response("ledger.csv", LEDGER_HEADER, rows)
    entries = reports.ledger_entries(read, start, end, limit=LEDGER_LIMIT + 1)
    return jsonify(
        {
            "invoices": [reports.invoice_json(i) for i in entries[:LEDGER_LIMIT]],
            "truncated": len(entries) > LEDGER_LIMIT,
        }
    )


LEDGER_HEADER = (
    "invoice_id",
    "subscriber_id",
    "customer_id",
    "subscription_id",
    "currency",
    "amount_paid_cents",
    "tax_cents",
    "net_cents",
    "period_start",
    "period_end",
    "paid_at",
)


@bp.post("/sponsorships/bookings/<id:booking_id>/bill")
@spec.operation(
    "/api/v1/sponsorships/bookings/<id:booking_id>/bill",
    "post",
    summary="Bill a sponsorship booking: a Stripe invoice or payment link (once per booking)",
    request="SponsorshipBillCreate",
    response="SponsorshipBill",
    status=201,
    errors=(400, 404, 409, 413, 422, 502, 503),
    tags=("billing", "sponsorships"),
)
def bill_booking(booking_id: int):  # type: ignore[no-untyped-def]
    """The booking's bill (the existing one when it was billed already); revenue is booked when paid."""
    data = json_body(schemas.BILL_CREATE)
    bill = sponsorships.create_bill(
        db.session,
        gateway.optional_gateway(),
        booking_id,
        data.get("method", "invoice"),
        utcnow(),
    )
    commit()
    return jsonify(
        {
            "booking_id": bill.booking_id,
            "method": bill.method,
            "status": bill.status,
            "amount_cents": bill.paid_cents
            if bill.status == "paid" and bill.paid_cents is not None
            else bill.amount_cents,
            "currency": bill.currency,
            "url": bill.url,
            "paid_at": bill.paid_at.isoformat() if bill.paid_at else None,
        }
    ), 201


@bp.post("/comps")
@spec.operation(
    "/api/v1/comps",
    "post",
    summary="Comp a subscriber a tier (a week to forever), without Stripe",
    request="CompCreate",
    response="Comp",
    status=201,
    errors=(400, 404, 409, 422),
    tags=("billing",),
)
def give_comp():  # type: ignore[no-untyped-def]
    """Open a tier's paywalls for `days` (null: forever); never counted as paying or in MRR.

    A retry, or a second comp of a tier the subscriber holds, gives the live comp the new end
    (`created` false) rather than a second comp.
    """
    data = json_body(schemas.COMP_CREATE)
    operator = current_operator()
    result = grants.give_comp(
        db.session,
        data["subscriber_id"],
        data["tier_id"],
        data["days"],
        utcnow(),
        operator.email if operator else None,
    )
    commit()
    grant = result.grant
    body = {
        "id": grant.id,
        "subscriber_id": grant.subscriber_id,
        "tier_id": grant.tier_id,
        "starts_at": grant.starts_at.isoformat(),
        "ends_at": grant.ends_at.isoformat() if grant.ends_at else None,
        "created": result.created,
    }
    return jsonify(body), 201


def _when(value: object, field: str) -> dt.datetime | None:
    """An ISO 8601 date-time with its timezone, in UTC; None when absent."""
    if value is None:
        return None
    try:
        if not isinstance(value, str) or not single_line(value):
            raise ValueError(value)
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequest(f"{field} must be an ISO 8601 date-time", code="invalid_field") from exc
    if parsed.tzinfo is None:
        raise InvalidRequest(f"{field} needs a timezone (e.g. Z or +00:00)", code="invalid_field")
    return parsed.astimezone(dt.UTC)


def offer_json(offer: Offer) -> dict:
    """The API shape of an offer."""

    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": offer.id,
        "code": offer.code,
        "name": offer.name,
        "tier_id": offer.tier_id,
        "interval": offer.interval,
        "kind": offer.kind,
        "percent_off": offer.percent_off,
        "amount_off_cents": offer.amount_off_cents,
        "duration": offer.duration,
        "duration_in_months": offer.duration_in_months,
        "trial_days": offer.trial_days,
        "starts_at": offer.starts_at.isoformat(),
        "ends_at": iso(offer.ends_at),
        "ended_at": iso(offer.ended_at),
        "max_redemptions": offer.max_redemptions,
        "redemptions": offers.redemptions(db.session, offer),
        "featured": offer.featured,
        "live": offers.why_not_live(db.session, offer, utcnow()) is None,
        "stripe_coupon_id": offer.stripe_coupon_id,
        "stripe_promotion_code_id": offer.stripe_promotion_code_id,
        "url": offers.offer_url(offer),
    }


@bp.get("/offers")
@spec.operation("/api/v1/offers", "get", summary="List offers", response="OfferList", tags=("billing",))
def list_offers():  # type: ignore[no-untyped-def]
    """Every offer, newest first, with its redemptions and signed link."""
    return jsonify({"offers": [offer_json(o) for o in offers.list_offers(db.session)]})


@bp.post("/offers")
@spec.operation(
    "/api/v1/offers",
    "post",
    summary="Create an offer (percent or amount off at Stripe, or a free trial)",
    request="OfferCreate",
    response="Offer",
    status=201,
    errors=(400, 404, 409, 422, 502),
    tags=("billing",),
)
def create_offer():  # type: ignore[no-untyped-def]
    """A new offer on one tier and interval; discounts become a Stripe coupon and promotion code."""
    data = json_body(schemas.OFFER_CREATE)
    fields = {k: v for k, v in data.items() if k not in ("starts_at", "ends_at")}
    offer_input = offers.OfferInput(
        **fields,
        starts_at=_when(data.get("starts_at"), "starts_at"),
        ends_at=_when(data.get("ends_at"), "ends_at"),
    )
    stripe_gateway = gateway.optional_gateway()
    offer = offers.create_offer(db.session, stripe_gateway, offer_input, utcnow())
    commit()
    return jsonify(offer_json(offer)), 201


@bp.post("/offers/<id:offer_id>/end")
@spec.operation(
    "/api/v1/offers/<id:offer_id>/end",
    "post",
    summary="End an offer now (its promotion code is deactivated)",
    response="Offer",
    errors=(404, 502),
    tags=("billing",),
)
def end_offer(offer_id: int):  # type: ignore[no-untyped-def]
    """End an offer; ending it twice changes nothing."""
    offer = offers.get_offer(db.session, offer_id)
    stripe_gateway = gateway.optional_gateway()
    offers.end_offer(db.session, stripe_gateway, offer, utcnow())
    commit()
    return jsonify(offer_json(offer))


@bp.get("/reports/cancellations")
@spec.operation(
    "/api/v1/reports/cancellations",
    "get",
    summary="Cancellations, their reasons, retention offers shown and taken, saves",
    response="CancellationReport",
    parameters=[
        {
            "name": "from",
            "in": "query",
            "schema": {"type": "string", "format": "date"},
            "description": "default: start of the month 11 months ago",
        },
        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
    ],
    tags=("billing", "reports"),
)
def cancellations():  # type: ignore[no-untyped-def]
    """The cancel flow over [from, to): reasons from Stripe's cancellation_details, saves."""
    now = utcnow()
    start = _instant("from", reports.default_start(now))
    end = _instant("to", now)
    if end <= start:
        raise InvalidRequest("`to` must be after `from`", code="invalid_range")
    if (end - start).days > MAX_REPORT_DAYS:
        raise InvalidRequest(f"the range may span at most {MAX_REPORT_DAYS} days", code="invalid_range")
    facts = retention.load_facts(reports_session(), start, end)
    return jsonify(retention.cancellation_report(facts, start, end))
