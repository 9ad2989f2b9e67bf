"""The referral report: load plain data in a few bulk queries, then call the pure metrics.

The forest's depth, root and downstream counts are read from referral_nodes (kept current as
referrals count), so no tree is rebuilt here; `build_graph` builds the networkx reference.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from sqlalchemy import Float, case, cast, extract, func, select
from sqlalchemy.orm import Session

from growth import access
from growth.models import Stage, Status, Subscriber
from referrals import asks, ladder_metrics, ladders, metrics
from referrals.models import (
    LadderAssignment,
    Milestone,
    Referral,
    ReferralNode,
    ReferralStatus,
    ReferralVisit,
    RewardGrant,
)

GOOD_STAGES = {Stage.ENGAGED, Stage.NURTURED, Stage.PAYING}
PERIOD_DAYS = {"week": 7, "month": 30}


def _epoch(column: Any, dialect: str) -> Any:
    """Epoch seconds computed by the database: far cheaper than a million datetime objects."""
    if dialect == "sqlite":
        if sqlite3.sqlite_version_info >= (3, 38, 0):
            return func.unixepoch(column)
        return cast(func.strftime("%s", column), Float)
    return cast(extract("epoch", column), Float)


def _raw_rows(session: Session, statement: Any) -> Any:
    """Run a parameter-free statement on the DBAPI cursor of the session's connection.

    At a million rows SQLAlchemy's per-row result handling costs more than the query itself.
    """
    connection = session.connection()
    sql = statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    cursor = connection.connection.cursor()
    cursor.execute(str(sql))
    return cursor


@dataclass
class ReferralData:
    """Everything the metrics read, as plain mappings."""

    confirmed_at: dict[int, float] = field(default_factory=dict)
    unsubscribed_at: dict[int, float] = field(default_factory=dict)
    good: set[int] = field(default_factory=set)
    parent: dict[int, int] = field(default_factory=dict)  # referred -> referrer (counted)
    edges: list[tuple[int, int]] = field(default_factory=list)
    depth: dict[int, int] = field(default_factory=dict)
    root: dict[int, int] = field(default_factory=dict)
    direct: dict[int, int] = field(default_factory=dict)
    downstream: dict[int, int] = field(default_factory=dict)
    visit_counts: dict[int, int] = field(default_factory=dict)


def load(session: Session, start: dt.datetime | None, end: dt.datetime | None) -> ReferralData:
    """Confirmed subscribers, the stored forest and the window's counted visits."""
    dialect = session.get_bind().dialect.name
    data = ReferralData()
    data.confirmed_at = dict(
        _raw_rows(
            session,
            select(Subscriber.id, _epoch(Subscriber.confirmed_at, dialect)).where(
                Subscriber.confirmed_at.is_not(None)
            ),
        )
    )
    data.unsubscribed_at = dict(
        _raw_rows(
            session,
            select(Subscriber.id, _epoch(Subscriber.unsubscribed_at, dialect)).where(
                Subscriber.unsubscribed_at.is_not(None), Subscriber.confirmed_at.is_not(None)
            ),
        )
    )
    data.good = {
        sid
        for (sid,) in _raw_rows(
            session,
            select(Subscriber.id).where(
                Subscriber.status == str(Status.ACTIVE),
                Subscriber.stage.in_([str(s) for s in GOOD_STAGES]),
                Subscriber.confirmed_at.is_not(None),
            ),
        )
    }
    confirmed_at, parents, depths, roots = data.confirmed_at, data.parent, data.depth, data.root
    direct, downstream_counts = data.direct, data.downstream
    nodes = select(
        ReferralNode.subscriber_id,
        ReferralNode.parent_id,
        ReferralNode.root_id,
        ReferralNode.depth,
        ReferralNode.direct_count,
        ReferralNode.downstream_count,
    )
    for sid, parent, root, depth, direct_count, downstream in _raw_rows(session, nodes):
        if parent is not None:
            parents[sid] = parent
        if sid in confirmed_at:  # a referrer who never confirmed shares a link, but is no reader
            depths[sid], roots[sid] = depth, root
        if direct_count:
            direct[sid] = direct_count
        if downstream:
            downstream_counts[sid] = downstream
    data.edges = list(zip(parents.values(), parents.keys(), strict=True))
    visits = select(ReferralVisit.referrer_id, func.count()).where(ReferralVisit.counted.is_(True))
    if start is not None:
        visits = visits.where(ReferralVisit.at >= start)
    if end is not None:
        visits = visits.where(ReferralVisit.at < end)
    grouped = session.execute(visits.group_by(ReferralVisit.referrer_id))
    data.visit_counts = {referrer: count for referrer, count in grouped}
    return data


LadderData = tuple[
    list[ladder_metrics.Variant],
    dict[int, tuple[int, int]],
    list[tuple[int, int, float, float, bool]],
    list[tuple[int, int, float, float, int]],
]


def load_ladders(session: Session, good: set[int], now: dt.datetime, horizon_days: int) -> LadderData:
    """The ladder comparison's data: the variants, (assigned, judged) readers per variant, and
    the counted referrals (the referred reader in `good`: active and engaged now) and grants
    (the milestone's cost) of judged readers within the horizon of their assignment. Nothing is
    read without variants.

    The counts and the horizon are applied here in SQL, as ladder_metrics.count_readers and
    compare define them, so a million assigned readers are never fetched one by one."""
    variant_rows = ladders.variants(session)
    if not variant_rows:
        return [], {}, [], []
    dialect = session.get_bind().dialect.name
    currency = dict(
        session.execute(
            select(Milestone.variant_id, Milestone.currency).where(Milestone.variant_id.is_not(None))
        ).all()
    )
    variants = [
        ladder_metrics.Variant(v.id, v.name, v.share, v.active, currency.get(v.id)) for v in variant_rows
    ]
    horizon = horizon_days * metrics.DAY
    cutoff = now - dt.timedelta(days=horizon_days)
    judged = LadderAssignment.assigned_at <= cutoff
    readers = {
        vid: (int(assigned), int(old or 0))
        for vid, assigned, old in session.execute(
            select(
                LadderAssignment.variant_id,
                func.count(),
                func.sum(case((judged, 1), else_=0)),
            ).group_by(LadderAssignment.variant_id)
        )
    }
    start = _epoch(LadderAssignment.assigned_at, dialect)
    columns = (LadderAssignment.variant_id, LadderAssignment.subscriber_id, start)

    def within(moment: Any) -> Any:
        at = _epoch(moment, dialect)
        return (start <= cutoff.timestamp()) & (at >= start) & (at <= start + horizon)

    referrals = [
        (vid, referrer, at, t, referred in good)
        for vid, referrer, at, t, referred in _raw_rows(
            session,
            select(*columns, _epoch(Referral.counted_at, dialect), Referral.referred_id)
            .join(LadderAssignment, LadderAssignment.subscriber_id == Referral.referrer_id)
            .where(Referral.status == str(ReferralStatus.COUNTED), within(Referral.counted_at)),
        )
    ]
    grants = list(
        _raw_rows(
            session,
            select(*columns, _epoch(RewardGrant.granted_at, dialect), Milestone.cost_cents)
            .join(Milestone, Milestone.id == RewardGrant.milestone_id)
            .join(LadderAssignment, LadderAssignment.subscriber_id == RewardGrant.subscriber_id)
            .where(within(RewardGrant.granted_at)),
        )
    )
    return variants, readers, referrals, grants


def build_graph(session: Session) -> tuple[nx.DiGraph, dict[int, float]]:
    """The reference: a networkx DiGraph of counted referrals over every confirmed subscriber."""
    data = load(session, None, None)
    graph = nx.DiGraph()
    graph.add_nodes_from(data.confirmed_at)
    graph.add_edges_from(data.edges)
    return graph, data.confirmed_at


def compute(
    data: ReferralData,
    now: dt.datetime,
    start: dt.datetime | None,
    end: dt.datetime | None,
    cohort: str,
    horizon_days: int,
    market: int | None = None,
    top: int = 10,
    virality_min_size: int = 10,
) -> dict[str, Any]:
    """Every figure of the report from loaded data (pure: no session, `now` given)."""
    s = start.timestamp() if start else None
    e = end.timestamp() if end else None
    confirmed_at, edges = data.confirmed_at, data.edges
    # Edges into readers who are no longer confirmed (erased rows keep confirmed_at) are kept.
    k = metrics.k_factor(edges, confirmed_at, data.visit_counts, s, e)
    depth, root = data.depth, data.root
    cohort_amp = metrics.cohort_amplification(confirmed_at, root, now, horizon_days, s, e)
    if s is None and e is None:
        # every reader: those outside any tree are roots of one, counted without a loop
        alone = len(confirmed_at) - len(depth)
        gens = metrics.generations(itertools.chain(depth.values(), itertools.repeat(0, alone)))
        casc = metrics.cascades(root.values(), alone=alone)
    else:
        lo, hi = s if s is not None else -math.inf, e if e is not None else math.inf
        gens = metrics.generations(depth.get(sid, 0) for sid, t in confirmed_at.items() if lo <= t < hi)
        # Readers per non-referred reader of the window: a root from before it divides nothing.
        # Its cascades are the cohort's, followed to the horizon.
        flow = metrics.window_amplification(confirmed_at, root, s, e)
        casc = {
            "amplification": flow["amplification"],
            "roots": flow["non_referred"],
            "largest_cascade": cohort_amp["largest_cascade"],
            "cascades_beyond_root": cohort_amp["cascades_beyond_root"],
        }
    cycle = metrics.viral_cycle_time(edges, confirmed_at, now, horizon_days, cohort, s, e)
    period_days = PERIOD_DAYS[cohort]
    inflow, churn = metrics.inflow_and_churn(
        confirmed_at, data.unsubscribed_at, data.parent, now, period_days
    )
    current = len(confirmed_at) - sum(1 for sid in data.unsubscribed_at if sid in confirmed_at)
    tops = metrics.top_referrers(data.direct, data.downstream, top)
    virality = _virality(data, s, e, gens["generation_counts"], virality_min_size, top)
    return {
        **k,
        "cohort_k": metrics.cohort_k(edges, confirmed_at, now, horizon_days, cohort, s, e),
        "quality_k": metrics.quality_k(edges, confirmed_at, data.good, now, horizon_days, s, e),
        "concentration": metrics.concentration(edges, confirmed_at, s, e),
        "viral_cycle_time_days": cycle["median"],
        "viral_cycle_time": cycle,
        "referred_share": gens["referred_share"],
        "max_generation": gens["max_generation"],
        "generation_counts": gens["generation_counts"],
        "amplification": casc["amplification"],
        "cascades": casc,
        "cohort_amplification": {
            **cohort_amp,
            "horizon_days": horizon_days,
            # the first moment the figure is final: the window's end plus the horizon
            "final_at": (end + dt.timedelta(days=horizon_days)).date().isoformat() if end else None,
        },
        "top_referrers": tops,
        "structural_virality": virality,
        "forecast": {
            "period": cohort,
            "inflow_per_period": inflow,
            "churn_rate": churn,
            "current": current,
            "cycle_days": cycle["median"],
            "market": market,
            "periods": metrics.forecast(
                current, inflow, k["k_factor"], churn, period_days, cycle["median"], market=market
            ),
        },
    }


def _virality(
    data: ReferralData,
    s: float | None,
    e: float | None,
    generation_counts: dict[str, int],
    min_size: int,
    top: int,
) -> dict[str, Any]:
    """Structural virality of the cascades whose root confirmed in the window (all: every one),
    followed to today; viral_share over the window's readers (their generation counts)."""
    cascades = metrics.cascade_wiener(data.parent, data.root, data.downstream, data.depth)
    if s is not None or e is not None:
        lo, hi = s if s is not None else -math.inf, e if e is not None else math.inf
        when = data.confirmed_at.get
        cascades = {r: c for r, c in cascades.items() if lo <= when(r, math.nan) < hi}
    return metrics.virality_summary(cascades, generation_counts, min_size, top)


def join_revenue(session: Session, now: dt.datetime, result: dict[str, Any]) -> None:
    """Add each top referrer's revenue from the attribution of paid conversions (billing's, through
    growth.access; null without billing): `revenue_credited`, the conversions they referred
    directly (the referrer view, additive), and `downstream_revenue`, everyone below them in the
    chain (its influence: one payment counts for every referrer above it, so not additive).
    Both are null, and so is `revenue_labels`, until somebody has paid (no columns of dashes)."""
    credited = access.attribution(session, "referrer", now)
    if credited is not None and not credited["conversions"]:
        credited = None
    direct = {r["key"]: r["revenue_cents"] for r in credited["rows"]} if credited else {}
    below = {r["key"]: r["revenue_cents"] for r in credited["influence"]["rows"]} if credited else {}
    for rows in result["top_referrers"].values():
        for row in rows:
            key = str(row["subscriber_id"])
            row["revenue_credited"] = direct.get(key, {}) if credited else None
            row["downstream_revenue"] = below.get(key, {}) if credited else None
    result["revenue_labels"] = (
        {"revenue_credited": credited["rules"], "downstream_revenue": credited["influence"]["label"]}
        if credited
        else None
    )


def referral_report(
    session: Session,
    now: dt.datetime,
    start: dt.date | None = None,
    end: dt.date | None = None,
    cohort: str = "month",
    horizon_days: int = 30,
    market: int | None = None,
    timings: dict[str, float] | None = None,
    virality_min_size: int = 10,
) -> dict[str, Any]:
    """The report for [start, end] (ISO dates, inclusive); phases timed into `timings`."""
    clock = time.perf_counter()
    s = dt.datetime.combine(start, dt.time(), dt.UTC) if start else None
    e = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC) if end else None
    data = load(session, s, e)
    loaded = time.perf_counter()
    result = compute(data, now, s, e, cohort, horizon_days, market, virality_min_size=virality_min_size)
    computed = time.perf_counter()
    join_revenue(session, now, result)
    result["placements"] = asks.placement_report(session, s, e)
    placed = time.perf_counter()
    # The ladders are judged over every reader past the horizon, whatever the window.
    result["ladders"] = ladder_metrics.compare(
        *load_ladders(session, data.good, now, horizon_days), now, horizon_days
    )
    if timings is not None:
        timings.update(
            load=loaded - clock,
            metrics=computed - loaded,
            revenue=placed - computed,
            ladders=time.perf_counter() - placed,
        )
    result = {
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "cohort": cohort,
        "horizon_days": horizon_days,
        "generated_at": now.isoformat(),
        **result,
    }
    return result
