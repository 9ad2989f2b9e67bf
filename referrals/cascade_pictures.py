"""The largest cascades drawn as trees: a tidy layout computed with networkx, drawn as SVG.

The root sits on the left and each generation one column to the right, so a wide cascade grows
downwards (a phone scrolls that way); leaves take one row each in depth-first order and a
parent sits level with the middle of its children, so no two edges cross.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from sqlalchemy import select
from sqlalchemy.orm import Session

from growth.models import Stage, Subscriber
from referrals import metrics
from referrals.models import ReferralNode

# One colour per stage (the chart palette's order); the legend names them.
STAGE_COLOURS = {
    Stage.SIGNED_UP: "#9ca3af",
    Stage.CONFIRMED: "#2563eb",
    Stage.ENGAGED: "#16a34a",
    Stage.NURTURED: "#0891b2",
    Stage.PAYING: "#c2410c",
    Stage.LAPSED: "#ca8a04",
    Stage.CHURNED: "#6b7280",
}
COLUMN, ROW, MARGIN = 56, 16, 12


def tidy_layout(tree: nx.DiGraph, root: int) -> dict[int, tuple[int, float]]:
    """(generation, row) of every node below `root`: leaves in depth-first order take rows
    0, 1, 2...; a parent takes the middle of its first and last child's rows."""
    depth = nx.single_source_shortest_path_length(tree, root)
    row: dict[int, float] = {}
    leaf = 0
    for node in nx.dfs_postorder_nodes(tree, root, sort_neighbors=sorted):
        children = sorted(tree.successors(node))
        if children:
            row[node] = (row[children[0]] + row[children[-1]]) / 2
        else:
            row[node], leaf = float(leaf), leaf + 1
    return {n: (depth[n], row[n]) for n in row}


@dataclass
class Picture:
    """One cascade ready for the template: SVG coordinates, colours, what is left out."""

    root_id: int
    size: int
    shown: int
    generations: int
    virality: float | None
    width: int
    height: int
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[tuple[float, float, float, float]] = field(default_factory=list)


def draw(tree: nx.DiGraph, root: int, stages: dict[int, str], size: int, virality: float | None) -> Picture:
    """Place a (possibly cut) cascade and turn generations and rows into SVG coordinates."""
    layout = tidy_layout(tree, root)

    def xy(node: int) -> tuple[float, float]:
        generation, row = layout[node]
        return MARGIN + generation * COLUMN, MARGIN + row * ROW

    generations = max((g for g, _r in layout.values()), default=0)
    rows = max((r for _g, r in layout.values()), default=0.0)
    picture = Picture(
        root_id=root,
        size=size,
        shown=len(layout),
        generations=generations,
        virality=virality,
        width=int(2 * MARGIN + generations * COLUMN),
        height=int(2 * MARGIN + rows * ROW),
    )
    for u, v in sorted(tree.edges):
        picture.edges.append((*xy(u), *xy(v)))
    for node in sorted(layout):
        x, y = xy(node)
        stage = stages.get(node, Stage.CONFIRMED)
        colour = STAGE_COLOURS.get(stage, STAGE_COLOURS[Stage.CONFIRMED])  # type: ignore[call-overload]
        picture.nodes.append({"id": node, "x": x, "y": y, "stage": stage, "colour": colour})
    return picture


def largest_cascades(session: Session, count: int = 3, max_nodes: int = 150) -> list[Picture]:
    """The `count` largest trees, each cut to its first `max_nodes` readers by generation."""
    roots = session.execute(
        select(ReferralNode.subscriber_id, ReferralNode.downstream_count)
        .where(ReferralNode.parent_id.is_(None), ReferralNode.downstream_count > 0)
        .order_by(ReferralNode.downstream_count.desc(), ReferralNode.subscriber_id)
        .limit(count)
    ).all()
    pictures = []
    for root, downstream in roots:
        rows = session.execute(
            select(ReferralNode.subscriber_id, ReferralNode.parent_id, Subscriber.stage)
            .join(Subscriber, Subscriber.id == ReferralNode.subscriber_id)
            .where(ReferralNode.root_id == root)
            .order_by(ReferralNode.depth, ReferralNode.subscriber_id)
            .limit(max_nodes)
        ).all()
        tree = nx.DiGraph()
        tree.add_node(root)
        stages: dict[int, str] = {}
        for sid, parent, stage in rows:  # by generation: a parent is placed before its children
            stages[sid] = stage
            if parent is not None and parent in tree:
                tree.add_edge(parent, sid)
        # structural virality of the whole cascade, not only the part drawn
        size = downstream + 1
        virality = _whole_virality(session, root, size)
        pictures.append(draw(tree, root, stages, size, virality))
    return pictures


def _whole_virality(session: Session, root: int, size: int) -> float | None:
    subtree = dict(
        session.execute(
            select(ReferralNode.subscriber_id, ReferralNode.downstream_count).where(
                ReferralNode.root_id == root, ReferralNode.parent_id.is_not(None)
            )
        ).all()
    )
    wiener = sum((down + 1) * (size - down - 1) for down in subtree.values())
    return metrics.structural_virality(size, wiener)
