"""JSON Schemas of the sponsorship API (they validate requests and feed the OpenAPI document)."""

from __future__ import annotations

from content.sponsor_models import Pricing, Slot
from growth.openapi import spec

_FIGURE = {"type": "integer", "minimum": 0}

SPONSOR_CREATE = spec.schema(
    "SponsorCreate",
    {
        "type": "object",
        "required": ["name", "contact_email"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "contact_email": {"type": "string", "maxLength": 320},
            "website": {"type": "string", "maxLength": 500},
        },
    },
)
SPONSOR = spec.schema(
    "Sponsor",
    {
        "type": "object",
        "required": ["id", "name", "contact_email", "website"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "contact_email": {"type": "string"},
            "website": {"type": "string"},
        },
    },
)
SPONSOR_LIST = spec.schema(
    "SponsorList",
    {
        "type": "object",
        "required": ["sponsors"],
        "properties": {"sponsors": {"type": "array", "items": {"$ref": "#/components/schemas/Sponsor"}}},
    },
)
BOOKING_CREATE = spec.schema(
    "BookingCreate",
    {
        "type": "object",
        "required": ["sponsor_id", "run_on", "creative_markdown", "price_cents"],
        "additionalProperties": False,
        "properties": {
            "sponsor_id": {"type": "integer", "minimum": 1, "maximum": 2_147_483_647},
            "newsletter": {
                "type": "string",
                "maxLength": 200,
                "description": "slug; the default newsletter when absent",
            },
            "run_on": {
                "type": "string",
                "format": "date",
                "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                "description": "the day of the send, YYYY-MM-DD (UTC)",
            },
            "slot": {"enum": [s.value for s in Slot]},
            "creative_markdown": {"type": "string", "minLength": 1, "maxLength": 5000},
            "pricing": {"enum": [p.value for p in Pricing]},
            "price_cents": {
                "type": "integer",
                "minimum": 1,
                "maximum": 100_000_000,
                "description": "the flat price, the price per unique human click, or per thousand delivered",
            },
            "currency": {"type": "string", "pattern": "^[a-z]{3}$"},
        },
    },
)
_BOOKING_FIELDS = {
    "booking_id": {"type": "integer"},
    "sponsor": {"type": "string"},
    "newsletter": {"type": "string"},
    "run_on": {"type": "string", "format": "date"},
    "slot": {"enum": [s.value for s in Slot]},
    "pricing": {"enum": [p.value for p in Pricing]},
    "price_cents": {"type": "integer"},
    "currency": {"type": "string"},
    "sent": {"type": "boolean"},
    "delivered": _FIGURE,
    "human_opens": _FIGURE,
    "all_opens": _FIGURE,
    "human_clicks": {**_FIGURE, "description": "deliveries with a person's click on the sponsor's links"},
    "earned_cents": _FIGURE,
    "note": {"type": "string"},
}
BOOKING = spec.schema(
    "Booking",
    {
        "type": "object",
        "required": [*_BOOKING_FIELDS, "report_url", "bill"],
        "properties": {
            **_BOOKING_FIELDS,
            "report_url": {
                "type": "string",
                "description": "signed: the sponsor opens it without an account",
            },
            "bill": {
                "type": ["object", "null"],
                "properties": {
                    "method": {"enum": ["invoice", "payment_link"]},
                    "status": {"enum": ["open", "paid"]},
                    "amount_cents": {"type": "integer"},
                    "currency": {"type": "string"},
                    "url": {"type": ["string", "null"]},
                    "paid_at": {"type": ["string", "null"], "format": "date-time"},
                },
            },
        },
    },
)
BOOKING_LIST = spec.schema(
    "BookingList",
    {
        "type": "object",
        "required": ["bookings"],
        "properties": {"bookings": {"type": "array", "items": {"$ref": "#/components/schemas/Booking"}}},
    },
)
CALENDAR = spec.schema(
    "SponsorCalendar",
    {
        "type": "object",
        "required": ["newsletter", "days"],
        "properties": {
            "newsletter": {"type": "string"},
            "slots_per_send": {"type": "integer"},
            "days": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["date", "slots"],
                    "properties": {
                        "date": {"type": "string", "format": "date"},
                        "slots": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["slot", "state"],
                                "properties": {
                                    "slot": {"enum": [s.value for s in Slot]},
                                    "state": {"enum": ["free", "booked", "full"]},
                                    "booking_id": {"type": "integer"},
                                    "sponsor": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
)
SPONSOR_REPORT_ROW = {
    "type": "object",
    "required": [*_BOOKING_FIELDS, "bill_status", "paid_cents"],
    "properties": {
        **_BOOKING_FIELDS,
        "bill_status": {"enum": ["none", "open", "paid"]},
        "paid_cents": _FIGURE,
        "paid_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
SPONSORS_REPORT = spec.schema(
    "SponsorsReport",
    {
        "type": "object",
        "required": ["sponsors", "bookings"],
        "properties": {
            "sponsors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["sponsor", "bookings", "currencies"],
                    "properties": {
                        "sponsor": {"type": "string"},
                        "bookings": _FIGURE,
                        "currencies": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["currency", "earned_cents", "paid_cents"],
                                "properties": {
                                    "currency": {"type": "string"},
                                    "earned_cents": _FIGURE,
                                    "paid_cents": _FIGURE,
                                },
                            },
                        },
                    },
                },
            },
            "bookings": {"type": "array", "items": SPONSOR_REPORT_ROW},
        },
    },
)
