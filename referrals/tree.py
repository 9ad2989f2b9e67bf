"""The counted-referral forest kept in referral_nodes: depth, root and downstream counts.

Every change is a handful of row updates along one path (plus a subtree walk in the rare case
where a reader who already brought friends is attached or detached), so the report never has
to rebuild trees. tests/referrals check these columns against the networkx graph.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from referrals.models import ReferralNode

Row = tuple[int, int | None, int, int, int]  # subscriber_id, parent_id, root_id, depth, downstream


def ensure_node(session: Session, subscriber_id: int) -> Row:
    """Create a one-node tree for the subscriber if none exists, then lock and return its row."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = dict(
        subscriber_id=subscriber_id,
        root_id=subscriber_id,
        depth=0,
        direct_count=0,
        downstream_count=0,
        leaderboard_opt_in=False,
    )
    # ON CONFLICT DO NOTHING: two confirmations creating the same node at once both go on.
    session.execute(
        insert(ReferralNode).values(**values).on_conflict_do_nothing(index_elements=["subscriber_id"])
    )
    row = session.execute(
        select(
            ReferralNode.subscriber_id,
            ReferralNode.parent_id,
            ReferralNode.root_id,
            ReferralNode.depth,
            ReferralNode.downstream_count,
        )
        .where(ReferralNode.subscriber_id == subscriber_id)
        .with_for_update()
    ).one()
    return (row[0], row[1], row[2], row[3], row[4])


def _ancestors(session: Session, start: int | None) -> list[int]:
    """`start` and every node above it, nearest first."""
    chain: list[int] = []
    node = start
    while node is not None:
        chain.append(node)
        node = session.scalar(select(ReferralNode.parent_id).where(ReferralNode.subscriber_id == node))
    return chain


def _shift_subtree(session: Session, top: int, depth_delta: int, root_id: int) -> None:
    """Move every descendant of `top` by depth_delta and onto root_id, one UPDATE per level."""
    level = [top]
    while level:
        session.execute(
            update(ReferralNode)
            .where(ReferralNode.parent_id.in_(level))
            .values(depth=ReferralNode.depth + depth_delta, root_id=root_id)
            .execution_options(synchronize_session=False)
        )
        level = list(
            session.scalars(select(ReferralNode.subscriber_id).where(ReferralNode.parent_id.in_(level)))
        )


def _add_downstream(session: Session, chain: list[int], amount: int) -> None:
    if chain:
        session.execute(
            update(ReferralNode)
            .where(ReferralNode.subscriber_id.in_(chain))
            .values(downstream_count=ReferralNode.downstream_count + amount)
            .execution_options(synchronize_session=False)
        )


def attach(session: Session, child_id: int, parent_id: int) -> int:
    """Record the counted edge parent -> child; returns the parent's new direct count."""
    parent = ensure_node(session, parent_id)
    child = ensure_node(session, child_id)
    if child[1] is not None:
        raise ValueError(f"subscriber {child_id} already has a referrer in the tree")
    depth, root = parent[3] + 1, parent[2]
    session.execute(
        update(ReferralNode)
        .where(ReferralNode.subscriber_id == child_id)
        .values(parent_id=parent_id, depth=depth, root_id=root)
        .execution_options(synchronize_session=False)
    )
    if child[4]:  # the child already brought readers of its own: their tree moves below
        _shift_subtree(session, child_id, depth, root)
    session.execute(
        update(ReferralNode)
        .where(ReferralNode.subscriber_id == parent_id)
        .values(direct_count=ReferralNode.direct_count + 1)
        .execution_options(synchronize_session=False)
    )
    _add_downstream(session, _ancestors(session, parent_id), 1 + child[4])
    session.expire_all()
    return int(
        session.scalar(select(ReferralNode.direct_count).where(ReferralNode.subscriber_id == parent_id)) or 0
    )


def detach(session: Session, child_id: int) -> int | None:
    """Remove the counted edge into child (a referral rejected late); returns the old parent."""
    child = ensure_node(session, child_id)
    parent_id = child[1]
    if parent_id is None:
        return None
    ensure_node(session, parent_id)
    _add_downstream(session, _ancestors(session, parent_id), -(1 + child[4]))
    session.execute(
        update(ReferralNode)
        .where(ReferralNode.subscriber_id == parent_id)
        .values(direct_count=ReferralNode.direct_count - 1)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(ReferralNode)
        .where(ReferralNode.subscriber_id == child_id)
        .values(parent_id=None, depth=0, root_id=child_id)
        .execution_options(synchronize_session=False)
    )
    if child[4]:
        _shift_subtree(session, child_id, -child[3], child_id)
    session.expire_all()
    return parent_id
