"""Attribution of paid conversions: one pure function over plain data (nothing here reads the database).

`attribute` owns every rule; billing.attribution_report loads its inputs (net cash from
billing.cash, touches from growth.attribution_touches, acquisition facts from the core) and
serves its results to other domains through `growth.access.attribution`.

Rules
-----
- Conversion: a paying subscriber, converted at their first paid invoice (the first net-cash
  `invoice` entry of more than zero cents: a trial's free invoice is no conversion). Its revenue
  is all of the subscriber's net cash per currency (invoices before tax, less refunds and
  disputes, back when a dispute is won: billing.cash), so a refund lowers what is credited.
  A subscriber with cash but no paid invoice (a refund alone) is no conversion; cash of
  customers never matched to a subscriber, and gifts, are not attributed.
- Post credit (view `post`), exactly one per conversion:
  1. the post whose paywall or upgrade link started Checkout (a `paywall_start` touch no later
     than PAYWALL_GRACE after the conversion: Stripe stamps the subscription and its first
     invoice moments apart, in either order); the latest such start wins;
  2. otherwise the post last read on the web (`web_read`) or clicked in its email
     (`email_click`, never a scanner's) in the READ_WINDOW before the conversion, the conversion
     instant included; later touches never count; a tie goes to the web read, then the lower
     post id;
  3. otherwise no post (key NO_POST). Opens, machine or human, are never touches.
- Acquisition credit, separate views of the paying subscriber's own signup facts:
  `source` (growth.acquisition_metrics.source_key: partner kind, `referral`, the source given,
  `other_site`, `direct`), `campaign` (acquisition_metrics.campaign_of; NO_CAMPAIGN, "", when
  none) and `referrer` (the direct referrer of a counted referral; NOT_REFERRED when not
  referred). A conversion whose signup facts are gone is UNKNOWN in those three. The same
  notions as the acquisition report, so the two agree.
- Each view gives each conversion's whole revenue to exactly one key: every view sums to the
  total revenue, per currency.
- Influence (not additive): each referrer is credited with the revenue of everyone below them
  in the referral chain (referred by them, by those they referred, and so on). One payment
  counts for every referrer above it, so these figures add up to more than the total by design.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from growth.attribution_touches import EMAIL_CLICK, PAYWALL_START, WEB_READ, Touch

VIEWS = ("post", "source", "campaign", "referrer")
READ_WINDOW = dt.timedelta(days=7)
PAYWALL_GRACE = dt.timedelta(hours=1)
NO_POST = "none"
NOT_REFERRED = "none"  # no referrer id is ever this
NO_CAMPAIGN = ""  # as the acquisition report keys it (a campaign may well be named "none")
UNKNOWN = "(unknown)"  # a conversion whose signup facts are gone
INFLUENCE_LABEL = "influence, not additive"
RULES = {
    "post": "Each paid conversion is credited to the post whose paywall or upgrade link started "
    "Checkout, else to the post last read on the web or clicked in its email (never a scanner's "
    "click, never an open) within 7 days before the first paid invoice, else to no post.",
    "source": "Each paid conversion is credited to the source the subscriber signed up from "
    "(partner kind, referral, the source given, another site, or direct).",
    "campaign": "Each paid conversion is credited to the UTM campaign (or partner) the subscriber "
    "signed up with, else to no campaign.",
    "referrer": "Each paid conversion is credited to the subscriber's direct referrer, else to "
    "not referred; influence credits every referrer up the chain and is not additive.",
}


@dataclass(frozen=True)
class Conversion:
    """A paying subscriber: when they first paid, and their net cash per currency."""

    subscriber_id: int
    converted_at: dt.datetime
    revenue: tuple[tuple[str, int], ...]  # (currency, net cents)


@dataclass(frozen=True)
class Acquisition:
    """How a subscriber came: the same notions as the acquisition report."""

    subscriber_id: int
    source: str  # acquisition_metrics.source_key
    campaign: str = ""  # acquisition_metrics.campaign_of ("" none)
    referrer_id: int | None = None  # the direct referrer of a counted referral


@dataclass
class Credit:
    """What one key of a view is credited with."""

    conversions: int = 0
    revenue: dict[str, int] = field(default_factory=dict)

    def add(self, revenue: Iterable[tuple[str, int]]) -> None:
        self.conversions += 1
        for currency, cents in revenue:
            self.revenue[currency] = self.revenue.get(currency, 0) + cents


@dataclass
class Attribution:
    """Every view's credit by key, each conversion's key per view, the totals and influence."""

    views: dict[str, dict[str, Credit]]
    keys: dict[int, dict[str, str]]  # subscriber_id -> {view: key}
    total: Credit
    influence: dict[int, Credit]  # referrer id -> the revenue below them (not additive)


def conversions_from_cash(
    cash: Mapping[int, Iterable[tuple[dt.datetime, str, int, str]]], now: dt.datetime | None = None
) -> list[Conversion]:
    """Conversions from each subscriber's net-cash entries (at, currency, cents, kind) up to `now`.

    Converted at the first `invoice` entry of more than zero cents; no such entry, no conversion.
    """
    out = []
    for subscriber_id, entries in cash.items():
        kept = [e for e in entries if now is None or e[0] <= now]
        paid = [at for at, _, cents, kind in kept if kind == "invoice" and cents > 0]
        if not paid:
            continue
        revenue: dict[str, int] = {}
        for _, currency, cents, _ in kept:
            revenue[currency] = revenue.get(currency, 0) + cents
        out.append(Conversion(subscriber_id, min(paid), tuple(sorted(revenue.items()))))
    return sorted(out, key=lambda c: (c.converted_at, c.subscriber_id))


def post_credit(conversion: Conversion, touches: Iterable[Touch]) -> str:
    """The key of the post credited with this conversion (rules 1-3 of the module), or NO_POST."""
    at = conversion.converted_at
    starts = [t for t in touches if t.kind == PAYWALL_START and t.at <= at + PAYWALL_GRACE]
    if starts:
        return str(max(starts, key=lambda t: (t.at, -t.post_id)).post_id)
    reads = [t for t in touches if t.kind in (WEB_READ, EMAIL_CLICK) and at - READ_WINDOW <= t.at <= at]
    if not reads:
        return NO_POST
    last = max(reads, key=lambda t: (t.at, t.kind == WEB_READ, -t.post_id))
    return str(last.post_id)


def attribute(
    conversions: Iterable[Conversion],
    touches: Iterable[Touch],
    acquisitions: Mapping[int, Acquisition],
    referrer_of: Mapping[int, int] | None = None,
) -> Attribution:
    """Credit every conversion once in each view (see the module's rules), and the influence.

    `acquisitions` are the paying subscribers' signup facts; `referrer_of` is the counted
    referral chain ({subscriber: their referrer}) influence walks up (default: the direct
    referrers of `acquisitions`).
    """
    by_subscriber: dict[int, list[Touch]] = {}
    for t in touches:
        by_subscriber.setdefault(t.subscriber_id, []).append(t)
    if referrer_of is None:
        referrer_of = {
            a.subscriber_id: a.referrer_id for a in acquisitions.values() if a.referrer_id is not None
        }
    views: dict[str, dict[str, Credit]] = {view: {} for view in VIEWS}
    keys: dict[int, dict[str, str]] = {}
    total = Credit()
    influence: dict[int, Credit] = {}
    for c in conversions:
        facts = acquisitions.get(c.subscriber_id)
        own = {
            "post": post_credit(c, by_subscriber.get(c.subscriber_id, ())),
            "source": (facts.source or UNKNOWN) if facts else UNKNOWN,
            "campaign": facts.campaign if facts else UNKNOWN,
            "referrer": (str(facts.referrer_id) if facts.referrer_id is not None else NOT_REFERRED)
            if facts
            else UNKNOWN,
        }
        keys[c.subscriber_id] = own
        for view, key in own.items():
            views[view].setdefault(key, Credit()).add(c.revenue)
        total.add(c.revenue)
        seen = {c.subscriber_id}
        above = referrer_of.get(c.subscriber_id)
        while above is not None and above not in seen:  # a cycle in bad data stops the walk
            seen.add(above)
            influence.setdefault(above, Credit()).add(c.revenue)
            above = referrer_of.get(above)
    return Attribution(views, keys, total, influence)
