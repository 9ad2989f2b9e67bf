"""Net cash: pure functions turning invoices, refunds, disputes and gifts into dated cash entries.

One function, `net_cash_entries`, owns the rules; the ledger totals, cohort LTV (billing.ltv)
and anything that needs cash per subscriber read its entries. An entry is signed integer cents
of one currency for one customer key (`subscriber:<id>` when known, else the Stripe customer or
the charge), dated when the money moved:

- a paid invoice: + amount paid less tax, at `paid_at`; `spread_months` says over how many
  months its period runs (12 for an annual plan), for the LTV curve;
- a refund: - the step it adds to the charge's cumulative `amount_refunded`, at that step
  (steps in cumulative order, so a shuffled or repeated delivery changes nothing);
- a dispute: - its amount when the funds were withdrawn, + it back when reinstated (won);
- a gift: + its amount at `paid_at` (a one-time payment, never MRR).

Refunds and disputes are taken whole: Stripe does not say what part of them was tax.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from billing.metrics import LedgerEntry

KINDS = ("invoice", "refund", "dispute", "dispute_reversal", "gift")


@dataclass(frozen=True)
class RefundStep:
    """A charge's cumulative refunded amount after one refund, and when it was reported."""

    charge_id: str
    customer: str
    currency: str
    amount_refunded_cents: int
    at: dt.datetime


@dataclass(frozen=True)
class DisputeMoney:
    """A dispute's amount and when its funds left (None: an inquiry) and came back (won)."""

    dispute_id: str
    customer: str
    currency: str
    amount_cents: int
    withdrawn_at: dt.datetime | None
    reinstated_at: dt.datetime | None = None


@dataclass(frozen=True)
class GiftPayment:
    """A gift paid at Checkout (a one-time payment)."""

    gift_id: str
    customer: str
    currency: str
    amount_cents: int
    paid_at: dt.datetime


@dataclass(frozen=True)
class CashEntry:
    """Signed cents of one currency for one customer, at the instant the money moved."""

    customer: str
    currency: str
    at: dt.datetime
    cents: int
    kind: str  # one of KINDS
    ref: str  # the invoice, charge, dispute or gift it comes from
    spread_months: int = 1  # months the payment covers (an annual invoice: 12)


def spread_months(start: dt.datetime | None, end: dt.datetime | None) -> int:
    """Whole months an invoice's period covers (at least 1): 28-31 days are 1, a year is 12."""
    if start is None or end is None or end <= start:
        return 1
    return max(1, round((end - start).days / (365.25 / 12)))


def net_cash_entries(
    invoices: Iterable[LedgerEntry],
    refunds: Iterable[RefundStep] = (),
    disputes: Iterable[DisputeMoney] = (),
    gifts: Iterable[GiftPayment] = (),
) -> list[CashEntry]:
    """Every movement of cash, oldest first (see the module's rules)."""
    entries: list[CashEntry] = []
    for inv in invoices:
        cents = inv.amount_paid_cents - inv.tax_cents
        if cents:
            entries.append(
                CashEntry(
                    inv.customer,
                    inv.currency,
                    inv.paid_at,
                    cents,
                    "invoice",
                    inv.invoice_id,
                    spread_months(inv.period_start, inv.period_end),
                )
            )
    by_charge: dict[str, list[RefundStep]] = defaultdict(list)
    for step in refunds:
        by_charge[step.charge_id].append(step)
    for charge_id, steps in by_charge.items():
        before = 0
        for step in sorted(steps, key=lambda s: (s.amount_refunded_cents, s.at)):
            added = step.amount_refunded_cents - before
            if added > 0:
                entries.append(CashEntry(step.customer, step.currency, step.at, -added, "refund", charge_id))
                before = step.amount_refunded_cents
    for d in disputes:
        if d.withdrawn_at is None:
            continue
        entries.append(
            CashEntry(d.customer, d.currency, d.withdrawn_at, -d.amount_cents, "dispute", d.dispute_id)
        )
        if d.reinstated_at is not None:
            entries.append(
                CashEntry(
                    d.customer, d.currency, d.reinstated_at, d.amount_cents, "dispute_reversal", d.dispute_id
                )
            )
    for g in gifts:
        if g.amount_cents:
            entries.append(CashEntry(g.customer, g.currency, g.paid_at, g.amount_cents, "gift", g.gift_id))
    entries.sort(key=lambda e: (e.at, KINDS.index(e.kind), e.ref))
    return entries


def empty_totals() -> dict[str, int]:
    return {
        "invoices_cents": 0,
        "refunds_cents": 0,
        "disputes_cents": 0,
        "gifts_cents": 0,
        "net_cash_cents": 0,
    }


def cash_totals(
    entries: Iterable[CashEntry], start: dt.datetime, end: dt.datetime
) -> dict[str, dict[str, int]]:
    """{currency: invoices (net of tax), refunds, disputes (withdrawn less reinstated), gifts and
    net cash} of the entries dated in [start, end); refunds and disputes as positive cents."""
    result: dict[str, dict[str, int]] = {}
    for e in entries:
        if not start <= e.at < end:
            continue
        row = result.setdefault(e.currency, empty_totals())
        if e.kind == "invoice":
            row["invoices_cents"] += e.cents
        elif e.kind == "refund":
            row["refunds_cents"] -= e.cents
        elif e.kind in ("dispute", "dispute_reversal"):
            row["disputes_cents"] -= e.cents
        else:
            row["gifts_cents"] += e.cents
        row["net_cash_cents"] += e.cents
    return result


def cash_by_customer(
    entries: Iterable[CashEntry], until: dt.datetime | None = None
) -> dict[str, dict[str, int]]:
    """{customer: {currency: net cash}} of the entries before `until` (all of them when None)."""
    result: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in entries:
        if until is None or e.at < until:
            result[e.customer][e.currency] += e.cents
    return {c: dict(v) for c, v in result.items()}
