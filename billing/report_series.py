"""What billing contributes to the core's reports (growth.reports): paying intervals, invoices,
MRR at an instant and MRR movements by month."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from billing import catalogue, metrics
from billing.mirror import snapshot_state
from billing.models import Invoice, StripeCustomer, Subscription, SubscriptionSnapshot
from billing.reports import load_history, load_ledger
from growth.db import ids_in
from growth.reports import PaidHistory

MOVEMENT_FIELDS = (
    "month",
    "start_mrr_cents",
    "end_mrr_cents",
    "new_cents",
    "expansion_cents",
    "contraction_cents",
    "churned_cents",
    "reactivation_cents",
    "net_new_mrr_cents",
)


def paying_intervals(states: list[metrics.SubscriptionState]) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """[start, end) spans in which a subscription had MRR, from its states in effect order."""
    spans: list[tuple[dt.datetime, dt.datetime | None]] = []
    for i, state in enumerate(states):
        until = states[i + 1].at if i + 1 < len(states) else None
        if until is not None and until <= state.at:
            continue
        if metrics.monthly_cents(state, state.at) <= 0:
            continue
        if spans and spans[-1][1] == state.at:
            spans[-1] = (spans[-1][0], until)  # still paying: one span
        else:
            spans.append((state.at, until))
    return spans


def paid_history(session: Session, subscriber_ids: Collection[int]) -> dict[int, PaidHistory]:
    """{subscriber_id: PaidHistory} of these subscribers, from the snapshots and the ledger."""
    ids = sorted(subscriber_ids)
    if not ids:
        return {}
    owner: dict[str, int] = {}
    for customer_id, sid in session.execute(
        select(StripeCustomer.stripe_customer_id, StripeCustomer.subscriber_id).where(
            ids_in(StripeCustomer.subscriber_id, ids)
        )
    ):
        if sid is not None:
            owner[customer_id] = sid
    for customer_id, sid in session.execute(
        select(Subscription.stripe_customer_id, Subscription.subscriber_id).where(
            ids_in(Subscription.subscriber_id, ids)
        )
    ):
        if sid is not None:
            owner.setdefault(customer_id, sid)
    invoices: dict[int, list[tuple[dt.datetime, str, int]]] = {}
    wanted = set(ids)
    query = select(
        Invoice.subscriber_id,
        Invoice.stripe_customer_id,
        Invoice.paid_at,
        Invoice.currency,
        Invoice.amount_paid_cents,
        Invoice.tax_cents,
    )
    conditions: list[Any] = [ids_in(Invoice.subscriber_id, ids)]
    if owner:
        conditions.append(Invoice.stripe_customer_id.in_(list(owner)))
    for sid, customer_id, paid_at, currency, amount, tax in session.execute(query.where(or_(*conditions))):
        who = sid if sid in wanted else owner.get(customer_id)
        if who is not None:
            invoices.setdefault(who, []).append((paid_at, currency, amount - tax))
    intervals: dict[int, list[tuple[dt.datetime, dt.datetime | None]]] = {}
    if owner:
        known = catalogue.discount_terms(session)
        snaps = session.scalars(
            select(SubscriptionSnapshot)
            .where(SubscriptionSnapshot.stripe_customer_id.in_(list(owner)))
            .order_by(SubscriptionSnapshot.id)
        )
        states = [snapshot_state(s, str(owner[s.stripe_customer_id]), known) for s in snaps]
        for effective in metrics.Timeline(states).effective.values():
            if effective:
                intervals.setdefault(int(effective[0].customer), []).extend(paying_intervals(effective))
    return {
        sid: PaidHistory(
            tuple(sorted(intervals.get(sid, []), key=lambda s: s[0])), tuple(sorted(invoices.get(sid, [])))
        )
        for sid in set(invoices) | set(intervals)
    }


def mrr_at(session: Session, at: dt.datetime) -> dict[str, int]:
    """{currency: MRR cents} at `at`."""
    return {cur: snap.mrr_cents for cur, snap in metrics.revenue_snapshot(load_history(session), at).items()}


def mrr_movements(session: Session, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """Per currency, MRR movements of each calendar month of [start, end), oldest first."""
    report = metrics.revenue_report(load_history(session), load_ledger(session), start, end)
    return [
        {
            "currency": block["currency"],
            "months": [{k: m[k] for k in MOVEMENT_FIELDS} for m in block["movements"]],
        }
        for block in report["currencies"]
    ]
