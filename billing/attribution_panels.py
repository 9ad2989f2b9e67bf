"""The desk's "Revenue by post and by source" panels, from the attribution (billing.attribution).

Admins only (they carry revenue). Per currency, one bar chart of the posts and one of the sources
credited most; the table's rows, the rest folded into one "all other" row, sum to the total.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from billing import attribution_report
from growth.panels import Panel
from growth.series import Series

TOP = 10
TITLES = {"post": "Revenue by post", "source": "Revenue by source"}
LABELS = {"post": "Post", "source": "Source"}
CAPTIONS = {
    "post": "Credited once per paid conversion: to the post whose paywall or upgrade link started "
    "Checkout, else the post last read or clicked (never a scanner's click, never an open) in the "
    "7 days before the first paid invoice, else to no post. All time, net of refunds.",
    "source": "Credited once per paid conversion: to the source the subscriber signed up from "
    "(partner kind, referral, the source given, another site, or direct). All time, net of refunds.",
}


def revenue_panels(views: Mapping[str, Mapping[str, Any]], top: int = TOP) -> list[Panel]:
    """Per currency of the total, the post and the source views' top rows and the rest in one row.

    `views`: {"post": ..., "source": ...} as growth.access.attribution returns them. The rows of
    each table sum to the view's total in that currency.
    """
    out = []
    for by in ("post", "source"):
        view = views[by]
        for currency, total in sorted(view["total_revenue_cents"].items()):
            rows = [r for r in view["rows"] if currency in r["revenue_cents"]]
            rows.sort(key=lambda r: (-r["revenue_cents"][currency], -r["conversions"], r["key"]))
            shown, rest = rows[:top], rows[top:]
            labels = [r["label"] for r in shown]
            cents = [r["revenue_cents"][currency] for r in shown]
            conversions = [r["conversions"] for r in shown]
            if rest:
                labels.append(f"all other ({len(rest)})")
                cents.append(sum(r["revenue_cents"][currency] for r in rest))
                conversions.append(sum(r["conversions"] for r in rest))
            out.append(
                Panel(
                    f"attribution-{by}-{currency}",
                    f"{TITLES[by]} ({currency.upper()})",
                    Series(
                        labels,
                        {
                            "Revenue credited": [c / 100 for c in cents],
                            "Paid conversions": conversions,
                        },
                    ),
                    kind="bar",
                    drawn=1,
                    revenue=True,
                    label=LABELS[by],
                    caption=f"{CAPTIONS[by]} The rows sum to the total, {total / 100:,.2f} "
                    f"{currency.upper()} from {view['conversions']} paid conversions. Details: "
                    "Attribution report (API).",
                    extra={"total_cents": total, "cents": cents},
                )
            )
    return out


def desk_panels(session: Session, now: dt.datetime) -> list[Panel]:
    """The desk's attribution panels (one computation of the attribution serves both views)."""
    views = {by: attribution_report.report(session, by, now) for by in ("post", "source")}
    return revenue_panels(views)
