"""Stripe objects and events for seed-demo, shaped as Stripe sends them for the pinned API version.

API 2026-10-28.endive: a subscription's period lives on its items, an invoice's subscription
under `parent.subscription_details`, a subscription's `discounts` is a list of discount ids, and
a Discount names its coupon by id under `source.coupon` (events never expand anything). Each
event is signed like Stripe signs it (`t=<unix>,v1=<HMAC-SHA256 of "<t>.<body>">`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from typing import Any

import stripe

API_VERSION = stripe.api_version


class StripeShapes:
    """Ids drawn in sequence (deterministic per run) and the objects that carry them."""

    def __init__(self, seed: int):
        self.seed = seed
        self._ids = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_demo{self.seed}x{next(self._ids):07d}"

    def event(
        self, type_: str, obj: dict[str, Any], created: int, previous: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The event envelope; an *.updated one says what changed in previous_attributes."""
        data: dict[str, Any] = {"object": obj}
        if previous is not None:
            data["previous_attributes"] = previous
        return {
            "id": self.new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": created,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type_,
            "data": data,
        }

    def checkout_session(
        self,
        *,
        customer: str,
        email: str,
        subscription: str,
        metadata: dict[str, str],
        amount: int,
        currency: str,
    ) -> dict[str, Any]:
        """A completed subscription-mode Checkout Session (customer and subscription as ids)."""
        return {
            "id": self.new_id("cs"),
            "object": "checkout.session",
            "mode": "subscription",
            "status": "complete",
            "payment_status": "paid",
            "customer": customer,
            "customer_email": email,
            "customer_details": {"email": email},
            "client_reference_id": metadata.get("subscriber_id"),
            "metadata": dict(metadata),
            "subscription": subscription,
            "amount_total": amount,
            "currency": currency,
            "livemode": False,
        }

    def subscription(
        self,
        *,
        sub_id: str,
        customer: str,
        price_id: str,
        unit_amount: int,
        currency: str,
        interval: str,
        period_start: int,
        period_end: int,
        metadata: dict[str, str],
        status: str = "active",
        discounts: list[str] | None = None,
        cancel_at_period_end: bool = False,
        canceled_at: int | None = None,
        item_id: str | None = None,
    ) -> dict[str, Any]:
        """A subscription: the current period on its one item, discounts by id."""
        return {
            "id": sub_id,
            "object": "subscription",
            "customer": customer,
            "status": status,
            "currency": currency,
            "cancel_at_period_end": cancel_at_period_end,
            "cancel_at": period_end if cancel_at_period_end else None,
            "canceled_at": canceled_at,
            "ended_at": canceled_at if status == "canceled" else None,
            "trial_end": None,
            "pause_collection": None,
            "metadata": dict(metadata),
            "discounts": list(discounts or []),
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": item_id or self.new_id("si"),
                        "object": "subscription_item",
                        "subscription": sub_id,
                        "quantity": 1,
                        "current_period_start": period_start,
                        "current_period_end": period_end,
                        "price": {
                            "id": price_id,
                            "object": "price",
                            "unit_amount": unit_amount,
                            "currency": currency,
                            "recurring": {"interval": interval, "interval_count": 1},
                        },
                    }
                ],
            },
        }

    def invoice(
        self,
        *,
        customer: str,
        email: str,
        subscription: str,
        amount: int,
        currency: str,
        period_start: int,
        period_end: int,
        metadata: dict[str, str],
        paid: bool,
        at: int,
        next_attempt: int | None = None,
    ) -> dict[str, Any]:
        """An invoice, paid or open after a failed attempt; its subscription under parent."""
        return {
            "id": self.new_id("in"),
            "object": "invoice",
            "customer": customer,
            "customer_email": email,
            "currency": currency,
            "status": "paid" if paid else "open",
            "amount_paid": amount if paid else 0,
            "amount_due": amount,
            "total_taxes": [],
            "next_payment_attempt": None if paid else next_attempt,
            "status_transitions": {"paid_at": at if paid else None},
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": subscription, "metadata": dict(metadata)},
            },
            "lines": {"object": "list", "data": [{"period": {"start": period_start, "end": period_end}}]},
        }

    def coupon(self, *, coupon_id: str, percent_off: float, created: int) -> dict[str, Any]:
        """A percent-off coupon that lasts for ever: its terms live here only."""
        return {
            "id": coupon_id,
            "object": "coupon",
            "amount_off": None,
            "applies_to": None,
            "created": created,
            "currency": None,
            "currency_options": None,
            "duration": "forever",
            "duration_in_months": None,
            "livemode": False,
            "max_redemptions": None,
            "metadata": {},
            "name": coupon_id,
            "percent_off": percent_off,
            "redeem_by": None,
            "times_redeemed": 0,
            "valid": True,
        }

    def discount(self, *, coupon_id: str, customer: str, subscription: str, start: int) -> dict[str, Any]:
        """A Discount (API 2025-09-30.clover and later): its coupon by id under `source`."""
        return {
            "id": self.new_id("di"),
            "object": "discount",
            "checkout_session": None,
            "customer": customer,
            "customer_account": None,
            "end": None,
            "invoice": None,
            "invoice_item": None,
            "promotion_code": None,
            "source": {"type": "coupon", "coupon": coupon_id},
            "start": start,
            "subscription": subscription,
            "subscription_item": None,
        }


def encode(payload: dict[str, Any]) -> bytes:
    """The body as Stripe posts it: compact JSON."""
    return json.dumps(payload, separators=(",", ":")).encode()


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """A Stripe-Signature header for the body."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
