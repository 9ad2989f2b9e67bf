"""Loading the mirrored data into the metrics' plain dataclasses, and the revenue report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import cash, catalogue, conversion, gifts, grants, ltv, metrics, sponsorships
from billing.mirror import snapshot_state
from billing.models import (
    Charge,
    Dispute,
    Gift,
    Invoice,
    Refund,
    StripeCustomer,
    Subscription,
    SubscriptionSnapshot,
)
from growth import report_service
from growth.models import Status, Subscriber


def _customer_keys(session: Session) -> dict[str, str]:
    """Stripe customer id -> the key a customer is counted under (the subscriber when known)."""
    keys: dict[str, str] = {}
    for customer_id, subscriber_id in session.execute(
        select(StripeCustomer.stripe_customer_id, StripeCustomer.subscriber_id)
    ):
        if subscriber_id is not None:
            keys[customer_id] = f"subscriber:{subscriber_id}"
    for customer_id, subscriber_id in session.execute(
        select(Subscription.stripe_customer_id, Subscription.subscriber_id).where(
            Subscription.subscriber_id.is_not(None)
        )
    ):
        keys.setdefault(customer_id, f"subscriber:{subscriber_id}")
    return keys


def load_history(session: Session) -> list[metrics.SubscriptionState]:
    """Every subscription state Stripe reported, as plain data."""
    keys = _customer_keys(session)
    known = catalogue.discount_terms(session)
    return [
        snapshot_state(s, keys.get(s.stripe_customer_id, f"customer:{s.stripe_customer_id}"), known)
        for s in session.scalars(select(SubscriptionSnapshot).order_by(SubscriptionSnapshot.id))
    ]


def load_ledger(session: Session) -> list[metrics.LedgerEntry]:
    """The paid-invoice ledger, as plain data."""
    keys = _customer_keys(session)
    return [
        metrics.LedgerEntry(
            invoice_id=i.stripe_invoice_id,
            customer=f"subscriber:{i.subscriber_id}"
            if i.subscriber_id
            else keys.get(i.stripe_customer_id, f"customer:{i.stripe_customer_id}"),
            currency=i.currency,
            amount_paid_cents=i.amount_paid_cents,
            tax_cents=i.tax_cents,
            paid_at=i.paid_at,
            period_start=i.period_start,
            period_end=i.period_end,
            subscription_id=i.stripe_subscription_id,
        )
        for i in session.scalars(select(Invoice).order_by(Invoice.id))
    ]


def load_cash(session: Session, ledger: list[metrics.LedgerEntry] | None = None) -> list[cash.CashEntry]:
    """Every net-cash entry (billing.cash.net_cash_entries) from the stored invoices, refund
    steps, disputes and gifts; refunds and disputes belong to their charge's customer."""
    keys = _customer_keys(session)
    charges = {c.stripe_charge_id: c for c in session.scalars(select(Charge))}

    def owner(charge_id: str | None) -> str:
        charge = charges.get(charge_id or "")
        if charge is None:
            return f"charge:{charge_id}"
        if charge.subscriber_id is not None:
            return f"subscriber:{charge.subscriber_id}"
        if charge.stripe_customer_id:
            return keys.get(charge.stripe_customer_id, f"customer:{charge.stripe_customer_id}")
        return f"charge:{charge_id}"

    refunds = [
        cash.RefundStep(
            r.stripe_charge_id, owner(r.stripe_charge_id), r.currency, r.amount_refunded_cents, r.refunded_at
        )
        for r in session.scalars(select(Refund).order_by(Refund.id))
    ]
    disputes = [
        cash.DisputeMoney(
            d.stripe_dispute_id,
            owner(d.stripe_charge_id),
            d.currency,
            d.amount_cents,
            d.withdrawn_at,
            d.reinstated_at,
        )
        for d in session.scalars(select(Dispute).order_by(Dispute.id))
    ]
    paid_gifts = [
        cash.GiftPayment(g.stripe_checkout_session_id, f"gift:{g.id}", g.currency, g.amount_cents, g.paid_at)
        for g in session.scalars(select(Gift).order_by(Gift.id))
    ]
    return cash.net_cash_entries(
        load_ledger(session) if ledger is None else ledger, refunds, disputes, paid_gifts
    )


def cash_lookup(session: Session) -> dict[int, list[tuple[dt.datetime, str, int]]]:
    """{subscriber_id: [(when, currency, signed cents)]}: the net-cash entries (invoices before
    tax, less refunds and disputes on the day they happen) of every subscriber-owned customer."""
    result: dict[int, list[tuple[dt.datetime, str, int]]] = {}
    for entry in load_cash(session):
        kind, _, key = entry.customer.partition(":")
        if kind == "subscriber" and key.isdigit():
            result.setdefault(int(key), []).append((entry.at, entry.currency, entry.cents))
    return result


def revenue_report(session: Session, start: dt.datetime, end: dt.datetime, window_days: int = 30) -> dict:
    """The revenue report over [start, end) from the mirrored subscriptions and the ledger.

    Comped readers are counted apart (`comps`), never in MRR or paying subscribers; gifts
    (one-time payments) are `gifts` and `gifts_cents`, never MRR nor the ledger; paid
    sponsorships are `sponsorship_cents`, never MRR. Refunds and disputes lower cash and LTV
    when they happen, never MRR. ARPPU, LTV and conversion: billing.conversion, billing.ltv.
    """
    history = metrics.Timeline(load_history(session))
    ledger = load_ledger(session)
    report = metrics.revenue_report(history, ledger, start, end, sponsorships.paid_sponsorships(session))
    report["comps"] = {"count": grants.live_count(session, "comp", end)}
    report["gifts"] = gifts.gift_revenue(session, start, end)
    confirmed = list(
        session.scalars(
            select(Subscriber.id).where(Subscriber.confirmed_at >= start, Subscriber.confirmed_at < end)
        )
    )
    confirmed_at_end = int(
        session.scalar(
            select(func.count()).where(Subscriber.status == Status.ACTIVE, Subscriber.confirmed_at < end)
        )
        or 0
    )
    reachable = report_service.reachable_readers(session, end, window_days)
    add_money_figures(
        report,
        history,
        ledger,
        load_cash(session, ledger),
        start,
        end,
        confirmed,
        confirmed_at_end,
        reachable,
    )
    return report


def add_money_figures(
    report: dict,
    history: metrics.Timeline,
    ledger: list[metrics.LedgerEntry],
    entries: list[cash.CashEntry],
    start: dt.datetime,
    end: dt.datetime,
    confirmed: list[int],
    confirmed_at_end: int,
    reachable: int,
) -> None:
    """Refunds, disputes, gifts, net cash, ARPPU, LTV (both methods) and conversion, into every
    currency block of the report and the main one on top (a currency with only these gets a block)."""
    totals = cash.cash_totals(entries, start, end)
    arppus = conversion.arppu(history, ledger, end)
    ltvs = ltv.cohort_ltv(entries, end)
    churn_rates = metrics.pooled_monthly_churn(history, start, end)
    mrr = {b["currency"]: b["mrr_cents"] for b in report["currencies"]}
    converted = conversion.conversion(
        history, ledger, start, end, confirmed, mrr, confirmed_at_end, reachable
    )
    known = {b["currency"] for b in report["currencies"]}
    for currency in sorted((set(totals) | set(ltvs) | set(converted)) - known):
        report["currencies"].append({**metrics.empty_block(), "currency": currency})
    for block in report["currencies"]:
        currency = block["currency"]
        money = totals.get(currency, cash.empty_totals())
        block["ledger"] = {
            **block["ledger"],
            "refunds_cents": money["refunds_cents"],
            "disputes_cents": money["disputes_cents"],
            "net_cash_cents": block["ledger"]["net_cents"] - money["refunds_cents"] - money["disputes_cents"],
        }
        block["refunds_cents"] = money["refunds_cents"]
        block["disputes_cents"] = money["disputes_cents"]
        block["gifts_cents"] = money["gifts_cents"]
        block["net_cash_cents"] = money["net_cash_cents"]
        part = arppus.get(currency, conversion.Arppu())
        block["arppu_cents"] = part.arppu_cents
        monthly_churn = churn_rates.get(currency)
        block["monthly_churn_rate"] = monthly_churn
        block["ltv_simple_cents"] = ltv.simple_ltv(part.arppu_cents, monthly_churn)
        block["ltv_simple_assumptions"] = ltv.SIMPLE_ASSUMPTIONS
        curve = ltvs.get(currency) or ltv.empty_ltv()
        block["ltv_cents"] = curve["ltv_cents"]
        block["ltv"] = curve
        block["conversion"] = converted.get(currency) or conversion.empty_conversion(
            len(confirmed), confirmed_at_end, reachable
        )
    report["currencies"].sort(key=lambda b: (-b["mrr_cents"], b["currency"]))
    main = report["currencies"][0] if report["currencies"] else None
    if main is None:
        main = {**metrics.empty_block(), **_empty_money(len(confirmed), confirmed_at_end, reachable)}
        main["ledger"] = {**main["ledger"], "refunds_cents": 0, "disputes_cents": 0, "net_cash_cents": 0}
    report.update({k: v for k, v in main.items()})


def _empty_money(confirmed: int, confirmed_at_end: int, reachable: int) -> dict:
    return {
        "refunds_cents": 0,
        "disputes_cents": 0,
        "gifts_cents": 0,
        "net_cash_cents": 0,
        "arppu_cents": None,
        "monthly_churn_rate": None,
        "ltv_simple_cents": None,
        "ltv_simple_assumptions": ltv.SIMPLE_ASSUMPTIONS,
        "ltv_cents": None,
        "ltv": ltv.empty_ltv(),
        "conversion": conversion.empty_conversion(confirmed, confirmed_at_end, reachable),
    }


def default_start(now: dt.datetime) -> dt.datetime:
    """The first day of the month eleven months before `now`: twelve months, this one included."""
    year, month = now.year, now.month - 11
    if month < 1:
        year, month = year - 1, month + 12
    return dt.datetime(year, month, 1, tzinfo=dt.UTC)


def ledger_entries(session: Session, start: dt.datetime, end: dt.datetime, limit: int) -> list[Invoice]:
    """Invoices paid in [start, end), oldest first."""
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.paid_at >= start, Invoice.paid_at < end)
            .order_by(Invoice.paid_at, Invoice.id)
            .limit(limit)
        )
    )


def iter_ledger(session: Session, start: dt.datetime, end: dt.datetime) -> Iterator[Invoice]:
    """Every invoice paid in [start, end), oldest first, read in chunks (for the CSV)."""
    query = (
        select(Invoice)
        .where(Invoice.paid_at >= start, Invoice.paid_at < end)
        .order_by(Invoice.paid_at, Invoice.id)
        .execution_options(yield_per=1000)
    )
    yield from session.scalars(query)


def invoice_json(invoice: Invoice) -> dict:
    """The API shape of a ledger line (cents as integers)."""

    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "invoice_id": invoice.stripe_invoice_id,
        "subscriber_id": invoice.subscriber_id,
        "customer_id": invoice.stripe_customer_id,
        "subscription_id": invoice.stripe_subscription_id,
        "currency": invoice.currency,
        "amount_paid_cents": invoice.amount_paid_cents,
        "tax_cents": invoice.tax_cents,
        "net_cents": invoice.amount_paid_cents - invoice.tax_cents,
        "period_start": iso(invoice.period_start),
        "period_end": iso(invoice.period_end),
        "paid_at": iso(invoice.paid_at),
    }
