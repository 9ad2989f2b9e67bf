"""JSON Schemas of the billing API; they validate requests and feed the OpenAPI document."""

from __future__ import annotations

from billing.service import TIER_RULES
from growth.openapi import spec

_CENTS = {"type": "integer", "minimum": 1, "maximum": 99_999_999}

TIER_FIELDS = {
    "name": TIER_RULES["name"].schema(),
    "description": TIER_RULES["description"].schema(),
    "monthly_price_cents": _CENTS,
    "yearly_price_cents": _CENTS,
    "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$", "maxLength": 3},
    "trial_days": {"type": "integer", "minimum": 0, "maximum": 730},
    "active": {"type": "boolean"},
    "retention_percent_off": {
        "type": ["integer", "null"],
        "minimum": 1,
        "maximum": 100,
        "description": "the cancel flow's retention coupon (with retention_months); null: none",
    },
    "retention_months": {"type": ["integer", "null"], "minimum": 1, "maximum": 12},
}

TIER_CREATE = spec.schema(
    "TierCreate",
    {
        "type": "object",
        "required": ["name", "monthly_price_cents", "yearly_price_cents", "currency"],
        "additionalProperties": False,
        "properties": TIER_FIELDS,
    },
)

TIER_UPDATE = spec.schema(
    "TierUpdate",
    {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": TIER_FIELDS,
    },
)

TIER = spec.schema(
    "Tier",
    {
        "type": "object",
        "required": [
            "id",
            "name",
            "monthly_price_cents",
            "yearly_price_cents",
            "currency",
            "trial_days",
            "active",
        ],
        "properties": {
            **TIER_FIELDS,
            "id": {"type": "integer"},
            "stripe_product_id": {"type": ["string", "null"]},
            "stripe_prices": {"type": "object"},
            "synced": {"type": "boolean"},
        },
    },
)

TIER_LIST = spec.schema(
    "TierList",
    {
        "type": "object",
        "required": ["tiers"],
        "properties": {"tiers": {"type": "array", "items": {"$ref": "#/components/schemas/Tier"}}},
    },
)

_REVENUE_FIELDS = {
    "currency": {"type": ["string", "null"]},
    "mrr_cents": {"type": "integer"},
    "arr_cents": {"type": "integer"},
    "at_risk_mrr_cents": {"type": "integer"},
    "scheduled_churn_mrr_cents": {"type": "integer"},
    "unpriced_discount_mrr_cents": {
        "type": "integer",
        "description": "part of mrr_cents counted at full price: its discounts' coupons are not known yet",
    },
    "paying_subscribers": {"type": "integer"},
    "churn_rate": {"type": ["number", "null"], "description": "fraction, not percent"},
    "revenue_churn_rate": {"type": ["number", "null"]},
    "movements": {"type": "array", "items": {"type": "object"}},
    "ledger": {"type": "object"},
    "sponsorship_cents": {
        "type": "integer",
        "minimum": 0,
        "description": "sponsorships paid in the window (booked when Stripe says paid); never part of MRR",
    },
    "refunds_cents": {
        "type": "integer",
        "description": "refunded in the window, on the day each refund happened; never changes MRR",
    },
    "disputes_cents": {
        "type": "integer",
        "description": "disputed funds withdrawn in the window less those reinstated (won); never MRR",
    },
    "gifts_cents": {"type": "integer", "description": "gifts paid in the window (one-time payments)"},
    "net_cash_cents": {
        "type": "integer",
        "description": "invoices net of tax + gifts - refunds - disputes, dated in the window",
    },
    "arppu_cents": {
        "type": ["integer", "null"],
        "description": "MRR / paying subscribers at `to`; a trial counts zero until its first paid invoice",
    },
    "monthly_churn_rate": {
        "type": ["number", "null"],
        "description": "customer churn per calendar month of the window, pooled (the simple LTV's churn)",
    },
    "ltv_cents": {
        "type": ["integer", "null"],
        "description": "cohort LTV at the horizon (see `ltv`); null when no curve can be extended",
    },
    "ltv_simple_cents": {"type": ["integer", "null"], "description": "arppu_cents / monthly_churn_rate"},
    "ltv_simple_assumptions": {"type": "string"},
    "ltv": {
        "type": "object",
        "required": ["ltv_cents", "low_cents", "high_cents", "horizon_months", "method", "cohorts", "ratios"],
        "properties": {
            "ltv_cents": {"type": ["integer", "null"]},
            "low_cents": {"type": ["integer", "null"], "description": "with the smallest ratios"},
            "high_cents": {"type": ["integer", "null"], "description": "with the largest ratios"},
            "horizon_months": {"type": "integer"},
            "method": {"type": "string"},
            "note": {"type": ["string", "null"]},
            "too_young": {"type": "array", "items": {"type": "string"}},
            "cohorts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "month": {"type": "string"},
                        "subscribers": {"type": "integer"},
                        "observed_cents": {"type": "array", "items": {"type": "integer"}},
                        "projected_cents": {"type": ["array", "null"], "items": {"type": "integer"}},
                        "projected_low_cents": {"type": ["array", "null"], "items": {"type": "integer"}},
                        "projected_high_cents": {"type": ["array", "null"], "items": {"type": "integer"}},
                        "ltv_cents": {"type": ["integer", "null"]},
                    },
                },
            },
            "ratios": {"type": "array", "items": {"type": "object"}},
        },
    },
    "conversion": {
        "type": "object",
        "required": ["trial_to_paid_rate", "confirmed_to_paid_rate"],
        "properties": {
            "trials_started": {"type": "integer"},
            "trials_paid": {"type": "integer"},
            "trial_to_paid_rate": {"type": ["number", "null"]},
            "confirmed": {"type": "integer", "description": "subscribers confirmed in the window"},
            "confirmed_paid": {"type": "integer"},
            "confirmed_to_paid_rate": {"type": ["number", "null"]},
            "confirmed_subscribers_at_end": {"type": "integer"},
            "revenue_per_confirmed_subscriber_cents": {"type": ["number", "null"]},
            "reachable_readers": {"type": "integer"},
            "revenue_per_reachable_reader_cents": {"type": ["number", "null"]},
        },
    },
}

REVENUE_REPORT = spec.schema(
    "RevenueReport",
    {
        "type": "object",
        "required": [*_REVENUE_FIELDS, "currencies", "comps", "gifts"],
        "properties": {
            "from": {"type": "string", "format": "date-time"},
            "to": {"type": "string", "format": "date-time"},
            **_REVENUE_FIELDS,
            "comps": {
                "type": "object",
                "required": ["count"],
                "description": "readers given a tier without paying, at `to` (never in MRR)",
                "properties": {"count": {"type": "integer"}},
            },
            "gifts": {
                "type": "object",
                "required": ["count", "revenue_cents"],
                "description": "gifts paid in the window: one-time payments, never MRR nor the ledger",
                "properties": {
                    "count": {"type": "integer"},
                    "revenue_cents": {"type": "object", "additionalProperties": {"type": "integer"}},
                },
            },
            "revenue_per_reachable_reader": {"$ref": "#/components/schemas/RevenuePerReachableReader"},
            "currencies": {
                "type": "array",
                "items": {"type": "object", "properties": _REVENUE_FIELDS},
            },
        },
    },
)

LEDGER = spec.schema(
    "Ledger",
    {
        "type": "object",
        "required": ["invoices", "truncated"],
        "properties": {
            "invoices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "invoice_id",
                        "currency",
                        "amount_paid_cents",
                        "tax_cents",
                        "paid_at",
                    ],
                    "properties": {
                        "invoice_id": {"type": "string"},
                        "subscriber_id": {"type": ["integer", "null"]},
                        "customer_id": {"type": "string"},
                        "subscription_id": {"type": ["string", "null"]},
                        "currency": {"type": "string"},
                        "amount_paid_cents": {"type": "integer"},
                        "tax_cents": {"type": "integer"},
                        "net_cents": {"type": "integer"},
                        "period_start": {"type": ["string", "null"], "format": "date-time"},
                        "period_end": {"type": ["string", "null"], "format": "date-time"},
                        "paid_at": {"type": "string", "format": "date-time"},
                    },
                },
            },
            "truncated": {"type": "boolean"},
        },
    },
)

BILL_CREATE = spec.schema(
    "SponsorshipBillCreate",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {"method": {"enum": ["invoice", "payment_link"], "description": "invoice (default)"}},
    },
)
BILL = spec.schema(
    "SponsorshipBill",
    {
        "type": "object",
        "required": ["booking_id", "method", "status", "amount_cents", "currency", "url", "paid_at"],
        "properties": {
            "booking_id": {"type": "integer"},
            "method": {"enum": ["invoice", "payment_link"]},
            "status": {"enum": ["open", "paid"]},
            "amount_cents": {"type": "integer"},
            "currency": {"type": "string"},
            "url": {"type": ["string", "null"], "description": "the hosted invoice or the payment link"},
            "paid_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
)

COMP_CREATE = spec.schema(
    "CompCreate",
    {
        "type": "object",
        "required": ["subscriber_id", "tier_id", "days"],
        "additionalProperties": False,
        "properties": {
            "subscriber_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
            "tier_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
            "days": {
                "type": ["integer", "null"],
                "minimum": 7,
                "maximum": 36_600,
                "description": "how long, from a week; null: forever",
            },
        },
    },
)

COMP = spec.schema(
    "Comp",
    {
        "type": "object",
        "required": ["id", "subscriber_id", "tier_id", "starts_at", "ends_at", "created"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "subscriber_id": {"type": "integer"},
            "tier_id": {"type": "integer"},
            "starts_at": {"type": "string", "format": "date-time"},
            "ends_at": {"type": ["string", "null"], "format": "date-time", "description": "null: forever"},
            "created": {
                "type": "boolean",
                "description": "false: the subscriber's live comp of this tier was given the new end",
            },
        },
    },
)

_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}

OFFER_CREATE = spec.schema(
    "OfferCreate",
    {
        "type": "object",
        "required": ["code", "name", "tier_id", "interval", "kind"],
        "additionalProperties": False,
        "properties": {
            "code": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{2,39}$"},
            "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[^\\u0000-\\u001f]+$"},
            "tier_id": _ID,
            "interval": {"enum": ["month", "year"]},
            "kind": {"enum": ["percent", "amount", "trial"]},
            "percent_off": {"type": "integer", "minimum": 1, "maximum": 100},
            "amount_off_cents": {"type": "integer", "minimum": 1, "maximum": 99_999_999},
            "duration": {"enum": ["once", "repeating", "forever"]},
            "duration_in_months": {"type": "integer", "minimum": 1, "maximum": 36},
            "trial_days": {"type": "integer", "minimum": 1, "maximum": 730},
            "starts_at": {"type": "string", "format": "date-time"},
            "ends_at": {"type": ["string", "null"], "format": "date-time"},
            "max_redemptions": {"type": ["integer", "null"], "minimum": 1, "maximum": 10_000_000},
            "featured": {"type": "boolean", "description": "shown on /pricing to everyone while live"},
        },
    },
)

OFFER = spec.schema(
    "Offer",
    {
        "type": "object",
        "required": ["id", "code", "name", "tier_id", "interval", "kind", "live", "redemptions", "url"],
        "properties": {
            "id": {"type": "integer"},
            "code": {"type": "string"},
            "name": {"type": "string"},
            "tier_id": {"type": "integer"},
            "interval": {"type": "string"},
            "kind": {"type": "string"},
            "percent_off": {"type": ["integer", "null"]},
            "amount_off_cents": {"type": ["integer", "null"]},
            "duration": {"type": ["string", "null"]},
            "duration_in_months": {"type": ["integer", "null"]},
            "trial_days": {"type": ["integer", "null"]},
            "starts_at": {"type": "string", "format": "date-time"},
            "ends_at": {"type": ["string", "null"], "format": "date-time"},
            "ended_at": {"type": ["string", "null"], "format": "date-time"},
            "max_redemptions": {"type": ["integer", "null"]},
            "redemptions": {"type": "integer", "description": "completed Checkouts under the offer"},
            "featured": {"type": "boolean"},
            "live": {"type": "boolean"},
            "stripe_coupon_id": {"type": ["string", "null"]},
            "stripe_promotion_code_id": {"type": ["string", "null"]},
            "url": {"type": "string", "description": "the signed link to the offer on /pricing"},
        },
    },
)

OFFER_LIST = spec.schema(
    "OfferList",
    {
        "type": "object",
        "required": ["offers"],
        "properties": {"offers": {"type": "array", "items": {"$ref": "#/components/schemas/Offer"}}},
    },
)

_RATE = {"type": ["number", "null"], "description": "fraction, not percent; null without a base"}

CANCELLATION_REPORT = spec.schema(
    "CancellationReport",
    {
        "type": "object",
        "required": [
            "from",
            "to",
            "cancel_requests",
            "reasons",
            "retention",
            "saves",
            "churned",
            "save_rate",
        ],
        "properties": {
            "from": {"type": "string", "format": "date-time"},
            "to": {"type": "string", "format": "date-time"},
            "cancel_requests": {"type": "integer"},
            "reasons": {
                "type": "object",
                "description": "Stripe's cancellation_details.feedback per request (`none`: not given)",
                "additionalProperties": {"type": "integer"},
            },
            "retention": {
                "type": "object",
                "required": ["offered", "accepted", "acceptance_rate"],
                "properties": {
                    "offered": {"type": "integer"},
                    "accepted": {"type": "integer"},
                    "acceptance_rate": _RATE,
                },
            },
            "saves": {
                "type": "object",
                "required": ["total", "retention_accepted", "reactivated", "payment_recovered"],
                "properties": {
                    "total": {"type": "integer"},
                    "retention_accepted": {"type": "integer"},
                    "reactivated": {"type": "integer", "description": "scheduled cancellations undone"},
                    "payment_recovered": {"type": "integer", "description": "failed payments that recovered"},
                },
            },
            "churned": {"type": "integer"},
            "save_rate": _RATE,
        },
    },
)

_CENTS_BY_CURRENCY = {"type": "object", "additionalProperties": {"type": "integer"}}
_ATTRIBUTION_ROW = {
    "type": "object",
    "required": ["key", "label", "revenue_cents", "conversions"],
    "properties": {
        "key": {"type": "string", "description": "a post, subscriber or the value itself; `none`: not any"},
        "label": {"type": "string"},
        "revenue_cents": {**_CENTS_BY_CURRENCY, "description": "net cash per currency"},
        "conversions": {"type": "integer"},
    },
}

ATTRIBUTION_REPORT = spec.schema(
    "AttributionReport",
    {
        "type": "object",
        "required": ["by", "at", "currencies", "rows", "total_revenue_cents", "conversions", "rules"],
        "properties": {
            "by": {"enum": ["post", "source", "campaign", "referrer"]},
            "at": {"type": "string", "format": "date-time"},
            "currencies": {"type": "array", "items": {"type": "string"}},
            "rows": {
                "type": "array",
                "items": _ATTRIBUTION_ROW,
                "description": "each conversion in exactly one row: per currency they sum to the total",
            },
            "total_revenue_cents": _CENTS_BY_CURRENCY,
            "conversions": {"type": "integer"},
            "rules": {"type": "string", "description": "the rule of this view, in one sentence"},
            "influence": {
                "type": "object",
                "description": "by=referrer only: revenue of everyone below each referrer in the "
                "referral chain; a payment counts for every referrer above it (not additive)",
                "required": ["label", "rows"],
                "properties": {
                    "label": {"const": "influence, not additive"},
                    "rows": {"type": "array", "items": _ATTRIBUTION_ROW},
                },
            },
        },
    },
)
