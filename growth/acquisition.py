"""Acquisition economics: the class rules, ad spend, and the report (growth.acquisition_metrics).

Cash comes through `growth.access.cash_by_subscriber` (billing's paid invoices), sponsorship
revenue through `growth.sponsorships.payments` (shared among the readers engaged that month),
the revenue credited per source and campaign through `growth.access.attribution` (its rule),
partners from `growth.partner_models`; the funnel milestones from the reports' facts rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from growth import access, reports, sponsorships
from growth import acquisition_metrics as am
from growth.acquisition_models import AcquisitionRule, AdSpend
from growth.errors import NotFound, ValidationFailed
from growth.fields import one_line
from growth.models import Subscriber
from growth.panels import Panel
from growth.partner_models import Partner, PartnerSignup
from growth.rollup_models import ReportFacts
from growth.series import Series

MONTH = re.compile(r"(\d{4})-(\d{2})")
CURRENCY = re.compile(r"[a-z]{3}")
MAX_AMOUNT_CENTS = 10**12
MAX_CSV_ROWS = 10_000
CSV_COLUMNS = ("campaign", "month", "amount_cents", "currency")
MAX_REFERRERS = 50  # the referrer group lists the referrers who brought most signups


# ---- the class rules ------------------------------------------------------------------------


def list_rules(session: Session) -> list[AcquisitionRule]:
    """Every stored rule, in the order they are tried (field, then value)."""
    order = {f: i for i, f in enumerate(am.FIELDS)}
    rows = session.scalars(select(AcquisitionRule)).all()
    return sorted(rows, key=lambda r: (order.get(r.field, 9), r.value))


def rules(session: Session) -> list[am.Rule]:
    """The stored rules as the metrics take them."""
    return [am.Rule(r.field, r.value, r.media_class) for r in list_rules(session)]


def rule_json(rule: AcquisitionRule) -> dict[str, Any]:
    return {"id": rule.id, "field": rule.field, "value": rule.value, "media_class": rule.media_class}


def set_rule(session: Session, field: Any, value: Any, media_class: Any, now: dt.datetime) -> AcquisitionRule:
    """Map a value of a field to a class; an existing rule for that value is changed, not doubled."""
    if field not in am.FIELDS:
        raise ValidationFailed(f"field must be one of {', '.join(am.FIELDS)}", code="invalid_field")
    if media_class not in am.CLASSES:
        raise ValidationFailed(f"media_class must be one of {', '.join(am.CLASSES)}", code="invalid_field")
    key = one_line(value, "value", 200, required=True).lower()
    existing = session.scalar(
        select(AcquisitionRule).where(AcquisitionRule.field == field, AcquisitionRule.value == key)
    )
    if existing is not None:
        existing.media_class, existing.updated_at = media_class, now
        return existing
    rule = AcquisitionRule(field=field, value=key, media_class=media_class, updated_at=now)
    try:
        with session.begin_nested():
            session.add(rule)
    except IntegrityError:  # another admin added the same value at once: change theirs
        existing = session.scalars(
            select(AcquisitionRule).where(AcquisitionRule.field == field, AcquisitionRule.value == key)
        ).one()
        existing.media_class, existing.updated_at = media_class, now
        return existing
    return rule


def delete_rule(session: Session, rule_id: int) -> None:
    """Remove a rule (its signups fall to the next rule or the fallback)."""
    if session.execute(delete(AcquisitionRule).where(AcquisitionRule.id == rule_id)).rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("no such rule")


# ---- spend ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpendInput:
    """One validated spend entry."""

    campaign: str
    month: dt.date
    currency: str
    amount_cents: int


def parse_spend(campaign: Any, month: Any, amount_cents: Any, currency: Any) -> SpendInput:
    """Check one entry from the form, the CSV or the API; anything wrong is a ValidationFailed."""
    name = one_line(campaign, "campaign", 200, required=True)
    if not isinstance(month, str) or not (m := MONTH.fullmatch(month.strip())):
        raise ValidationFailed("month must be YYYY-MM, such as 2026-11", code="invalid_month")
    year, number = int(m.group(1)), int(m.group(2))
    if not (2000 <= year <= 2999 and 1 <= number <= 12):
        raise ValidationFailed("month must be YYYY-MM between 2000-01 and 2999-12", code="invalid_month")
    if isinstance(amount_cents, str) and amount_cents.strip().isdigit():
        amount_cents = int(amount_cents.strip())
    if (
        not isinstance(amount_cents, int)
        or isinstance(amount_cents, bool)
        or not 0 <= amount_cents <= MAX_AMOUNT_CENTS
    ):
        raise ValidationFailed(
            f"amount_cents must be whole cents from 0 to {MAX_AMOUNT_CENTS}", code="invalid_amount"
        )
    code = currency.strip().lower() if isinstance(currency, str) else ""
    if not CURRENCY.fullmatch(code):
        raise ValidationFailed("currency must be a three-letter code such as usd", code="invalid_currency")
    return SpendInput(name, dt.date(year, number, 1), code, amount_cents)


def record_spend(session: Session, entry: SpendInput, now: dt.datetime) -> tuple[AdSpend, bool]:
    """Store a campaign's spend for a month and currency, replacing what was there; (row, created)."""
    where = (
        AdSpend.campaign == entry.campaign,
        AdSpend.month == entry.month,
        AdSpend.currency == entry.currency,
    )
    row = session.scalar(select(AdSpend).where(*where))
    if row is None:
        row = AdSpend(
            campaign=entry.campaign,
            month=entry.month,
            currency=entry.currency,
            amount_cents=entry.amount_cents,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(row)
            return row, True
        except IntegrityError:  # the same entry at once from elsewhere: it replaces that one
            row = session.scalars(select(AdSpend).where(*where)).one()
    row.amount_cents, row.updated_at = entry.amount_cents, now
    return row, False


def import_spend_csv(session: Session, text: str, now: dt.datetime) -> dict[str, int]:
    """Every row of a spend CSV, or none: each bad row is named by its line number."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise ValidationFailed(
            f"the CSV needs the columns {', '.join(CSV_COLUMNS)}; missing: {', '.join(missing)}",
            code="invalid_csv",
        )
    reader.fieldnames = header
    errors: list[str] = []
    entries: dict[tuple[str, dt.date, str], tuple[int, SpendInput]] = {}
    try:
        for row in reader:
            line = reader.line_num
            if len(entries) + len(errors) >= MAX_CSV_ROWS:
                raise ValidationFailed(f"at most {MAX_CSV_ROWS} rows per file", code="invalid_csv")
            if None in row:
                errors.append(f"line {line}: more cells than columns")
                continue
            try:
                entry = parse_spend(row["campaign"], row["month"], row["amount_cents"], row["currency"])
            except ValidationFailed as exc:
                errors.append(f"line {line}: {exc.message}")
                continue
            key = (entry.campaign, entry.month, entry.currency)
            if key in entries:
                errors.append(f"line {line}: the same campaign, month and currency as line {entries[key][0]}")
                continue
            entries[key] = (line, entry)
    except csv.Error as exc:
        raise ValidationFailed(f"not a readable CSV: {exc}", code="invalid_csv") from exc
    if errors:
        shown = "; ".join(errors[:20]) + (f"; and {len(errors) - 20} more" if len(errors) > 20 else "")
        raise ValidationFailed(f"nothing was imported: {shown}", code="invalid_csv")
    if not entries:
        raise ValidationFailed("the CSV has no rows", code="invalid_csv")
    created = sum(record_spend(session, entry, now)[1] for _, entry in entries.values())
    return {"rows": len(entries), "created": created, "replaced": len(entries) - created}


def list_spend(session: Session) -> list[AdSpend]:
    """Every spend entry, newest month first."""
    return list(
        session.scalars(select(AdSpend).order_by(AdSpend.month.desc(), AdSpend.campaign, AdSpend.currency))
    )


def spend_json(row: AdSpend) -> dict[str, Any]:
    return {
        "campaign": row.campaign,
        "month": f"{row.month:%Y-%m}",
        "currency": row.currency,
        "amount_cents": row.amount_cents,
        "updated_at": row.updated_at.isoformat(),
    }


# ---- the report -----------------------------------------------------------------------------


def _months_after(start: dt.datetime, k: int) -> dt.date:
    year, month = divmod(start.year * 12 + start.month - 1 + k, 12)
    return dt.date(year, month + 1, 1)


def engaged_months(session: Session) -> dict[int, list[dt.date]]:
    """{subscriber_id: the calendar months they engaged in}, from the reports' facts rows."""
    out: dict[int, list[dt.date]] = {}
    for sid, start, bits in session.execute(
        select(ReportFacts.subscriber_id, ReportFacts.signed_up_at, ReportFacts.engaged_months).where(
            ReportFacts.engaged_months != 0
        )
    ):
        out[sid] = [_months_after(start, k) for k in range(bits.bit_length()) if bits >> k & 1]
    return out


def sponsorship_revenue(session: Session) -> dict[tuple[dt.date, str], int]:
    """{(month, currency): cents} of sponsorship bills paid that month."""
    out: dict[tuple[dt.date, str], int] = defaultdict(int)
    for payment in sponsorships.payments(session).values():
        if payment.status == "paid" and payment.paid_at is not None:
            out[(am.month_of(payment.paid_at), payment.currency)] += payment.amount_cents
    return dict(out)


def load_signups(
    session: Session, start: dt.date | None, end: dt.date | None, base_host: str
) -> list[am.Signup]:
    """The signups of [start, end] with their milestones and cash (subscriptions and sponsorships)."""
    s, f = Subscriber, ReportFacts
    where = []
    if start is not None:
        where.append(s.created_at >= dt.datetime.combine(start, dt.time(), dt.UTC))
    if end is not None:
        where.append(s.created_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC))
    rows = session.execute(
        select(
            s.id,
            s.created_at,
            s.source,
            s.utm_source,
            s.utm_medium,
            s.utm_campaign,
            s.referrer_id,
            s.referrer_url,
            s.confirmed_at,
            f.engaged_at,
            f.nurtured_at,
            f.paid_at,
            f.post,
        )
        .outerjoin(f, f.subscriber_id == s.id)
        .where(*where)
    ).all()
    ids = [r.id for r in rows]
    referred = reports.referred(session, ids) if ids else set()
    partners = {
        sid: (code, price is not None)
        for sid, code, price in session.execute(
            select(PartnerSignup.subscriber_id, Partner.code, Partner.price_per_subscriber_cents).join(
                Partner, Partner.id == PartnerSignup.partner_id
            )
        )
    }
    cash = access.cash_by_subscriber(session)
    sponsored = sponsorship_revenue(session)
    credit = am.sponsorship_credit(engaged_months(session), sponsored) if sponsored else {}
    signups = []
    for r in rows:
        partner, paid_partner = partners.get(r.id, ("", False))
        host = urlsplit(r.referrer_url or "").hostname or ""
        own_cash = tuple(cash.get(r.id, ()))
        first_paid = r.paid_at or (min(at for at, _, _ in own_cash) if own_cash else None)
        signups.append(
            am.Signup(
                subscriber_id=r.id,
                signed_up_at=r.created_at,
                source=r.source or "",
                utm_source=r.utm_source or "",
                utm_medium=r.utm_medium or "",
                campaign=r.utm_campaign or "",
                referrer=str(r.referrer_id) if r.referrer_id is not None and r.id in referred else "",
                partner=partner,
                partner_paid=paid_partner,
                post=r.post or "",
                other_site=bool(host) and host != base_host,
                confirmed_at=r.confirmed_at,
                engaged_at=r.engaged_at,
                nurtured_at=r.nurtured_at,
                paid_at=first_paid,
                cash=own_cash + tuple(credit.get(r.id, ())),
            )
        )
    return signups


def load_spend(session: Session, start: dt.date | None, end: dt.date | None) -> list[am.Spend]:
    """Spend of every month the window touches (a month counts in full)."""
    where = []
    if start is not None:
        where.append(AdSpend.month >= am.month_of(start))
    if end is not None:
        where.append(AdSpend.month <= am.month_of(end))
    return [
        am.Spend(r.campaign, r.month, r.currency, r.amount_cents)
        for r in session.scalars(select(AdSpend).where(*where))
    ]


def acquisition_report(
    session: Session, start: dt.date | None, end: dt.date | None, now: dt.datetime, base_host: str
) -> dict[str, Any]:
    """The acquisition report of signups in [start, end] (all time when open), at `now`."""
    mapping = rules(session)
    groups = am.acquisition(
        load_signups(session, start, end, base_host), mapping, load_spend(session, start, end), now
    )
    top = sorted(
        {r["value"] for r in groups["referrer"]},
        key=lambda v: -max(r["signups"] for r in groups["referrer"] if r["value"] == v),
    )[:MAX_REFERRERS]
    keep = set(top)
    return {
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "at": now.isoformat(),
        "rules": [{"field": r.field, "value": r.value, "media_class": r.media_class} for r in mapping],
        "fallback": "earned when the signup came from another site, else owned",
        "classes": groups["class"],
        "campaigns": groups["campaign"],
        "sources": {
            "source": groups["source"],
            "partner": groups["partner"],
            "referrer": [r for r in groups["referrer"] if r["value"] in keep],
            "post": groups["post"],
        },
        "attribution": attribution_block(session, now),
    }


def attribution_block(session: Session, now: dt.datetime) -> dict[str, Any] | None:
    """Revenue credited per source and per campaign by the attribution of paid conversions (all
    time, whatever the window; null without billing), beside the report's own cash.

    The same keys as `sources.source` and `campaigns`. For a window covering every signup the
    subscription cash agrees key by key; the report's revenue_cents differ by what attribution
    does not credit: sponsorship shares (no paid conversion), and the cash of a subscriber who
    never paid an invoice (a refund alone).
    """
    views = {by: access.attribution(session, by, now) for by in ("source", "campaign")}
    source, campaign = views["source"], views["campaign"]
    if source is None or campaign is None:
        return None
    return {
        "at": source["at"],
        "rules": {"source": source["rules"], "campaign": campaign["rules"]},
        "source": source["rows"],
        "campaign": campaign["rows"],
        "total_revenue_cents": source["total_revenue_cents"],
        "conversions": source["conversions"],
    }


def class_panels(report: dict[str, Any]) -> list[Panel]:
    """One bar chart per currency: CAC, the value of a confirmed signup and the most worth paying."""
    by_currency: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in report["classes"]:
        if row["currency"] is not None:
            by_currency[row["currency"]].append(row)
    out = []
    for currency, rows in sorted(by_currency.items()):

        def money(key: str, rows: list[dict[str, Any]] = rows) -> list[float | None]:
            return [None if r[key] is None else r[key] / 100 for r in rows]

        out.append(
            Panel(
                f"acquisition-{currency}",
                f"What a confirmed signup costs and is worth, by class ({currency.upper()})",
                Series(
                    [r["value"] for r in rows],
                    {
                        "CAC": money("cac_cents"),
                        "Value of a confirmed signup": money("value_per_signup_cents"),
                        "Most worth paying": money("max_cac_cents"),
                        "Confirmed": [r["confirmed"] for r in rows],
                        "Spend": money("spend_cents"),
                        "Revenue": money("revenue_cents"),
                        "ROAS": [r["roas"] for r in rows],
                        "Payback (months)": [r["payback_months"] for r in rows],
                    },
                ),
                kind="bar",
                drawn=3,
                revenue=True,
                label="Class",
                caption="All signups so far. CAC is spend per confirmed signup; the value is what a "
                "confirmed signup paid within its first months (the median cohort); the most worth "
                "paying is the low end of that value's range. Details: Acquisition.",
            )
        )
    return out
