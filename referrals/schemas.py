"""JSON Schemas of the referral API; they validate requests and feed the OpenAPI document."""

from __future__ import annotations

from typing import Any

from growth.openapi import spec
from referrals.ladders import MAX_SHARE, NAME_RULE
from referrals.service import MAX_COST_CENTS, MAX_REFERRALS_REQUIRED, MILESTONE_RULES

NUM = {"type": ["number", "null"]}
INT_OR_NULL = {"type": ["integer", "null"]}


def _obj(required: list[str], properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, **extra}


REFERRAL = spec.schema(
    "Referral",
    _obj(
        ["id", "referrer_id", "referred_id", "status", "reason", "created_at", "confirmed_at"],
        {
            "id": {"type": "integer"},
            "referrer_id": {"type": "integer"},
            "referred_id": {"type": "integer"},
            "status": {"enum": ["pending", "held", "counted", "rejected"]},
            "reason": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "confirmed_at": {"type": ["string", "null"], "format": "date-time"},
            "hold_until": {"type": ["string", "null"], "format": "date-time"},
            "decided_by": {"type": ["string", "null"]},
        },
    ),
)

REFERRAL_LIST = spec.schema(
    "ReferralList",
    _obj(
        ["referrals"],
        {"referrals": {"type": "array", "items": {"$ref": "#/components/schemas/Referral"}}},
    ),
)

_RING_MEMBER = _obj(
    ["subscriber_id", "email", "referral_id", "status", "confirmed_at"],
    {
        "subscriber_id": {"type": "integer"},
        "email": {"type": "string"},
        "referral_id": {"type": "integer"},
        "status": {"enum": ["pending", "held", "counted", "rejected"]},
        "confirmed_at": {"type": ["string", "null"], "format": "date-time"},
    },
)
RING_LIST = spec.schema(
    "ReferralRingList",
    _obj(
        ["days", "ring_min", "action", "rings"],
        {
            "days": {"type": "integer"},
            "ring_min": {"type": "integer", "description": "REFERRAL_RING_MIN"},
            "action": {"enum": ["flag", "hold"], "description": "REFERRAL_RING_ACTION"},
            "rings": {
                "type": "array",
                "items": _obj(
                    [
                        "referrer_id",
                        "referrer_email",
                        "size",
                        "held",
                        "counted",
                        "evidence",
                        "signals",
                        "signal_labels",
                        "members",
                    ],
                    {
                        "referrer_id": {"type": "integer"},
                        "referrer_email": {"type": "string"},
                        "size": {"type": "integer"},
                        "held": {"type": "integer"},
                        "counted": {"type": "integer"},
                        "evidence": {
                            "type": "object",
                            "properties": {
                                k: {"type": "integer"} for k in ("network", "agent", "address", "burst")
                            },
                            "description": "per signal kind, the most members sharing one value of it "
                            "(network: signup or confirmation network, an IPv6 /64 as one; agent: user "
                            "agent; address: the address with digits and separators dropped; burst: "
                            "confirmed minutes apart under the referrer)",
                        },
                        "signals": {"type": "array", "items": {"type": "string"}},
                        "signal_labels": {"type": "array", "items": {"type": "string"}},
                        "members": {"type": "array", "items": _RING_MEMBER},
                    },
                ),
            },
        },
        description="two accounts are tied only when they share at least two independent signals",
    ),
)

GRAPH = spec.schema(
    "ReferralGraph",
    _obj(
        ["directed", "multigraph", "graph", "nodes", "edges"],
        {
            "directed": {"const": True},
            "multigraph": {"const": False},
            "graph": {"type": "object"},
            "nodes": {
                "type": "array",
                "items": _obj(
                    ["id", "confirmed", "source", "status", "stage", "paying", "downstream"],
                    {
                        "id": {"type": "integer", "description": "subscriber id"},
                        "confirmed": {"type": "string", "description": "confirmation date, '' if none"},
                        "source": {"type": "string", "description": "'' if none"},
                        "status": {"type": "string"},
                        "stage": {"type": "string"},
                        "paying": {"type": "boolean"},
                        "downstream": {"type": "integer", "description": "counted readers below"},
                        "email": {"type": "string", "description": "admins with emails=true only"},
                    },
                    additionalProperties={
                        "type": "integer",
                        "description": "revenue_<currency>: paid cents (admins only; 0 if none)",
                    },
                ),
            },
            "edges": {
                "type": "array",
                "items": _obj(
                    ["source", "target"],
                    {"source": {"type": "integer"}, "target": {"type": "integer"}},
                    description="referrer -> referred",
                ),
            },
        },
        description="format=json; format=graphml answers the same graph as application/graphml+xml "
        "(node attributes as GraphML keys of the same names)",
    ),
)

MILESTONE = spec.schema(
    "Milestone",
    _obj(
        [
            "id",
            "referrals_required",
            "reward_name",
            "description",
            "fulfilment_note",
            "active",
            "readers_past",
            "variant_id",
            "cost_cents",
            "currency",
        ],
        {
            "id": {"type": "integer"},
            "variant_id": {**INT_OR_NULL, "description": "its ladder variant; null: the default ladder"},
            "cost_cents": {"type": "integer", "minimum": 0, "description": "what one grant of it costs"},
            "currency": {"type": "string", "pattern": "^[a-z]{3}$"},
            "referrals_required": {"type": "integer", "minimum": 1},
            "reward_name": {"type": "string"},
            "description": {"type": "string"},
            "fulfilment_note": {"type": "string"},
            "active": {"type": "boolean"},
            "readers_past": {
                "type": "integer",
                "description": "readers at or past it who have not been granted it",
            },
            "grant_existing": {
                "type": "boolean",
                "description": "after a create or update: whether those readers are being granted it",
            },
        },
    ),
)

MILESTONE_GRANT_EXISTING = spec.schema(
    "MilestoneGrantExisting",
    _obj(
        ["milestone_id", "readers_past"],
        {
            "milestone_id": {"type": "integer"},
            "readers_past": {
                "type": "integer",
                "description": "readers past it without it, now being granted it (once each, with the email)",
            },
        },
    ),
)

MILESTONE_LIST = spec.schema(
    "MilestoneList",
    _obj(
        ["milestones"],
        {"milestones": {"type": "array", "items": {"$ref": "#/components/schemas/Milestone"}}},
    ),
)

_MILESTONE_FIELDS = {
    "referrals_required": {"type": "integer", "minimum": 1, "maximum": MAX_REFERRALS_REQUIRED},
    "reward_name": MILESTONE_RULES["reward_name"].schema(minLength=1),
    "description": MILESTONE_RULES["description"].schema(),
    "fulfilment_note": MILESTONE_RULES["fulfilment_note"].schema(),
    "active": {"type": "boolean"},
    "variant_id": {
        **INT_OR_NULL,
        "minimum": 1,
        "description": "on create: the ladder variant it belongs to (null or absent: the default "
        "ladder); a milestone stays on its ladder",
    },
    "cost_cents": {"type": "integer", "minimum": 0, "maximum": MAX_COST_CENTS},
    "currency": {"type": "string", "pattern": "^[a-zA-Z]{3}$", "description": "one per ladder"},
    "grant_existing": {
        "type": "boolean",
        "description": "grant it now to readers already past it (once each, with the email); "
        "false or absent: only readers who pass it from now on",
    },
}

MILESTONE_CREATE = spec.schema(
    "MilestoneCreate",
    _obj(["referrals_required", "reward_name"], _MILESTONE_FIELDS, additionalProperties=False),
)
MILESTONE_UPDATE = spec.schema("MilestoneUpdate", _obj([], _MILESTONE_FIELDS, additionalProperties=False))

_LADDER_FIELDS = {
    "name": NAME_RULE.schema(minLength=1),
    "share": {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_SHARE,
        "description": "weight among new readers; a change never reassigns anyone",
    },
    "active": {"type": "boolean", "description": "inactive: no new readers, those assigned keep it"},
}

LADDER = spec.schema(
    "Ladder",
    _obj(
        ["id", "name", "share", "active", "created_at", "assigned", "milestones"],
        {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "share": {"type": "integer", "minimum": 1},
            "active": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
            "assigned": {"type": "integer", "description": "readers assigned to it"},
            "milestones": {"type": "array", "items": {"$ref": "#/components/schemas/Milestone"}},
        },
    ),
)

LADDER_LIST = spec.schema(
    "LadderList",
    _obj(
        ["ladders", "default_milestones"],
        {
            "ladders": {"type": "array", "items": {"$ref": "#/components/schemas/Ladder"}},
            "default_milestones": {
                "type": "array",
                "description": "the default ladder: readers without a variant",
                "items": {"$ref": "#/components/schemas/Milestone"},
            },
        },
    ),
)

LADDER_CREATE = spec.schema(
    "LadderCreate", _obj(["name", "share"], _LADDER_FIELDS, additionalProperties=False)
)
LADDER_UPDATE = spec.schema("LadderUpdate", _obj([], _LADDER_FIELDS, additionalProperties=False))

GRANT = spec.schema(
    "RewardGrant",
    _obj(
        ["id", "subscriber_id", "email", "milestone_id", "reward_name", "status", "granted_at"],
        {
            "id": {"type": "integer"},
            "subscriber_id": {"type": "integer"},
            "email": {"type": "string"},
            "name": {"type": ["string", "null"]},
            "milestone_id": {"type": "integer"},
            "reward_name": {"type": "string"},
            "fulfilment_note": {"type": "string"},
            "status": {"enum": ["granted", "fulfilled", "flagged"]},
            "flag_reason": {"type": ["string", "null"]},
            "granted_at": {"type": "string", "format": "date-time"},
            "fulfilled_at": {"type": ["string", "null"], "format": "date-time"},
        },
    ),
)

GRANT_LIST = spec.schema(
    "RewardGrantList",
    _obj(
        ["grants"],
        {"grants": {"type": "array", "items": {"$ref": "#/components/schemas/RewardGrant"}}},
    ),
)

_TOP_ROW = _obj(
    ["subscriber_id", "direct", "downstream", "revenue_credited", "downstream_revenue"],
    {
        "subscriber_id": {"type": "integer"},
        "direct": {"type": "integer"},
        "downstream": {"type": "integer"},
        "revenue_credited": {
            "type": ["object", "null"],
            "additionalProperties": {"type": "integer"},
            "description": "net cents per currency of the paid conversions they referred directly "
            "(the attribution's referrer view: additive); null without billing, before any paid "
            "conversion, or for non-admins",
        },
        "downstream_revenue": {
            "type": ["object", "null"],
            "additionalProperties": {"type": "integer"},
            "description": "net cents per currency of the paid conversions of every reader below "
            "them (the attribution's influence, not additive); null as revenue_credited",
        },
    },
)

_PLACEMENT_ROW = _obj(
    [
        "placement",
        "views",
        "share_clicks",
        "visits",
        "counted_referrals",
        "click_through_rate",
        "referrals_per_1000_views",
    ],
    {
        "placement": {"enum": ["post_end", "confirmed", "poll", "welcome", "all"]},
        "views": {"type": "integer", "description": "the ask seen, once per reader, placement, post and day"},
        "share_clicks": {
            "type": "integer",
            "description": "share buttons pressed, once per reader, button and day",
        },
        "visits": {"type": "integer", "description": "counted visits of links shared from the placement"},
        "counted_referrals": {
            "type": "integer",
            "description": "counted referrals whose link came through it",
        },
        "click_through_rate": {**NUM, "description": "share clicks / views; null without views"},
        "referrals_per_1000_views": {
            **NUM,
            "description": "1000 x counted referrals / views; null without views",
        },
    },
)

_INTERVAL = _obj(
    ["value", "low", "high"],
    {"value": NUM, "low": NUM, "high": NUM},
    description="a figure with its 95% interval; null with nothing under it, bounds null below two readers",
)

_LADDER_ROW = _obj(
    [
        "id",
        "name",
        "share",
        "active",
        "assigned",
        "judged",
        "waiting",
        "currency",
        "engaged_referrer_share",
        "quality_k",
        "cost_per_referral_cents",
    ],
    {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "share": {"type": "integer", "description": "the variant's weight among new readers"},
        "active": {"type": "boolean"},
        "assigned": {"type": "integer", "description": "readers ever assigned to it"},
        "judged": {"type": "integer", "description": "readers assigned at least horizon_days ago"},
        "waiting": {"type": "integer", "description": "readers assigned more recently: not judged yet"},
        "currency": {"type": ["string", "null"], "description": "of the variant's reward costs"},
        "engaged_referrer_share": {
            **_INTERVAL,
            "description": "judged readers with at least one counted referral (within the horizon of "
            "their assignment) whose referred reader is still engaged; Wilson interval",
        },
        "quality_k": {
            **_INTERVAL,
            "description": "counted referrals still engaged per judged reader; mean ± 1.96·sd/√n",
        },
        "cost_per_referral_cents": {
            **_INTERVAL,
            "description": "reward cost granted / counted referrals of the judged readers, in cents; "
            "delta-method interval of a ratio",
        },
    },
)

_VIRALITY = _obj(
    ["min_size", "cascades", "mean", "median", "bands", "viral_share", "most_viral"],
    {
        "min_size": {"type": "integer", "description": "virality_min_size: smaller cascades are left out"},
        "cascades": {"type": "integer", "description": "cascades of at least min_size readers"},
        "mean": {
            **NUM,
            "description": "unweighted mean over those cascades of W / C(n, 2), W the Wiener index of "
            "the cascade's tree: a star of n is 2(n-1)/n (one broadcaster), a chain (n+1)/3",
        },
        "median": NUM,
        "bands": {
            "type": "array",
            "items": _obj(
                ["from_size", "to_size", "cascades", "mean", "median"],
                {
                    "from_size": {"type": "integer"},
                    "to_size": {**INT_OR_NULL, "description": "exclusive; null: no upper end"},
                    "cascades": {"type": "integer"},
                    "mean": NUM,
                    "median": NUM,
                },
            ),
        },
        "viral_share": {
            **NUM,
            "description": "share of referred readers at generation 2 or deeper (confirmed in the window)",
        },
        "most_viral": {
            "type": "array",
            "items": _obj(
                ["root_id", "size", "virality", "generations"],
                {
                    "root_id": {"type": "integer"},
                    "size": {"type": "integer"},
                    "virality": {"type": "number"},
                    "generations": {"type": "integer", "description": "deepest generation below the root"},
                },
            ),
        },
    },
    description="in a window: the cascades whose root confirmed in it, followed to today",
)

REPORT = spec.schema(
    "ReferralReport",
    _obj(
        [
            "k_factor",
            "share_rate",
            "visits_per_sharer",
            "invite_rate",
            "conversion_rate",
            "cohort_k",
            "quality_k",
            "concentration",
            "viral_cycle_time_days",
            "referred_share",
            "max_generation",
            "generation_counts",
            "amplification",
            "cascades",
            "cohort_amplification",
            "top_referrers",
            "structural_virality",
            "forecast",
            "placements",
            "ladders",
        ],
        {
            "from": {"type": ["string", "null"], "format": "date"},
            "to": {"type": ["string", "null"], "format": "date"},
            "cohort": {"enum": ["week", "month"]},
            "horizon_days": {"type": "integer"},
            "generated_at": {"type": "string", "format": "date-time"},
            "k_factor": {
                **NUM,
                "description": "counted referrals per confirmed subscriber in the window",
            },
            "share_rate": {
                **NUM,
                "description": "share of confirmed subscribers with a counted visit",
            },
            "visits_per_sharer": NUM,
            "invite_rate": {**NUM, "description": "counted visits per confirmed subscriber"},
            "conversion_rate": {**NUM, "description": "counted referrals per counted visit"},
            "cohort_k": {
                "type": "array",
                "items": _obj(
                    ["cohort", "size", "referrals", "k", "mature"],
                    {
                        "cohort": {"type": "string", "format": "date"},
                        "size": {"type": "integer"},
                        "referrals": {"type": "integer"},
                        "k": NUM,
                        "mature": {"type": "boolean"},
                    },
                ),
            },
            "quality_k": NUM,
            "concentration": _obj(
                ["top_referrers", "top_share", "k_without_top"],
                {"top_referrers": {"type": "integer"}, "top_share": NUM, "k_without_top": NUM},
            ),
            "viral_cycle_time_days": {**NUM, "description": "median delay, days"},
            "viral_cycle_time": _obj(
                ["median", "mean", "mature_referrals", "mature_median", "distribution"],
                {
                    "median": NUM,
                    "mean": NUM,
                    "mature_referrals": {"type": "integer"},
                    "mature_median": NUM,
                    "distribution": {
                        "type": "array",
                        "items": _obj(
                            ["from_days", "to_days", "share"],
                            {
                                "from_days": {"type": "integer"},
                                "to_days": INT_OR_NULL,
                                "share": NUM,
                            },
                        ),
                    },
                },
            ),
            "referred_share": NUM,
            "max_generation": INT_OR_NULL,
            "generation_counts": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "depth below the root -> subscribers",
            },
            "amplification": {
                **NUM,
                "description": "window flow amplification: readers confirmed in the window per "
                "non-referred reader confirmed in it, 1 / (1 - referred_share); all time: readers per root",
            },
            "cascades": _obj(
                ["amplification", "roots", "largest_cascade", "cascades_beyond_root"],
                {
                    "amplification": {**NUM, "description": "the same as amplification"},
                    "roots": {
                        "type": "integer",
                        "description": "non-referred readers (confirmed in the window, when there is one)",
                    },
                    "largest_cascade": {
                        **INT_OR_NULL,
                        "description": "all time: the largest tree; in a window: the largest cascade "
                        "of the window's cohort, followed to the horizon",
                    },
                    "cascades_beyond_root": {"type": "integer"},
                },
            ),
            "cohort_amplification": _obj(
                [
                    "amplification",
                    "roots",
                    "readers",
                    "largest_cascade",
                    "cascades_beyond_root",
                    "provisional",
                    "horizon_days",
                    "final_at",
                ],
                {
                    "amplification": {
                        **NUM,
                        "description": "(the window's non-referred readers + their descendants "
                        "confirmed within horizon_days of their root) / those readers",
                    },
                    "roots": {"type": "integer"},
                    "readers": {"type": "integer"},
                    "largest_cascade": INT_OR_NULL,
                    "cascades_beyond_root": {"type": "integer"},
                    "provisional": {
                        "type": "boolean",
                        "description": "true until the window's end plus the horizon has passed",
                    },
                    "horizon_days": {"type": "integer"},
                    "final_at": {
                        "type": ["string", "null"],
                        "format": "date",
                        "description": "when the figure becomes final; null for an open window",
                    },
                },
            ),
            "top_referrers": _obj(
                ["by_direct", "by_downstream"],
                {
                    "by_direct": {"type": "array", "items": _TOP_ROW},
                    "by_downstream": {"type": "array", "items": _TOP_ROW},
                },
            ),
            "revenue_labels": {
                "type": ["object", "null"],
                "description": "what the top referrers' revenue columns mean; null when they are",
                "required": ["revenue_credited", "downstream_revenue"],
                "properties": {
                    "revenue_credited": {"type": "string", "description": "the referrer view's rule"},
                    "downstream_revenue": {"const": "influence, not additive"},
                },
            },
            "structural_virality": _VIRALITY,
            "placements": {
                "type": "array",
                "description": "referral asks per placement (post_end, confirmed, poll, welcome), then all",
                "items": _PLACEMENT_ROW,
            },
            "ladders": {
                "type": "array",
                "description": "reward ladder variants compared on readers past the referral horizon",
                "items": _LADDER_ROW,
            },
            "forecast": _obj(
                [
                    "period",
                    "inflow_per_period",
                    "churn_rate",
                    "current",
                    "cycle_days",
                    "market",
                    "periods",
                ],
                {
                    "period": {"enum": ["week", "month"]},
                    "inflow_per_period": NUM,
                    "churn_rate": NUM,
                    "current": {"type": "integer"},
                    "cycle_days": NUM,
                    "market": INT_OR_NULL,
                    "periods": {
                        "type": "array",
                        "items": _obj(
                            ["period", "steady", "skok", "logistic"],
                            {
                                "period": {"type": "integer"},
                                "steady": NUM,
                                "skok": NUM,
                                "logistic": NUM,
                            },
                        ),
                    },
                },
            ),
        },
    ),
)
