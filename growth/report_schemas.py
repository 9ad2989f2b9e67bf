"""OpenAPI shapes of the funnel, cohort and growth reports (ordered series, explicit dates)."""

from __future__ import annotations

from typing import Any

from growth.openapi import spec

NUM_OR_NULL = {"type": ["number", "null"]}
INT = {"type": "integer"}
DATE_OR_NULL = {"type": ["string", "null"], "format": "date"}


def _obj(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


WINDOW = {
    "from": DATE_OR_NULL,
    "to": DATE_OR_NULL,
    "newsletter": {"type": ["integer", "null"], "description": "newsletter id filtered on"},
    "source": {"type": ["string", "null"]},
}

STEP = _obj(
    ["step", "count", "conversion", "median_days", "waiting", "share_waiting"],
    {
        "step": {"enum": ["signed_up", "confirmed", "engaged", "nurtured", "paid"]},
        "count": INT,
        "conversion": {**NUM_OR_NULL, "description": "count / the step before's count"},
        "median_days": {**NUM_OR_NULL, "description": "whole days from signup, among those who reached it"},
        "waiting": {
            "type": ["integer", "null"],
            "description": "reached the step before, not this, still a reader",
        },
        "share_waiting": NUM_OR_NULL,
    },
)

FUNNEL_BLOCK = {
    "signups": INT,
    "steps": {"type": "array", "items": STEP},
    "presumed_nurtured": {
        **INT,
        "description": "presumed nurtured (only machine opens: Apple Mail), not nurtured on human signals;"
        " apart from the nurtured step",
    },
    "paying_90": _obj(
        ["eligible", "count", "conversion"],
        {
            "eligible": {**INT, "description": "paid at least 90 days ago"},
            "count": {**INT, "description": "of them, still paying 90 days after first paying"},
            "conversion": NUM_OR_NULL,
        },
    ),
}

spec.schema(
    "FunnelReport",
    _obj(
        ["from", "to", "signups", "steps", "paying_90", "breakdowns"],
        {
            **WINDOW,
            **FUNNEL_BLOCK,
            "breakdowns": _obj(
                ["newsletter", "source", "campaign", "post"],
                {
                    name: {
                        "type": "array",
                        "items": _obj(
                            ["value", "signups", "steps", "paying_90"],
                            {"value": {"type": "string"}, **FUNNEL_BLOCK},
                        ),
                    }
                    for name in ("newsletter", "source", "campaign", "post")
                },
            ),
        },
    ),
)

REVENUE_CELL = _obj(
    ["currency", "revenue_cents", "revenue_per_subscriber_cents"],
    {
        "currency": {"type": "string"},
        "revenue_cents": INT,
        "revenue_per_subscriber_cents": {"type": "number"},
    },
)

spec.schema(
    "CohortReport",
    _obj(
        ["from", "to", "cohorts"],
        {
            **WINDOW,
            "cohorts": {
                "type": "array",
                "items": _obj(
                    ["cohort", "signups", "months"],
                    {
                        "cohort": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                        "signups": INT,
                        "months": {
                            "type": "array",
                            "items": _obj(
                                [
                                    "month",
                                    "starts",
                                    "complete",
                                    "active_engaged",
                                    "active_engaged_share",
                                    "paying",
                                    "paying_share",
                                    "revenue",
                                ],
                                {
                                    "month": {**INT, "description": "calendar months since the signup month"},
                                    "starts": {"type": "string", "format": "date"},
                                    "complete": {"type": "boolean"},
                                    "active_engaged": INT,
                                    "active_engaged_share": NUM_OR_NULL,
                                    "paying": INT,
                                    "paying_share": NUM_OR_NULL,
                                    "revenue": {"type": "array", "items": REVENUE_CELL},
                                },
                            ),
                        },
                    },
                ),
            },
        },
    ),
)

REACHABLE = _obj(
    ["at", "currencies"],
    {
        "at": {"type": "string", "format": "date-time"},
        "currencies": {
            "type": "array",
            "items": _obj(
                ["currency", "mrr_cents", "reachable_readers", "revenue_per_reachable_reader_cents"],
                {
                    "currency": {"type": "string"},
                    "mrr_cents": INT,
                    "reachable_readers": INT,
                    "revenue_per_reachable_reader_cents": NUM_OR_NULL,
                },
            ),
        },
    },
)
spec.schema("RevenuePerReachableReader", REACHABLE)

MOVEMENT_MONTH = _obj(
    ["month", "new_cents", "expansion_cents", "contraction_cents", "churned_cents", "reactivation_cents"],
    {
        "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
        "start_mrr_cents": INT,
        "end_mrr_cents": INT,
        "new_cents": INT,
        "expansion_cents": INT,
        "contraction_cents": INT,
        "churned_cents": INT,
        "reactivation_cents": INT,
        "net_new_mrr_cents": INT,
    },
)

spec.schema(
    "GrowthReport",
    _obj(
        ["from", "to", "days", "mrr_movements", "revenue_per_reachable_reader"],
        {
            **WINDOW,
            "days": {
                "type": "array",
                "items": _obj(
                    ["date", "signups", "confirmations", "unsubscribes", "net_growth"],
                    {
                        "date": {"type": "string", "format": "date"},
                        "signups": INT,
                        "confirmations": INT,
                        "unsubscribes": {**INT, "description": "readers who stopped receiving that day"},
                        "net_growth": {**INT, "description": "confirmations - unsubscribes"},
                    },
                ),
            },
            "mrr_movements": {
                "type": "array",
                "items": _obj(
                    ["currency", "months"],
                    {"currency": {"type": "string"}, "months": {"type": "array", "items": MOVEMENT_MONTH}},
                ),
            },
            "revenue_per_reachable_reader": {"$ref": "#/components/schemas/RevenuePerReachableReader"},
        },
    ),
)

spec.schema(
    "ValuePitchReport",
    _obj(
        ["from", "to", "hours", "rows"],
        {
            "from": DATE_OR_NULL,
            "to": DATE_OR_NULL,
            "hours": {
                **INT,
                "description": "a leave counts for the reader's latest email this many hours before it",
            },
            "rows": {
                "type": "array",
                "items": _obj(
                    ["kind", "pitches_before", "emails", "unsubscribes", "complaints"],
                    {
                        "kind": {"enum": ["value", "pitch"]},
                        "pitches_before": {
                            "enum": ["0", "1", "2+", "all"],
                            "description": "pitches the reader was sent before this email",
                        },
                        "emails": {**INT, "description": "emails sent whose 48 hours are over"},
                        "unsubscribes": INT,
                        "complaints": {**INT, "description": "spam complaints"},
                        "unsubscribe_rate": NUM_OR_NULL,
                        "complaint_rate": NUM_OR_NULL,
                    },
                ),
            },
        },
    ),
)
