"""The hand-built history of report_history.py stored as rows: subscribers and the events that
arrive for them (email events, stage moves, Stripe snapshots, invoices, a referral)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.models import Invoice, StripeCustomer, SubscriptionSnapshot
from content.models import Post
from growth.models import EmailEvent, Membership, Newsletter, Subscriber, SubscriberEvent
from growth.rollup_models import ReportCell
from growth.subscribers import default_newsletter
from referrals.models import Referral
from tests.growth.report_history import READERS, t

_ids = itertools.count(1)


def add_readers(session: Session) -> dict[str, Subscriber]:
    """The five readers as subscribers (their final status), A on a second newsletter too."""
    main = default_newsletter(session)
    extra = Newsletter(slug="weekly", name="Weekly")
    session.add(extra)
    session.flush()
    session.add(Post(newsletter_id=main.id, title="Hello", slug="hello-world", status="published"))
    people: dict[str, Subscriber] = {}
    for name, r in READERS.items():
        left = r.get("left_at")
        s = Subscriber(
            email=f"{name.lower()}@example.com",
            email_normalized=f"{name.lower()}@example.com",
            referral_code=f"code{name}{next(_ids)}",
            status=r["status"],
            source=None if r["source"] in ("direct", "referral") else r["source"],
            utm_campaign=r.get("campaign"),
            landing_url="https://masthead.test/p/hello-world?utm_source=x" if name == "C" else None,
            created_at=r["signed_up_at"],
            confirmed_at=r.get("confirmed_at"),
            unsubscribed_at=left,
            status_changed_at=left or r.get("confirmed_at"),
        )
        session.add(s)
        session.flush()
        newsletter = extra if name == "D" else main
        session.add(Membership(subscriber_id=s.id, newsletter_id=newsletter.id, created_at=r["signed_up_at"]))
        people[name] = s
    session.flush()
    session.add(Membership(subscriber_id=people["A"].id, newsletter_id=extra.id))  # joined later
    session.flush()
    return people


Event = tuple[str, Callable[[Session], None]]


def arriving_events(people: dict[str, Subscriber]) -> list[Event]:
    """Each row that reaches the database after signup, as (subscriber name, insert)."""
    events: list[Event] = []

    def add(name: str, make: Callable[[], Any]) -> None:
        events.append((name, lambda session: (session.add(make()), session.flush())[-1]))

    for name, r in READERS.items():
        sid = people[name].id
        for at in r.get("human_at", []):
            add(
                name,
                lambda sid=sid, at=at: EmailEvent(
                    event_id=f"h{sid}-{at:%m%d}", type="open", subscriber_id=sid, at=at
                ),
            )
        for at in r.get("machine_at", []):
            add(
                name,
                lambda sid=sid, at=at: EmailEvent(
                    event_id=f"m{sid}-{at:%m%d}", type="open", subscriber_id=sid, at=at, is_machine=True
                ),
            )
        if r.get("nurtured_at"):
            add(
                name,
                lambda sid=sid, at=r["nurtured_at"]: SubscriberEvent(
                    subscriber_id=sid, field="stage", from_value="engaged", to_value="nurtured", at=at
                ),
            )
        for at, currency, cents in r.get("invoices", []):
            add(
                name,
                lambda sid=sid, at=at, cur=currency, c=cents: Invoice(
                    stripe_invoice_id=f"in_{sid}_{at:%m%d}",
                    stripe_customer_id=f"cus_{sid}",
                    subscriber_id=sid,
                    currency=cur,
                    amount_paid_cents=c,
                    paid_at=at,
                ),
            )
    a, b, c = people["A"].id, people["B"].id, people["C"].id
    for sid in (a, c):
        add(
            "A" if sid == a else "C",
            lambda sid=sid: StripeCustomer(stripe_customer_id=f"cus_{sid}", subscriber_id=sid),
        )
    add("A", lambda: snapshot("evt_a1", a, t(1, 30), "active", 500))
    add("C", lambda: snapshot("evt_c1", c, t(3, 3), "active", 1000))
    add("C", lambda: snapshot("evt_c2", c, t(4, 10), "canceled", 1000))
    add("B", lambda: Referral(referrer_id=a, referred_id=b, status="counted"))
    # a scanner click and a machine open long ago count for nothing
    add(
        "D",
        lambda sid=people["D"].id: EmailEvent(
            event_id="scan-d", type="click", subscriber_id=sid, at=t(2, 11), is_scanner=True
        ),
    )
    return events


def snapshot(event_id: str, sid: int, at: dt.datetime, status: str, cents: int) -> SubscriptionSnapshot:
    return SubscriptionSnapshot(
        event_id=event_id,
        event_type="customer.subscription.updated",
        stripe_subscription_id=f"sub_{sid}",
        stripe_customer_id=f"cus_{sid}",
        at=at,
        status=status,
        currency="usd",
        unit_amount_cents=cents,
        discounts=[],
    )


def cells(session: Session) -> set[tuple[Any, ...]]:
    """Every non-zero rollup cell."""
    session.flush()
    return {tuple(row) for row in session.execute(select(ReportCell.__table__).where(ReportCell.n != 0))}
