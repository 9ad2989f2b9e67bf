"""Billing's part of seed-demo: readers pay, renew, upgrade, fail to pay and leave, as Stripe tells it.

Every change arrives as the signed events Stripe would send for it (billing.demo_events), through
the webhook path the app serves: the signature is verified, the event stored once by id and
processed by its job (in process here), so the mirror, the ledger and the stages are built by
the same code as in production. No Stripe settings are needed and nothing is fetched: the
coupon is described by its `coupon.created` event, each discount by `customer.discount.created`.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import reports, service, webhooks
from billing.demo_events import StripeShapes, encode, sign
from growth import jobs
from growth.db import commit, real_utcnow
from growth.demo import DemoContributor, DemoWorld
from growth.demo_people import moment
from growth.models import Stage, Status, Subscriber

COUPON_ID = "FOUNDING20"
TIERS = (("Supporter", 800, 8000), ("Patron", 2000, 20000))  # monthly, yearly cents (USD)
DAY = 86400


@dataclass
class Plan:
    """One reader's subscription as Stripe holds it."""

    subscriber_id: int
    email: str
    customer: str
    sub_id: str
    item_id: str
    tier: int  # index into TIERS
    interval: str
    period_start: int
    period_end: int
    metadata: dict[str, str]
    discounts: list[str] = field(default_factory=list)
    status: str = "active"
    cancelling: bool = False


@dataclass(frozen=True)
class Odds:
    """Daily conversion chances and what may happen at each renewal."""

    nurtured: float
    engaged: float
    confirmed: float  # some pay before they have read much
    fail: float
    recover: float
    cancel: float
    upgrade: float
    coupon: float = 0.2
    yearly: float = 0.2


YEAR_ODDS = Odds(
    nurtured=0.0009, engaged=0.0003, confirmed=0.00005, fail=0.07, recover=0.55, cancel=0.05, upgrade=0.04
)
SMALL_ODDS = Odds(
    nurtured=0.02, engaged=0.01, confirmed=0.004, fail=0.4, recover=0.5, cancel=0.25, upgrade=0.6, yearly=0.0
)


class BillingDemo(DemoContributor):
    """Conversions, renewals, upgrades, failed payments and churn, as signed Stripe events."""

    name = "billing"

    def __init__(self, world: DemoWorld):
        self.world = world
        self.rng = world.rng("billing")
        self.shapes = StripeShapes(world.seed)
        self.secret = f"whsec_demo_{secrets.token_hex(16)}"  # this run's endpoint secret
        self.odds = SMALL_ODDS if world.small else YEAR_ODDS
        self.tier_ids: list[int] = []
        self.plans: dict[int, Plan] = {}
        self.done: set[int] = set()  # readers who paid once and left
        self.queue: list[tuple[int, int, str, int]] = []
        self.seq = itertools.count()
        self.counts = {"conversions": 0, "renewals": 0, "upgrades": 0, "failed_payments": 0, "churned": 0}

    # --- plumbing ---------------------------------------------------------------------------

    def deliver(self, session: Session, events: list[dict[str, Any]]) -> None:
        """Post the events to the webhook path: verified, stored once, processed by their job."""
        for payload in events:
            body = encode(payload)
            signature = sign(body, self.secret, int(real_utcnow().timestamp()))
            verified = webhooks.verify(body, signature, self.secret, real_utcnow())
            row, created = webhooks.record_event(session, verified, self.world.now)
            if created:
                jobs.enqueue("billing.process_event", row.id)
        commit()

    def later(self, when: int, action: str, subscriber_id: int) -> None:
        if when < self.world.end.timestamp():
            heapq.heappush(self.queue, (when, next(self.seq), action, subscriber_id))

    def price(self, plan: Plan) -> tuple[str, int]:
        name, monthly, yearly = TIERS[plan.tier]
        return f"price_demo_{name.lower()}_{plan.interval}", monthly if plan.interval == "month" else yearly

    def subscription(self, plan: Plan, **overrides: Any) -> dict[str, Any]:
        price_id, amount = self.price(plan)
        values: dict[str, Any] = dict(
            sub_id=plan.sub_id,
            customer=plan.customer,
            price_id=price_id,
            unit_amount=amount,
            currency="usd",
            interval=plan.interval,
            period_start=plan.period_start,
            period_end=plan.period_end,
            metadata=plan.metadata,
            status=plan.status,
            discounts=plan.discounts,
            cancel_at_period_end=plan.cancelling,
            item_id=plan.item_id,
        )
        values.update(overrides)
        return self.shapes.subscription(**values)

    def invoice(self, plan: Plan, at: int, *, paid: bool, amount: int | None = None) -> dict[str, Any]:
        _, full = self.price(plan)
        due = full * 80 // 100 if plan.discounts else full
        return self.shapes.invoice(
            customer=plan.customer,
            email=plan.email,
            subscription=plan.sub_id,
            amount=due if amount is None else amount,
            currency="usd",
            period_start=plan.period_start,
            period_end=plan.period_end,
            metadata=plan.metadata,
            paid=paid,
            at=at,
            next_attempt=at + 3 * DAY,
        )

    def period(self, plan: Plan) -> int:
        return 365 * DAY if plan.interval == "year" else 30 * DAY

    # --- the year -------------------------------------------------------------------------

    def prepare(self, session: Session) -> None:
        """The tiers (not at Stripe: sync-tiers puts them there) and the founding coupon."""
        for name, monthly, yearly in TIERS:
            tier = service.create_tier(
                session,
                service.TierInput(
                    name=name, monthly_price_cents=monthly, yearly_price_cents=yearly, currency="usd"
                ),
                self.world.now,
            )
            self.tier_ids.append(tier.id)
        commit()
        created = int(self.world.now.timestamp())
        coupon = self.shapes.coupon(coupon_id=COUPON_ID, percent_off=20.0, created=created)
        self.deliver(session, [self.shapes.event("coupon.created", coupon, created)])

    def day(self, session: Session, day: dt.datetime, day_end: dt.datetime) -> None:
        """Today's conversions, then every renewal, retry, cancellation and upgrade due today."""
        odds = self.odds
        candidates = session.execute(
            select(Subscriber.id, Subscriber.email, Subscriber.stage)
            .where(
                Subscriber.status == Status.ACTIVE,
                Subscriber.stage.in_([Stage.CONFIRMED, Stage.ENGAGED, Stage.NURTURED]),
            )
            .order_by(Subscriber.id)  # the draws follow this order: the same on every database
        ).all()
        session.rollback()
        for subscriber_id, email, stage in candidates:
            if subscriber_id in self.plans or subscriber_id in self.done:
                continue
            chance = {"nurtured": odds.nurtured, "engaged": odds.engaged}.get(str(stage), odds.confirmed)
            if self.rng.random() < chance:
                when = moment(self.rng, day, 8, 23)
                self.later(int(when.timestamp()), f"convert:{email}", subscriber_id)
        while self.queue and self.queue[0][0] < day_end.timestamp():
            at, _, action, subscriber_id = heapq.heappop(self.queue)
            self.world.at(dt.datetime.fromtimestamp(at, dt.UTC))
            kind, _, arg = action.partition(":")
            getattr(self, f"_{kind}")(session, at, subscriber_id, arg)

    def _convert(self, session: Session, at: int, subscriber_id: int, email: str) -> None:
        tier = 1 if self.rng.random() < 0.25 else 0
        interval = "year" if self.rng.random() < self.odds.yearly else "month"
        metadata = {"subscriber_id": str(subscriber_id), "tier_id": str(self.tier_ids[tier])}
        plan = Plan(
            subscriber_id=subscriber_id,
            email=email,
            customer=self.shapes.new_id("cus"),
            sub_id=self.shapes.new_id("sub"),
            item_id=self.shapes.new_id("si"),
            tier=tier,
            interval=interval,
            period_start=at,
            period_end=at,
            metadata=metadata,
        )
        plan.period_end = at + self.period(plan)
        discount = None
        if self.rng.random() < self.odds.coupon:
            discount = self.shapes.discount(
                coupon_id=COUPON_ID, customer=plan.customer, subscription=plan.sub_id, start=at
            )
            plan.discounts = [discount["id"]]
        paid = self.invoice(plan, at, paid=True)
        checkout = self.shapes.checkout_session(
            customer=plan.customer,
            email=email,
            subscription=plan.sub_id,
            metadata=metadata,
            amount=paid["amount_paid"],
            currency="usd",
        )
        events = [
            self.shapes.event("checkout.session.completed", checkout, at),
            self.shapes.event("customer.subscription.created", self.subscription(plan), at),
            self.shapes.event("invoice.paid", paid, at),
        ]
        if discount is not None:
            events.append(self.shapes.event("customer.discount.created", discount, at))
        self.plans[subscriber_id] = plan
        self.counts["conversions"] += 1
        self.deliver(session, events)
        self._plan_period(plan)

    def _plan_period(self, plan: Plan) -> None:
        """What happens during the period that just began: maybe a cancellation or an upgrade."""
        length = plan.period_end - plan.period_start
        rng = self.rng
        if rng.random() < self.odds.cancel:
            self.later(plan.period_start + int(rng.uniform(0.1, 0.9) * length), "cancel", plan.subscriber_id)
        elif plan.tier == 0 and rng.random() < self.odds.upgrade:
            self.later(plan.period_start + int(rng.uniform(0.1, 0.6) * length), "upgrade", plan.subscriber_id)
        self.later(plan.period_end, "renew", plan.subscriber_id)

    def _renew(self, session: Session, at: int, subscriber_id: int, _arg: str) -> None:
        plan = self.plans.get(subscriber_id)
        if plan is None or plan.status != "active":
            return
        if plan.cancelling:
            self._end(session, plan, at)
            return
        before = self.subscription(plan)["items"]
        plan.period_start, plan.period_end = at, at + self.period(plan)
        if self.rng.random() < self.odds.fail:
            plan.status = "past_due"
            self.counts["failed_payments"] += 1
            self.deliver(
                session,
                [
                    self.shapes.event("invoice.payment_failed", self.invoice(plan, at, paid=False), at),
                    self.shapes.event(
                        "customer.subscription.updated",
                        self.subscription(plan),
                        at,
                        {"status": "active", "items": before},
                    ),
                ],
            )
            self.later(at + 3 * DAY, "retry", subscriber_id)
            return
        self.counts["renewals"] += 1
        self.deliver(
            session,
            [
                self.shapes.event("invoice.paid", self.invoice(plan, at, paid=True), at),
                self.shapes.event(
                    "customer.subscription.updated", self.subscription(plan), at, {"items": before}
                ),
            ],
        )
        self._plan_period(plan)

    def _retry(self, session: Session, at: int, subscriber_id: int, _arg: str) -> None:
        plan = self.plans.get(subscriber_id)
        if plan is None or plan.status != "past_due":
            return
        if self.rng.random() < self.odds.recover:
            plan.status = "active"
            self.deliver(
                session,
                [
                    self.shapes.event("invoice.paid", self.invoice(plan, at, paid=True), at),
                    self.shapes.event(
                        "customer.subscription.updated", self.subscription(plan), at, {"status": "past_due"}
                    ),
                ],
            )
            self._plan_period(plan)
        else:
            self._end(session, plan, at)

    def _cancel(self, session: Session, at: int, subscriber_id: int, _arg: str) -> None:
        plan = self.plans.get(subscriber_id)
        if plan is None or plan.status != "active" or plan.cancelling:
            return
        plan.cancelling = True
        self.deliver(
            session,
            [
                self.shapes.event(
                    "customer.subscription.updated",
                    self.subscription(plan),
                    at,
                    {"cancel_at_period_end": False, "cancel_at": None},
                )
            ],
        )

    def _upgrade(self, session: Session, at: int, subscriber_id: int, _arg: str) -> None:
        plan = self.plans.get(subscriber_id)
        if plan is None or plan.status != "active" or plan.cancelling or plan.tier != 0:
            return
        before = self.subscription(plan)["items"]
        _, old = self.price(plan)
        plan.tier = 1
        plan.metadata = {**plan.metadata, "tier_id": str(self.tier_ids[1])}
        _, new = self.price(plan)
        left = (plan.period_end - at) / (plan.period_end - plan.period_start)
        proration = int((new - old) * left * (0.8 if plan.discounts else 1))
        self.counts["upgrades"] += 1
        self.deliver(
            session,
            [
                self.shapes.event(
                    "customer.subscription.updated", self.subscription(plan), at, {"items": before}
                ),
                self.shapes.event("invoice.paid", self.invoice(plan, at, paid=True, amount=proration), at),
            ],
        )

    def _end(self, session: Session, plan: Plan, at: int) -> None:
        plan.status = "canceled"
        self.counts["churned"] += 1
        self.deliver(
            session,
            [self.shapes.event("customer.subscription.deleted", self.subscription(plan, canceled_at=at), at)],
        )
        del self.plans[plan.subscriber_id]
        self.done.add(plan.subscriber_id)

    def summary(self, session: Session) -> dict[str, Any]:
        """What billing made of it: the revenue report's MRR now, and the moves played."""
        now = self.world.now
        report = reports.revenue_report(session, reports.default_start(now), now)
        return {"mrr_cents": report["mrr_cents"], "billing": dict(self.counts)}
