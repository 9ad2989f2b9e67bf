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
}

REVENUE_REPORT = spec.schema(
    "RevenueReport",
    {
        "type": "object",
        "required": [*_REVENUE_FIELDS, "currencies"],
        "properties": {
            "from": {"type": "string", "format": "date-time"},
            "to": {"type": "string", "format": "date-time"},
            **_REVENUE_FIELDS,
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
