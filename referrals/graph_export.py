"""The referral graph for other tools: GraphML (as networkx writes it) and node-link JSON,
streamed line by line from a server-side cursor so a million readers never sit in memory.

Nodes are the subscribers at either end of a counted referral, edges run referrer -> referred.
Every attribute has a value on every node (GraphML has no null): an empty string for a missing
date or source, 0 for revenue in a currency the reader never paid in.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from growth import access
from growth.models import Subscriber
from referrals.models import ReferralNode

BATCH = 10_000
# (name, GraphML attr.type) in the order they are declared; networkx reads them back typed.
BASE_ATTRIBUTES = (
    ("confirmed", "string"),
    ("source", "string"),
    ("status", "string"),
    ("stage", "string"),
    ("paying", "boolean"),
    ("downstream", "long"),
)
# Characters XML 1.0 cannot carry at all, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

GRAPHML_HEAD = (
    "<?xml version='1.0' encoding='utf-8'?>",
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
    'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">',
)


@dataclass
class GraphSource:
    """What to export: attribute declarations, then node and edge iterators (read lazily)."""

    attributes: list[tuple[str, str]]
    nodes: Iterable[tuple[int, dict[str, Any]]]
    edges: Iterable[tuple[int, int]]
    counts: dict[str, int] = field(default_factory=dict)


def _in_referral() -> Any:
    return or_(ReferralNode.parent_id.is_not(None), ReferralNode.direct_count > 0)


def referral_graph(session: Session, *, with_revenue: bool, with_email: bool) -> GraphSource:
    """The counted-referral graph of the database, read in batches as it is written."""
    paying = access.paying_tiers(session)
    revenue = access.revenue_by_subscriber(session) if with_revenue else {}
    currencies = sorted({c for amounts in revenue.values() for c in amounts})
    attributes = list(BASE_ATTRIBUTES)
    if with_email:
        attributes.append(("email", "string"))
    attributes += [(f"revenue_{c}", "long") for c in currencies]

    def nodes() -> Iterator[tuple[int, dict[str, Any]]]:
        query = (
            select(
                Subscriber.id,
                Subscriber.confirmed_at,
                Subscriber.source,
                Subscriber.status,
                Subscriber.stage,
                ReferralNode.downstream_count,
                Subscriber.email,
            )
            .join(ReferralNode, ReferralNode.subscriber_id == Subscriber.id)
            .where(_in_referral())
            .order_by(Subscriber.id)
            .execution_options(yield_per=BATCH)
        )
        for sid, confirmed, source, status, stage, downstream, email in session.execute(query):
            attrs: dict[str, Any] = {
                "confirmed": confirmed.date().isoformat() if confirmed else "",
                "source": source or "",
                "status": str(status),
                "stage": str(stage),
                "paying": sid in paying,
                "downstream": downstream or 0,
            }
            if with_email:
                attrs["email"] = email or ""
            if currencies:
                paid = revenue.get(sid, {})
                for c in currencies:
                    attrs[f"revenue_{c}"] = paid.get(c, 0)
            yield sid, attrs

    def edges() -> Iterator[tuple[int, int]]:
        query = (
            select(ReferralNode.parent_id, ReferralNode.subscriber_id)
            .where(ReferralNode.parent_id.is_not(None))
            .order_by(ReferralNode.subscriber_id)
            .execution_options(yield_per=BATCH)
        )
        yield from ((int(parent or 0), child) for parent, child in session.execute(query))

    return GraphSource(attributes, nodes(), edges())


@functools.lru_cache(maxsize=8192)
def _escaped(text: str) -> str:
    """Most values repeat (a status, a stage, a date, a source): escaped once each."""
    return escape(_NOT_XML.sub("", text))


def _text(value: Any) -> str:
    if value is True or value is False:
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return _escaped(text) if text else ""


def graphml_lines(source: GraphSource) -> Iterator[str]:
    """GraphML as networkx's writer lays it out (keys d0.., directed, one element a line);
    each yielded string is one or more whole lines, without the final newline."""
    yield from GRAPHML_HEAD
    ids = {}
    for i, (name, kind) in enumerate(source.attributes):
        ids[name] = f"d{i}"
        yield f'  <key id="d{i}" for="node" attr.name={quoteattr(name)} attr.type="{kind}" />'
    yield '  <graph edgedefault="directed">'
    # one string per node (its lines joined): a million nodes make a million yields, not seven
    keyed = [(name, f'      <data key="{ids[name]}"') for name, _kind in source.attributes]
    for sid, attrs in source.nodes:
        parts = [f'    <node id="{sid}">']
        for name, opening in keyed:
            text = _text(attrs[name])
            parts.append(f"{opening}>{text}</data>" if text else f"{opening} />")
        parts.append("    </node>")
        yield "\n".join(parts)
    for parent, child in source.edges:
        yield f'    <edge source="{parent}" target="{child}" />'
    yield "  </graph>"
    yield "</graphml>"


def node_link_chunks(source: GraphSource) -> Iterator[str]:
    """networkx's node-link JSON (`nx.node_link_graph(data, directed=True, multigraph=False)`
    reads it), one node or edge per line."""
    yield '{"directed": true, "multigraph": false, "graph": {}, "nodes": ['
    first = True
    for sid, attrs in source.nodes:
        yield ("\n" if first else ",\n") + json.dumps({"id": sid, **attrs}, ensure_ascii=False)
        first = False
    yield '\n], "edges": ['
    first = True
    for parent, child in source.edges:
        yield ("\n" if first else ",\n") + f'{{"source": {parent}, "target": {child}}}'
        first = False
    yield "\n]}\n"
