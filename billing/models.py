"""Models of the billing domain: tiers and their Stripe prices, the webhook log, the mirror.

Money is integer cents with a currency. Every Stripe id we store is unique, so a retried sync
or a redelivered webhook cannot double a row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from growth.db import Base, UTCDateTime, utcnow

# Stripe subscription statuses, in the words of the API version the SDK pins.
SUBSCRIPTION_STATUSES = (
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "unpaid",
    "paused",
    "canceled",
)
TERMINAL_STATUSES = frozenset({"canceled", "incomplete_expired"})
# Statuses that grant a paid tier (and the `paying` stage) now.
ACCESS_STATUSES = frozenset({"active", "trialing", "past_due"})


class SubscriptionState:
    """The columns of one subscription state: the mirror's current one and every snapshot."""

    status: Mapped[str] = mapped_column(String(20))
    stripe_price_id: Mapped[str | None] = mapped_column(String(255))
    unit_amount_cents: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3))
    interval: Mapped[str] = mapped_column(String(8), default="month")
    interval_count: Mapped[int] = mapped_column(default=1)
    quantity: Mapped[int] = mapped_column(default=1)
    extra_items_cents: Mapped[int] = mapped_column(default=0)  # other items: price x quantity
    discounts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    collection_paused: Mapped[bool] = mapped_column(default=False)
    current_period_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    trial_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    canceled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Tier(Base):
    """A paid tier an operator offers, with a monthly and a yearly price."""

    __tablename__ = "billing_tiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    monthly_price_cents: Mapped[int] = mapped_column()
    yearly_price_cents: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    trial_days: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    stripe_product_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # The retention coupon the portal's cancel flow offers (percent off for some months).
    retention_percent_off: Mapped[int | None] = mapped_column()
    retention_months: Mapped[int | None] = mapped_column()
    stripe_retention_coupon_id: Mapped[str | None] = mapped_column(String(255))
    synced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    prices: Mapped[list[TierPrice]] = relationship(back_populates="tier", order_by="TierPrice.id")

    def current_price(self, interval: str) -> TierPrice | None:
        """The active Stripe price of this tier for 'month' or 'year'."""
        for price in reversed(self.prices):
            if price.interval == interval and price.active:
                return price
        return None


class TierPrice(Base):
    """A Stripe Price of a tier; amounts are immutable at Stripe, so a new amount is a new row."""

    __tablename__ = "billing_tier_prices"

    id: Mapped[int] = mapped_column(primary_key=True)
    tier_id: Mapped[int] = mapped_column(ForeignKey("billing_tiers.id", ondelete="CASCADE"), index=True)
    stripe_price_id: Mapped[str] = mapped_column(String(255), unique=True)
    interval: Mapped[str] = mapped_column(String(8))  # month | year
    unit_amount_cents: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    tier: Mapped[Tier] = relationship(back_populates="prices")


class StripeCustomer(Base):
    """A Stripe customer and the subscriber it belongs to (None until we know)."""

    __tablename__ = "billing_customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class StripeEvent(Base):
    """Every verified webhook event, stored once by its Stripe id."""

    __tablename__ = "billing_events"
    __table_args__ = (Index("ix_billing_events_outcome", "outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    livemode: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # applied | ignored | unmatched (nobody to link it to: kept for review)
    outcome: Mapped[str | None] = mapped_column(String(16))
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)


class Subscription(SubscriptionState, Base):
    """The mirror of one Stripe subscription: its newest state by event time."""

    __tablename__ = "billing_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), index=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("billing_tiers.id", ondelete="SET NULL"))
    state_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # `created` of the event it mirrors
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The post whose paywall or upgrade link started Checkout (its metadata), for attribution.
    # A plain id, no foreign key: billing never reaches into content's tables.
    checkout_post_id: Mapped[int | None] = mapped_column()


class SubscriptionSnapshot(SubscriptionState, Base):
    """One subscription state an event reported, at the event's `created`: the history of MRR."""

    __tablename__ = "billing_subscription_snapshots"
    __table_args__ = (Index("ix_billing_subscription_snapshots_sub_at", "stripe_subscription_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    event_type: Mapped[str] = mapped_column(String(100))
    stripe_subscription_id: Mapped[str] = mapped_column(String(255))
    stripe_customer_id: Mapped[str] = mapped_column(String(255))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    subscriber_id_hint: Mapped[int | None] = mapped_column()  # metadata.subscriber_id as sent


class Invoice(Base):
    """A paid invoice: one line of the revenue ledger."""

    __tablename__ = "billing_invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_invoice_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), index=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    currency: Mapped[str] = mapped_column(String(3))
    amount_paid_cents: Mapped[int] = mapped_column()
    tax_cents: Mapped[int] = mapped_column(default=0)
    period_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    period_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class StripeCoupon(Base):
    """A coupon's terms, from coupon.* events or fetched from Stripe (events never carry them
    inside a discount). Terms are immutable at Stripe; a deleted coupon keeps pricing the
    discounts already made from it."""

    __tablename__ = "billing_coupons"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_coupon_id: Mapped[str] = mapped_column(String(255), unique=True)
    percent_off: Mapped[str | None] = mapped_column(String(32))  # exact decimal as Stripe sent it
    amount_off_cents: Mapped[int | None] = mapped_column()
    currency: Mapped[str | None] = mapped_column(String(3))  # of amount_off
    currency_options: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # {cur: amount off}
    duration: Mapped[str | None] = mapped_column(String(16))  # forever | once | repeating
    duration_in_months: Mapped[int | None] = mapped_column()
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    missing_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # Stripe had no such coupon
    state_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # event `created`, or when fetched

    @property
    def priced(self) -> bool:
        return self.percent_off is not None or self.amount_off_cents is not None


class StripeDiscount(Base):
    """A discount: its coupon, start and end, from customer.discount.* events or fetched from a
    subscription. A subscription event names it only by id: a row with no coupon yet."""

    __tablename__ = "billing_discounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_discount_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_coupon_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # Terms as events of older API versions carried them, with the coupon expanded.
    percent_off: Mapped[str | None] = mapped_column(String(32))  # exact decimal as Stripe sent it
    amount_off_cents: Mapped[int | None] = mapped_column()
    currency: Mapped[str | None] = mapped_column(String(3))
    start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    missing_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # not on its subscription
    state_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # `created` of the event it mirrors

    @property
    def described(self) -> bool:
        """Whether we know its coupon (or, from older events, its terms)."""
        return (
            self.stripe_coupon_id is not None
            or self.percent_off is not None
            or self.amount_off_cents is not None
        )


class Grant(Base):
    """A tier given without a Stripe subscription (a comp, or a redeemed gift) for a period.

    It opens paywalls and nothing else: no MRR, no paying subscriber, no `paying` stage.
    """

    __tablename__ = "billing_grants"
    __table_args__ = (Index("ix_billing_grants_subscriber_ends", "subscriber_id", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    tier_id: Mapped[int] = mapped_column(ForeignKey("billing_tiers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # comp | gift
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # None: forever
    granted_by: Mapped[str | None] = mapped_column(String(320))  # the operator's email, for comps
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def live_at(self, now: dt.datetime) -> bool:
        """Whether it opens its tier at `now`."""
        return (
            self.revoked_at is None and self.starts_at <= now and (self.ends_at is None or now < self.ends_at)
        )


class Offer(Base):
    """A price offer on one tier and interval: percent or amount off (a Stripe coupon and
    promotion code), or a free trial; live from `starts_at` until `ends_at`, at most
    `max_redemptions` completed Checkouts."""

    __tablename__ = "billing_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # upper case, as readers type it
    name: Mapped[str] = mapped_column(String(100))
    tier_id: Mapped[int] = mapped_column(ForeignKey("billing_tiers.id", ondelete="CASCADE"), index=True)
    interval: Mapped[str] = mapped_column(String(8))  # month | year
    kind: Mapped[str] = mapped_column(String(8))  # percent | amount | trial
    percent_off: Mapped[int | None] = mapped_column()
    amount_off_cents: Mapped[int | None] = mapped_column()
    duration: Mapped[str | None] = mapped_column(String(16))  # once | repeating | forever
    duration_in_months: Mapped[int | None] = mapped_column()
    trial_days: Mapped[int | None] = mapped_column()
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    max_redemptions: Mapped[int | None] = mapped_column()
    featured: Mapped[bool] = mapped_column(default=False)  # shown on /pricing to everyone
    stripe_coupon_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_promotion_code_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # ended early by an operator
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    tier: Mapped[Tier] = relationship()


class OfferRedemption(Base):
    """One completed Checkout under an offer: unique per Checkout Session, so a redelivered
    event counts once."""

    __tablename__ = "billing_offer_redemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("billing_offers.id", ondelete="CASCADE"), index=True)
    stripe_checkout_session_id: Mapped[str] = mapped_column(String(255), unique=True)
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Gift(Base):
    """A paid period of a tier bought for someone else's address (a one-time Checkout payment).

    Made when Checkout reports the payment (its metadata carries the tier, the months and the
    recipient), once per Checkout Session; the recipient redeems it by a signed link, which
    grants the tier for the period (`grant_id`).
    """

    __tablename__ = "billing_gifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_checkout_session_id: Mapped[str] = mapped_column(String(255), unique=True)
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("billing_tiers.id", ondelete="SET NULL"))
    months: Mapped[int] = mapped_column()
    amount_cents: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    giver_email: Mapped[str | None] = mapped_column(String(320))
    paid_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("billing_grants.id", ondelete="SET NULL"))
    invited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # near the end: subscribe


class RetentionEvent(Base):
    """One fact of the cancel flow, once per Stripe event (or portal session) and kind:
    a cancellation scheduled or done (with Stripe's cancellation_details), a retention offer
    shown or accepted, a scheduled cancellation undone, a failed payment recovered."""

    __tablename__ = "billing_retention_events"
    __table_args__ = (
        UniqueConstraint("source_id", "kind"),
        Index("ix_billing_retention_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(255))  # the Stripe event id, or the portal session's
    # cancel_scheduled | canceled | retention_offered | retention_accepted | reactivated | payment_recovered
    kind: Mapped[str] = mapped_column(String(24))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255))
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"))
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("billing_tiers.id", ondelete="SET NULL"))
    feedback: Mapped[str | None] = mapped_column(String(32))  # cancellation_details.feedback
    reason: Mapped[str | None] = mapped_column(String(32))  # cancellation_details.reason
    comment: Mapped[str | None] = mapped_column(Text)  # cancellation_details.comment
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class PortalConfiguration(Base):
    """The Stripe customer-portal configuration Masthead made (features, cancellation reasons)."""

    __tablename__ = "billing_portal_configurations"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_configuration_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    synced_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Charge(Base):
    """A Stripe charge we were told about (charge.succeeded, charge.refunded): whose it is.

    Since API 2025-03-31 a Charge names no invoice, so refunds and disputes are tied to the
    customer (and the subscriber it belongs to), which is what cash per subscriber needs.
    """

    __tablename__ = "billing_charges"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_charge_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    currency: Mapped[str] = mapped_column(String(3))
    amount_cents: Mapped[int] = mapped_column()
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Refund(Base):
    """One step of a charge's refunds: the charge's cumulative `amount_refunded` after it.

    `charge.refunded` carries the Charge (its `refunds` list is not expanded since API
    2022-11-15), so each refund is known by the cumulative amount it brought the charge to:
    unique per (charge, cumulative), a redelivery or a shuffled order adds nothing twice.
    """

    __tablename__ = "billing_refunds"
    __table_args__ = (UniqueConstraint("stripe_charge_id", "amount_refunded_cents"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_charge_id: Mapped[str] = mapped_column(String(255))
    amount_refunded_cents: Mapped[int] = mapped_column()  # cumulative, as the Charge says
    currency: Mapped[str] = mapped_column(String(3))
    refunded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # the event's `created`
    stripe_event_id: Mapped[str] = mapped_column(String(255))


class Dispute(Base):
    """A dispute on a charge, once per Stripe dispute id; when its money left and came back.

    `withdrawn_at` and `reinstated_at` come from the dispute's balance transactions (or its
    status when it has none); they only ever move earlier, so events in any order agree.
    """

    __tablename__ = "billing_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_dispute_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_cents: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(64))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reinstated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    state_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # `created` of the event it mirrors
