"""A local, stateful fake of the parts of Stripe's API Masthead calls, plus signed test events.

Products, Prices, Checkout Sessions, billing-portal Sessions, Customers, Coupons and
Subscriptions, form-encoded the way stripe-python sends them, answering in the shapes of the API
version the SDK pins (period dates on subscription items, an invoice's subscription under
parent.subscription_details, `discounts` as a list of ids, a Discount's coupon as an id under
`source.coupon`: events never expand anything, and a Discount cannot be fetched by id, only
expanded on a subscription retrieve). `complete_checkout`, `apply_coupon` and the like play the
customer or the operator: they return the events Stripe would send.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.http import FakeServer

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_test{next(_ids):06d}"


def parse_form(body: bytes) -> dict[str, Any]:
    """Stripe's form encoding (a[b][0][c]=v) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_listify(node[k]) for k in sorted(node, key=int)]
        return {k: _listify(v) for k, v in node.items()}
    return node


def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A Stripe-Signature header: t=<unix>,v1=<HMAC-SHA256 of "<t>.<body>" with the secret>."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event(
    type_: str,
    obj: dict[str, Any],
    created: int,
    event_id: str | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Stripe event envelope around an object (an *.updated one says what changed)."""
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": event_id or new_id("evt"),
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created,
        "livemode": False,
        "pending_webhooks": 1,
        "type": type_,
        "data": data,
    }


def subscription(
    *,
    sub_id: str | None = None,
    customer: str = "cus_test",
    status: str = "active",
    price_id: str = "price_test",
    unit_amount: int = 500,
    currency: str = "usd",
    interval: str = "month",
    interval_count: int = 1,
    quantity: int = 1,
    period_start: int = 1_767_225_600,
    period_end: int | None = None,
    metadata: dict[str, str] | None = None,
    discounts: list[Any] | None = None,
    cancel_at_period_end: bool = False,
    trial_end: int | None = None,
    canceled_at: int | None = None,
    pause_collection: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A subscription object of API 2026-10-28.endive (the period on its item)."""
    sub_id = sub_id or new_id("sub")
    period_end = period_end or period_start + 30 * 86400
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
        "trial_end": trial_end,
        "pause_collection": pause_collection,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "metadata": metadata or {},
        "discounts": discounts or [],
        "items": {
            "object": "list",
            "data": [
                {
                    "id": new_id("si"),
                    "object": "subscription_item",
                    "subscription": sub_id,
                    "quantity": quantity,
                    "current_period_start": period_start,
                    "current_period_end": period_end,
                    "price": {
                        "id": price_id,
                        "object": "price",
                        "unit_amount": unit_amount,
                        "currency": currency,
                        "recurring": {"interval": interval, "interval_count": interval_count},
                    },
                }
            ],
        },
    }


def coupon(
    *,
    coupon_id: str | None = None,
    percent_off: float | None = None,
    amount_off: int | None = None,
    currency: str | None = None,
    currency_options: dict[str, int] | None = None,
    duration: str = "forever",
    duration_in_months: int | None = None,
    created: int = 1_767_225_600,
) -> dict[str, Any]:
    """A Coupon object: its terms live here only (a Discount names it by id)."""
    return {
        "id": coupon_id or new_id("co"),
        "object": "coupon",
        "amount_off": amount_off,
        "applies_to": None,
        "created": created,
        "currency": currency if amount_off is not None else None,
        "currency_options": {k: {"amount_off": v} for k, v in (currency_options or {}).items()} or None,
        "duration": duration,
        "duration_in_months": duration_in_months if duration == "repeating" else None,
        "livemode": False,
        "max_redemptions": None,
        "metadata": {},
        "name": None,
        "percent_off": percent_off,
        "redeem_by": None,
        "times_redeemed": 0,
        "valid": True,
    }


def discount(
    *,
    coupon_id: str,
    discount_id: str | None = None,
    customer: str = "cus_test",
    subscription_id: str | None = None,
    start: int = 0,
    end: int | None = None,
) -> dict[str, Any]:
    """A Discount object of API 2025-09-30.clover and later: its coupon under source, by id."""
    return {
        "id": discount_id or new_id("di"),
        "object": "discount",
        "checkout_session": None,
        "customer": customer,
        "customer_account": None,
        "end": end,
        "invoice": None,
        "invoice_item": None,
        "promotion_code": None,
        "source": {"type": "coupon", "coupon": coupon_id},
        "start": start,
        "subscription": subscription_id,
        "subscription_item": None,
    }


def invoice(
    *,
    customer: str = "cus_test",
    subscription_id: str | None = None,
    amount_paid: int = 500,
    amount_due: int | None = None,
    tax: int = 0,
    currency: str = "usd",
    status: str = "paid",
    paid_at: int = 1_767_225_600,
    period_start: int = 1_767_225_600,
    period_end: int | None = None,
    customer_email: str | None = None,
    metadata: dict[str, str] | None = None,
    next_payment_attempt: int | None = None,
) -> dict[str, Any]:
    """An invoice object: subscription under parent.subscription_details, taxes in total_taxes."""
    return {
        "id": new_id("in"),
        "object": "invoice",
        "customer": customer,
        "customer_email": customer_email,
        "currency": currency,
        "status": status,
        "amount_paid": amount_paid if status == "paid" else 0,
        "amount_due": amount_due if amount_due is not None else amount_paid,
        "total_taxes": [{"amount": tax, "tax_behavior": "exclusive"}] if tax else [],
        "next_payment_attempt": next_payment_attempt,
        "status_transitions": {"paid_at": paid_at if status == "paid" else None},
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription_id, "metadata": metadata or {}},
        },
        "lines": {
            "object": "list",
            "data": [{"period": {"start": period_start, "end": period_end or period_start + 30 * 86400}}],
        },
    }


class FakeStripe:
    """A stateful Stripe API on 127.0.0.1; `requests` records (method, path, params, headers)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.server = FakeServer(self.handle)
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.products: dict[str, dict[str, Any]] = {}
            self.prices: dict[str, dict[str, Any]] = {}
            self.customers: dict[str, dict[str, Any]] = {}
            self.checkout_sessions: dict[str, dict[str, Any]] = {}
            self.portal_sessions: dict[str, dict[str, Any]] = {}
            self.coupons: dict[str, dict[str, Any]] = {}
            self.promotion_codes: dict[str, dict[str, Any]] = {}
            self.portal_configurations: dict[str, dict[str, Any]] = {}
            self.sent: list[dict[str, Any]] = []  # events API calls caused, for the test to deliver
            self.subscriptions: dict[str, dict[str, Any]] = {}
            self.discounts: dict[str, dict[str, Any]] = {}  # by id: they are never fetched alone
            self.invoices: dict[str, dict[str, Any]] = {}  # one-off invoices (sponsorships)
            self.payment_links: dict[str, dict[str, Any]] = {}
            self.charges: dict[str, dict[str, Any]] = {}
            self.disputes: dict[str, dict[str, Any]] = {}
            self.coupon_products: dict[str, list[str]] = {}  # a coupon's applies_to
            self.requests: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []
            self.idempotent: dict[str, tuple[int, dict[str, Any]]] = {}
            self.fail_next: list[int] = []
            self.delay = 0.0  # seconds each answer waits: lets concurrent callers overlap

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> FakeStripe:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    # -- HTTP ----------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes):  # type: ignore[no-untyped-def]
        headers = {k.lower(): v for k, v in headers.items()}
        split = urlsplit(path)
        params = parse_form(body) if method == "POST" else parse_form(split.query.encode())
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.requests.append((method, split.path, params, headers))
            if not headers.get("authorization", "").startswith("Bearer sk_"):
                return 401, {}, _error("invalid_request_error", "Invalid API Key provided")
            if self.fail_next:
                status = self.fail_next.pop(0)
                return status, {}, _error("api_error", f"fake failure {status}")
            key = headers.get("idempotency-key")
            if method == "POST" and key and key in self.idempotent:
                status, payload = self.idempotent[key]
                return status, {"Idempotent-Replayed": "true"}, payload
            status, payload = self.route(method, split.path, params)
            if method == "POST" and key:
                self.idempotent[key] = (status, payload)
            return status, {"Request-Id": new_id("req")}, payload

    def route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        routes = [
            ("POST", r"/v1/products", self.create_product),
            ("POST", r"/v1/products/(?P<id>[^/]+)", self.update_product),
            ("GET", r"/v1/products/(?P<id>[^/]+)", self.get("products")),
            ("POST", r"/v1/prices", self.create_price),
            ("POST", r"/v1/prices/(?P<id>[^/]+)", self.update_price),
            ("GET", r"/v1/prices/(?P<id>[^/]+)", self.get("prices")),
            ("POST", r"/v1/customers", self.create_customer),
            ("GET", r"/v1/customers/(?P<id>[^/]+)", self.get("customers")),
            ("POST", r"/v1/checkout/sessions", self.create_checkout_session),
            ("GET", r"/v1/checkout/sessions/(?P<id>[^/]+)", self.get("checkout_sessions")),
            ("POST", r"/v1/billing_portal/sessions", self.create_portal_session),
            ("POST", r"/v1/billing_portal/configurations", self.create_portal_configuration),
            ("POST", r"/v1/billing_portal/configurations/(?P<id>[^/]+)", self.update_portal_configuration),
            ("POST", r"/v1/subscriptions/(?P<id>[^/]+)", self.update_subscription),
            ("POST", r"/v1/coupons", self.create_coupon_api),
            ("GET", r"/v1/coupons/(?P<id>[^/]+)", self.get("coupons")),
            ("GET", r"/v1/subscriptions", self.list_subscriptions),
            ("POST", r"/v1/promotion_codes", self.create_promotion_code),
            ("POST", r"/v1/promotion_codes/(?P<id>[^/]+)", self.update_promotion_code),
            ("GET", r"/v1/promotion_codes/(?P<id>[^/]+)", self.get("promotion_codes")),
            ("GET", r"/v1/subscriptions/(?P<id>[^/]+)", self.retrieve_subscription),
            ("POST", r"/v1/invoices", self.create_invoice),
            ("POST", r"/v1/invoices/(?P<id>[^/]+)/finalize", self.finalize_invoice),
            ("GET", r"/v1/invoices/(?P<id>[^/]+)", self.get("invoices")),
            ("POST", r"/v1/invoiceitems", self.create_invoice_item),
            ("POST", r"/v1/payment_links", self.create_payment_link),
            ("GET", r"/v1/payment_links/(?P<id>[^/]+)", self.get("payment_links")),
        ]
        for verb, pattern, fn in routes:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                return fn(params, **match.groupdict())
        return 404, _error("invalid_request_error", f"Unrecognized request URL ({method}: {path})")

    def get(self, store: str):  # type: ignore[no-untyped-def]
        def read(params: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
            obj = getattr(self, store).get(id)
            if obj is None:
                return 404, _error(
                    "invalid_request_error", f"No such object: '{id}'", code="resource_missing"
                )
            return 200, obj

        return read

    # -- resources -----------------------------------------------------------------------------

    def retrieve_subscription(self, p: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        """GET /v1/subscriptions/<id>: `discounts` are ids unless `expand[]=discounts`; a
        discount's coupon stays an id unless `expand[]=discounts.source.coupon` too."""
        sub = self.subscriptions.get(id)
        if sub is None:
            return 404, _error(
                "invalid_request_error", f"No such subscription: '{id}'", code="resource_missing"
            )
        expand = p.get("expand") or []
        expand = [expand] if isinstance(expand, str) else list(expand)
        unknown = [e for e in expand if e not in ("discounts", "discounts.source.coupon")]
        if unknown:
            return 400, _error(
                "invalid_request_error",
                f"This property cannot be expanded ({unknown[0]}).",
                param="expand",
            )
        result = json.loads(json.dumps(sub))
        if "discounts" in expand or "discounts.source.coupon" in expand:
            result["discounts"] = [json.loads(json.dumps(self.discounts[d])) for d in sub["discounts"]]
            if "discounts.source.coupon" in expand:
                for item in result["discounts"]:
                    found = self.coupons.get(item["source"]["coupon"])
                    if found is not None:
                        item["source"]["coupon"] = json.loads(json.dumps(found))
        return 200, result

    def list_subscriptions(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """GET /v1/subscriptions: a list object, newest first; without `status` only those not
        canceled (Stripe's default), `status=all` every one; `limit` 1-100 (default 10) and
        `starting_after` page it. Discounts stay ids, as everywhere unexpanded."""
        try:
            limit = int(p.get("limit", 10))
        except ValueError:
            return 400, _error("invalid_request_error", "Invalid integer: limit", param="limit")
        if not 1 <= limit <= 100:
            return 400, _error(
                "invalid_request_error",
                "Invalid limit: must be an integer between 1 and 100.",
                param="limit",
            )
        status = p.get("status")
        found = [
            sub
            for sub in reversed(list(self.subscriptions.values()))
            if ("customer" not in p or sub["customer"] == p["customer"])
            and (
                status == "all"
                or (status is None and sub["status"] != "canceled")
                or (status is not None and sub["status"] == status)
            )
        ]
        after = p.get("starting_after")
        if after:
            ids = [sub["id"] for sub in found]
            if after not in ids:
                return 400, _error(
                    "invalid_request_error", f"No such subscription: '{after}'", param="starting_after"
                )
            found = found[ids.index(after) + 1 :]
        page = json.loads(json.dumps(found[:limit]))
        return 200, {
            "object": "list",
            "url": "/v1/subscriptions",
            "has_more": len(found) > limit,
            "data": page,
        }

    def create_product(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not p.get("name"):
            return 400, _error("invalid_request_error", "Missing required param: name.", param="name")
        product = {
            "id": new_id("prod"),
            "object": "product",
            "name": p["name"],
            "description": p.get("description"),
            "active": _bool(p.get("active", "true")),
            "metadata": p.get("metadata", {}),
        }
        self.products[product["id"]] = product
        return 200, product

    def update_product(self, p: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        product = self.products.get(id)
        if product is None:
            return 404, _error("invalid_request_error", f"No such product: '{id}'", code="resource_missing")
        for key in ("name", "description", "metadata"):
            if key in p:
                product[key] = p[key]
        if "active" in p:
            product["active"] = _bool(p["active"])
        return 200, product

    def create_price(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "product_data" in p and "product" not in p:  # a product made with its price
            if not (p["product_data"] or {}).get("name"):
                return 400, _error(
                    "invalid_request_error",
                    "Missing required param: product_data[name].",
                    param="product_data[name]",
                )
            _, product = self.create_product(p["product_data"])
            p = {**p, "product": product["id"]}
        if p.get("product") not in self.products:
            return 400, _error(
                "invalid_request_error", f"No such product: '{p.get('product')}'", param="product"
            )
        try:
            amount = int(p["unit_amount"])
        except (KeyError, ValueError):
            return 400, _error("invalid_request_error", "Invalid integer: unit_amount", param="unit_amount")
        recurring = p.get("recurring")
        if recurring is not None and recurring.get("interval") not in {"day", "week", "month", "year"}:
            return 400, _error(
                "invalid_request_error", "Invalid recurring[interval]", param="recurring[interval]"
            )
        price = {
            "id": new_id("price"),
            "object": "price",
            "product": p["product"],
            "unit_amount": amount,
            "currency": p.get("currency"),
            "active": True,
            "type": "recurring" if recurring is not None else "one_time",
            "recurring": {
                "interval": recurring["interval"],
                "interval_count": int(recurring.get("interval_count", 1)),
            }
            if recurring is not None
            else None,
            "metadata": p.get("metadata", {}),
        }
        self.prices[price["id"]] = price
        return 200, price

    def update_price(self, p: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        price = self.prices.get(id)
        if price is None:
            return 404, _error("invalid_request_error", f"No such price: '{id}'", code="resource_missing")
        if "unit_amount" in p:  # like Stripe: amounts are immutable
            return 400, _error(
                "invalid_request_error",
                "Received unknown parameter: unit_amount",
                param="unit_amount",
            )
        if "active" in p:
            price["active"] = _bool(p["active"])
        return 200, price

    def create_customer(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        customer = {
            "id": new_id("cus"),
            "object": "customer",
            "email": p.get("email"),
            "name": p.get("name"),
            "metadata": p.get("metadata", {}),
        }
        self.customers[customer["id"]] = customer
        return 200, customer

    def create_coupon_api(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST /v1/coupons: percent_off, or amount_off with currency; duration and its months."""
        percent, amount = p.get("percent_off"), p.get("amount_off")
        if (percent is None) == (amount is None):
            return 400, _error(
                "invalid_request_error", "You must pass exactly one of percent_off or amount_off."
            )
        if amount is not None and not p.get("currency"):
            return 400, _error(
                "invalid_request_error", "You must pass currency when passing amount_off.", param="currency"
            )
        duration = p.get("duration", "once")
        if duration not in ("once", "repeating", "forever"):
            return 400, _error("invalid_request_error", "Invalid duration", param="duration")
        if duration == "repeating" and not p.get("duration_in_months"):
            return 400, _error(
                "invalid_request_error",
                "duration_in_months is required when duration is repeating.",
                param="duration_in_months",
            )
        made = coupon(
            percent_off=float(percent) if percent is not None else None,
            amount_off=int(amount) if amount is not None else None,
            currency=p.get("currency"),
            duration=duration,
            duration_in_months=int(p["duration_in_months"]) if p.get("duration_in_months") else None,
            created=int(time.time()),
        )
        made.update(
            name=p.get("name"),
            metadata=p.get("metadata", {}),
            max_redemptions=int(p["max_redemptions"]) if p.get("max_redemptions") else None,
            redeem_by=int(p["redeem_by"]) if p.get("redeem_by") else None,
        )
        # applies_to is includable: absent from the answer unless expanded
        self.coupons[made["id"]] = made
        self.coupon_products[made["id"]] = list((p.get("applies_to") or {}).get("products") or [])
        return 200, made

    def create_promotion_code(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST /v1/promotion_codes of 2025-09-30.clover and later: the coupon under promotion."""
        if "coupon" in p:
            return 400, _error("invalid_request_error", "Received unknown parameter: coupon", param="coupon")
        promotion = p.get("promotion") or {}
        if promotion.get("type") != "coupon" or promotion.get("coupon") not in self.coupons:
            return 400, _error(
                "invalid_request_error",
                f"No such coupon: '{promotion.get('coupon')}'",
                param="promotion[coupon]",
            )
        code = p.get("code") or new_id("CODE").upper()
        if any(c["code"].lower() == code.lower() and c["active"] for c in self.promotion_codes.values()):
            return 400, _error(
                "invalid_request_error", "An active promotion code with `code` already exists."
            )
        made = {
            "id": new_id("promo"),
            "object": "promotion_code",
            "active": _bool(p.get("active", "true")),
            "code": code,
            "created": int(time.time()),
            "customer": p.get("customer"),
            "expires_at": int(p["expires_at"]) if p.get("expires_at") else None,
            "livemode": False,
            "max_redemptions": int(p["max_redemptions"]) if p.get("max_redemptions") else None,
            "metadata": p.get("metadata", {}),
            "promotion": {"type": "coupon", "coupon": promotion["coupon"]},  # an id: not expanded
            "restrictions": {
                "first_time_transaction": False,
                "minimum_amount": None,
                "minimum_amount_currency": None,
            },
            "times_redeemed": 0,
        }
        self.promotion_codes[made["id"]] = made
        return 200, made

    def update_promotion_code(self, p: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        found = self.promotion_codes.get(id)
        if found is None:
            return 404, _error(
                "invalid_request_error", f"No such promotion code: '{id}'", code="resource_missing"
            )
        if "active" in p:
            found["active"] = _bool(p["active"])
        if "metadata" in p:
            found["metadata"] = p["metadata"]
        return 200, found

    def _promotion_code_problem(self, promo_id: str | None, price: dict[str, Any]) -> str | None:
        promo = self.promotion_codes.get(promo_id or "")
        if promo is None:
            return f"No such promotion code: '{promo_id}'"
        if not promo["active"]:
            return "This promotion code is not active."
        if promo["expires_at"] is not None and promo["expires_at"] <= time.time():
            return "This promotion code has expired."
        if promo["max_redemptions"] is not None and promo["times_redeemed"] >= promo["max_redemptions"]:
            return "This promotion code has been fully redeemed."
        products = self.coupon_products.get(promo["promotion"]["coupon"]) or []
        if products and price["product"] not in products:
            return "This promotion code cannot be applied to the items in this session."
        return None

    def create_checkout_session(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if p.get("mode") not in ("subscription", "payment"):
            return 400, _error(
                "invalid_request_error", "This fake knows subscription and payment mode.", param="mode"
            )
        if "customer" in p and "customer_email" in p:
            return 400, _error(
                "invalid_request_error",
                "You may only specify one of these parameters: customer, customer_email.",
            )
        if "customer_update" in p and "customer" not in p:
            return 400, _error(
                "invalid_request_error",
                "customer_update can only be used with customer.",
                param="customer_update",
            )
        if "customer" in p and p["customer"] not in self.customers:
            return 400, _error(
                "invalid_request_error", f"No such customer: '{p['customer']}'", param="customer"
            )
        if not p.get("success_url"):
            return 400, _error(
                "invalid_request_error", "Missing required param: success_url.", param="success_url"
            )
        items = p.get("line_items") or []
        if not items:
            return 400, _error(
                "invalid_request_error", "Missing required param: line_items.", param="line_items"
            )
        for item in items:
            if "price_data" in item:  # an inline one-time price (payment mode)
                data = item["price_data"]
                if p["mode"] != "payment" or "recurring" in data:
                    return 400, _error("invalid_request_error", "This fake only knows one-time price_data.")
                if data.get("product") not in self.products or not data.get("currency"):
                    return 400, _error(
                        "invalid_request_error",
                        f"No such product: '{data.get('product')}'",
                        param="line_items",
                    )
                continue
            price = self.prices.get(item.get("price"))
            if price is None or not price["active"]:
                return 400, _error("invalid_request_error", f"No such active price: '{item.get('price')}'")
        if p["mode"] == "payment" and "subscription_data" in p:
            return 400, _error(
                "invalid_request_error",
                "You can not pass `subscription_data` in `payment` mode.",
                param="subscription_data",
            )
        discounts = p.get("discounts") or []
        if discounts and "allow_promotion_codes" in p:
            return 400, _error(
                "invalid_request_error",
                "You may only specify one of these parameters: allow_promotion_codes, discounts.",
            )
        for item in discounts:
            if "promotion_code" in item:
                problem = self._promotion_code_problem(item["promotion_code"], self.prices[items[0]["price"]])
                if problem:
                    return 400, _error("invalid_request_error", problem, param="discounts")
            elif item.get("coupon") not in self.coupons:
                return 400, _error("invalid_request_error", f"No such coupon: '{item.get('coupon')}'")
        session_id = new_id("cs")
        one_time = [i["price_data"] for i in items if "price_data" in i]
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": p["mode"],
            "amount_total": sum(
                int(i["price_data"]["unit_amount"]) * int(i.get("quantity", 1))
                for i in items
                if "price_data" in i
            )
            if one_time
            else None,
            "currency": one_time[0]["currency"] if one_time else None,
            "payment_intent": None,
            "status": "open",
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "customer": p.get("customer"),
            "customer_email": p.get("customer_email"),
            "client_reference_id": p.get("client_reference_id"),
            "metadata": p.get("metadata", {}),
            "line_items": items,
            "subscription_data": p.get("subscription_data", {}),
            "automatic_tax": {"enabled": _bool((p.get("automatic_tax") or {}).get("enabled", "false"))},
            "success_url": p["success_url"],
            "cancel_url": p.get("cancel_url"),
            "subscription": None,
            "payment_status": "unpaid",
            "discounts": [
                {"coupon": d.get("coupon"), "promotion_code": d.get("promotion_code")} for d in discounts
            ],
        }
        self.checkout_sessions[session_id] = session
        return 200, session

    def create_portal_configuration(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST /v1/billing_portal/configurations: features as sent (booleans from the form)."""
        if not p.get("features"):
            return 400, _error("invalid_request_error", "Missing required param: features.", param="features")
        made = {
            "id": new_id("bpc"),
            "object": "billing_portal.configuration",
            "active": True,
            "is_default": False,
            "business_profile": p.get("business_profile", {}),
            "default_return_url": p.get("default_return_url"),
            "features": p["features"],
            "metadata": p.get("metadata", {}),
        }
        self.portal_configurations[made["id"]] = made
        return 200, made

    def update_portal_configuration(self, p: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        found = self.portal_configurations.get(id)
        if found is None:
            return 404, _error(
                "invalid_request_error", f"No such configuration: '{id}'", code="resource_missing"
            )
        found.update(
            {
                k: v
                for k, v in p.items()
                if k in ("business_profile", "default_return_url", "features", "metadata")
            }
        )
        return 200, found

    def create_portal_session(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if p.get("customer") not in self.customers:
            return 400, _error(
                "invalid_request_error",
                f"No such customer: '{p.get('customer')}'",
                param="customer",
            )
        if p.get("configuration") and p["configuration"] not in self.portal_configurations:
            return 400, _error("invalid_request_error", f"No such configuration: '{p['configuration']}'")
        flow = p.get("flow_data")
        if flow is not None:
            if flow.get("type") != "subscription_cancel":
                return 400, _error("invalid_request_error", "This fake knows the subscription_cancel flow.")
            cancel = flow.get("subscription_cancel") or {}
            sub = self.subscriptions.get(cancel.get("subscription") or "")
            if sub is None or sub["customer"] != p["customer"]:
                return 400, _error(
                    "invalid_request_error",
                    "The subscription does not belong to this customer.",
                    param="flow_data[subscription_cancel][subscription]",
                )
            if sub["cancel_at_period_end"]:
                return 400, _error("invalid_request_error", "This subscription is already set to cancel.")
            offer = cancel.get("retention")
            if offer is not None and (
                offer.get("type") != "coupon_offer"
                or (offer.get("coupon_offer") or {}).get("coupon") not in self.coupons
            ):
                return 400, _error(
                    "invalid_request_error",
                    "Invalid retention coupon.",
                    param="flow_data[subscription_cancel][retention]",
                )
        portal = {
            "id": new_id("bps"),
            "object": "billing_portal.session",
            "configuration": p.get("configuration"),
            "customer": p["customer"],
            "flow": flow,
            "return_url": p.get("return_url"),
            "url": f"https://billing.stripe.test/p/session/{new_id('x')}",
        }
        self.portal_sessions[portal["id"]] = portal
        return 200, portal

    def create_invoice(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A one-off draft invoice (no subscription: `parent` is null)."""
        if p.get("customer") not in self.customers:
            return 400, _error(
                "invalid_request_error", f"No such customer: '{p.get('customer')}'", param="customer"
            )
        method = p.get("collection_method", "charge_automatically")
        if method == "send_invoice" and "days_until_due" not in p and "due_date" not in p:
            return 400, _error(
                "invalid_request_error",
                "Invoices with collection_method send_invoice need days_until_due or due_date.",
                param="days_until_due",
            )
        customer = self.customers[p["customer"]]
        invoice_id = new_id("in")
        made = {
            "id": invoice_id,
            "object": "invoice",
            "customer": p["customer"],
            "customer_email": customer["email"],
            "customer_name": customer.get("name"),
            "collection_method": method,
            "currency": p.get("currency", "usd"),
            "description": p.get("description"),
            "status": "draft",
            "amount_due": 0,
            "amount_paid": 0,
            "amount_remaining": 0,
            "total": 0,
            "total_taxes": [],
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "number": None,
            "metadata": p.get("metadata", {}),
            "parent": None,
            "status_transitions": {"finalized_at": None, "paid_at": None},
            "lines": {
                "object": "list",
                "data": [],
                "has_more": False,
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
        }
        self.invoices[invoice_id] = made
        return 200, made

    def create_invoice_item(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        invoice = self.invoices.get(p.get("invoice", ""))
        if invoice is None or invoice["status"] != "draft":
            return 400, _error("invalid_request_error", "The invoice must be a draft.", param="invoice")
        try:
            amount = int(p["amount"])
        except (KeyError, ValueError):
            return 400, _error("invalid_request_error", "Invalid integer: amount", param="amount")
        if p.get("currency", invoice["currency"]) != invoice["currency"]:
            return 400, _error(
                "invalid_request_error", "The item's currency must be the invoice's.", param="currency"
            )
        item = {
            "id": new_id("ii"),
            "object": "invoiceitem",
            "amount": amount,
            "currency": invoice["currency"],
            "customer": p.get("customer"),
            "description": p.get("description"),
            "invoice": invoice["id"],
            "metadata": p.get("metadata", {}),
            "parent": None,
        }
        invoice["lines"]["data"].append(
            {
                "id": new_id("il"),
                "object": "line_item",
                "amount": amount,
                "currency": invoice["currency"],
                "description": item["description"],
                "invoice": invoice["id"],
                "parent": {
                    "type": "invoice_item_details",
                    "invoice_item_details": {"invoice_item": item["id"]},
                },
            }
        )
        invoice["amount_due"] = invoice["amount_remaining"] = invoice["total"] = (
            invoice["amount_due"] + amount
        )
        return 200, item

    def finalize_invoice(self, p: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        invoice = self.invoices.get(id)
        if invoice is None:
            return 404, _error("invalid_request_error", f"No such invoice: '{id}'", code="resource_missing")
        if invoice["status"] != "draft":
            return 400, _error(
                "invalid_request_error",
                "This invoice is already finalized.",
                code="invoice_already_finalized",
            )
        invoice["status"] = "open"
        invoice["number"] = f"MH-{len(self.invoices):04d}"
        invoice["hosted_invoice_url"] = f"https://invoice.stripe.test/i/{id}"
        invoice["invoice_pdf"] = f"https://pay.stripe.test/invoice/{id}/pdf"
        invoice["status_transitions"]["finalized_at"] = int(time.time())
        return 200, invoice

    def create_payment_link(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        items = p.get("line_items") or []
        if not items:
            return 400, _error(
                "invalid_request_error", "Missing required param: line_items.", param="line_items"
            )
        for item in items:
            price = self.prices.get(item.get("price"))
            if price is None or not price["active"]:
                return 400, _error("invalid_request_error", f"No such active price: '{item.get('price')}'")
        link_id = new_id("plink")
        restrictions = p.get("restrictions")
        link = {
            "id": link_id,
            "object": "payment_link",
            "active": True,
            "url": f"https://buy.stripe.test/{link_id}",
            "currency": self.prices[items[0]["price"]]["currency"],
            "metadata": p.get("metadata", {}),
            "customer_creation": p.get("customer_creation", "if_required"),
            "restrictions": {
                "completed_sessions": {"count": 0, "limit": int(restrictions["completed_sessions"]["limit"])}
            }
            if restrictions
            else None,
            "line_items": items,  # kept for paying; the API answers line_items only when expanded
        }
        self.payment_links[link_id] = link
        answer = {k: v for k, v in link.items() if k != "line_items"}
        return 200, answer

    # -- playing the customer ------------------------------------------------------------------

    def pay_invoice(self, invoice_id: str, created: int) -> list[dict[str, Any]]:
        """The sponsor pays a finalised one-off invoice: the events Stripe sends, ids unexpanded."""
        with self.lock:
            invoice = self.invoices[invoice_id]
            invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
            invoice["status_transitions"]["paid_at"] = created
            snapshot = json.loads(json.dumps(invoice))
        return [
            event("invoice.paid", snapshot, created),
            event("invoice.payment_succeeded", json.loads(json.dumps(snapshot)), created),
        ]

    def pay_payment_link(
        self, link_id: str, created: int, email: str = "buyer@example.com"
    ) -> list[dict[str, Any]]:
        """Someone pays through a payment link: its Checkout Session's completion, as sent."""
        with self.lock:
            link = self.payment_links[link_id]
            limit = link["restrictions"]
            if limit and limit["completed_sessions"]["count"] >= limit["completed_sessions"]["limit"]:
                raise RuntimeError("this payment link accepts no more payments (Stripe deactivates it)")
            if limit:
                limit["completed_sessions"]["count"] += 1
                link["active"] = limit["completed_sessions"]["count"] < limit["completed_sessions"]["limit"]
            total = sum(
                self.prices[i["price"]]["unit_amount"] * int(i.get("quantity", 1)) for i in link["line_items"]
            )
            session_id = new_id("cs")
            completed = {
                "id": session_id,
                "object": "checkout.session",
                "mode": "payment",
                "status": "complete",
                "payment_status": "paid",
                "payment_link": link_id,
                "payment_intent": new_id("pi"),
                "amount_subtotal": total,
                "amount_total": total,
                "currency": link["currency"],
                "customer": None,  # customer_creation if_required: none for a one-off payment
                "customer_email": None,
                "customer_details": {"email": email, "name": None},
                "client_reference_id": None,
                "metadata": dict(link["metadata"]),  # a link's metadata is copied to its sessions
                "subscription": None,
                "invoice": None,
                "url": None,
            }
            self.checkout_sessions[session_id] = completed
        return [event("checkout.session.completed", json.loads(json.dumps(completed)), created)]

    # -- playing the customer (subscriptions) --------------------------------------------------

    def complete_checkout(
        self, session_id: str, created: int, tax: int = 0, email: str | None = None
    ) -> list[dict[str, Any]]:
        """The customer pays: returns the events Stripe sends (session, subscription, invoice).

        `email` is what a buyer without `customer_email` typed at Checkout.
        """
        with self.lock:
            session = self.checkout_sessions[session_id]
            if session["mode"] == "payment":  # a one-time payment: no customer made, no invoice
                session.update(
                    status="complete",
                    payment_status="paid",
                    payment_intent=new_id("pi"),
                    customer_details={"email": session["customer_email"] or email, "name": None},
                )
                return [event("checkout.session.completed", json.loads(json.dumps(session)), created)]
            customer_id = session["customer"]
            if customer_id is None:
                _, customer = self.create_customer({"email": session["customer_email"] or email})
                customer_id = customer["id"]
            price = self.prices[session["line_items"][0]["price"]]
            data = session["subscription_data"] or {}
            trial_days = int(data.get("trial_period_days", 0))
            sub = subscription(
                customer=customer_id,
                status="trialing" if trial_days else "active",
                price_id=price["id"],
                unit_amount=price["unit_amount"],
                currency=price["currency"],
                interval=price["recurring"]["interval"],
                interval_count=price["recurring"]["interval_count"],
                quantity=int(session["line_items"][0].get("quantity", 1)),
                period_start=created,
                metadata=data.get("metadata", {}),
                trial_end=created + trial_days * 86400 if trial_days else None,
            )
            made_discounts = []
            for item in session.get("discounts") or []:
                promo = self.promotion_codes.get(item.get("promotion_code") or "")
                coupon_id = promo["promotion"]["coupon"] if promo else item.get("coupon")
                made = discount(
                    coupon_id=coupon_id, customer=customer_id, subscription_id=sub["id"], start=created
                )
                made.update(checkout_session=session_id, promotion_code=promo["id"] if promo else None)
                self.discounts[made["id"]] = made
                made_discounts.append(made)
                if promo:
                    promo["times_redeemed"] += 1
                self.coupons[coupon_id]["times_redeemed"] += 1
            sub["discounts"] = [d["id"] for d in made_discounts]  # ids: never expanded in events
            self.subscriptions[sub["id"]] = sub
            session.update(
                status="complete",
                customer=customer_id,
                subscription=sub["id"],
                # A trial takes no payment now: Stripe says so rather than "paid".
                payment_status="no_payment_required" if trial_days else "paid",
            )
            session["customer_details"] = {
                "email": session["customer_email"] or self.customers[customer_id]["email"]
            }
        amount = price["unit_amount"]
        for made in made_discounts:
            terms = self.coupons[made["source"]["coupon"]]
            if terms["percent_off"] is not None:
                amount -= round(amount * terms["percent_off"] / 100)
            else:
                amount = max(0, amount - terms["amount_off"])
        paid = invoice(
            customer=customer_id,
            subscription_id=sub["id"],
            amount_paid=0 if trial_days else amount + tax,
            tax=0 if trial_days else tax,
            currency=price["currency"],
            paid_at=created,
            period_start=created,
            customer_email=session["customer_details"]["email"],
            metadata=data.get("metadata", {}),
        )
        return [
            event("checkout.session.completed", dict(session), created),
            event("customer.subscription.created", json.loads(json.dumps(sub)), created),
            *[event("customer.discount.created", dict(d), created) for d in made_discounts],
            event("invoice.paid", paid, created),
        ]

    def add_customer(self, email: str | None = None, customer_id: str | None = None) -> dict[str, Any]:
        """A customer as Stripe holds it (one that paid elsewhere, on this account)."""
        with self.lock:
            customer = {
                "id": customer_id or new_id("cus"),
                "object": "customer",
                "email": email,
                "metadata": {},
            }
            self.customers[customer["id"]] = customer
        return customer

    def delete_customer(self, customer_id: str) -> None:
        """Delete a customer: a retrieve then answers the deleted stub, as Stripe does."""
        with self.lock:
            self.customers[customer_id] = {"id": customer_id, "object": "customer", "deleted": True}

    def update_subscription(self, p: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        """POST /v1/subscriptions/<id>: pause_collection (an empty value unsets it) and the price
        of an item; the customer.subscription.updated event goes to `sent`."""
        sub = self.subscriptions.get(id)
        if sub is None:
            return 404, _error(
                "invalid_request_error", f"No such subscription: '{id}'", code="resource_missing"
            )
        before = json.loads(json.dumps(sub))
        previous: dict[str, Any] = {}
        if "pause_collection" in p:
            raw = p["pause_collection"]
            if raw == "":
                value = None
            elif isinstance(raw, dict) and raw.get("behavior") in (
                "void",
                "keep_as_draft",
                "mark_uncollectible",
            ):
                value = {
                    "behavior": raw["behavior"],
                    "resumes_at": int(raw["resumes_at"]) if raw.get("resumes_at") else None,
                }
            else:
                return 400, _error(
                    "invalid_request_error", "Invalid pause_collection", param="pause_collection"
                )
            previous["pause_collection"] = before["pause_collection"]
            sub["pause_collection"] = value
        for change in p.get("items") or []:
            item = next((i for i in sub["items"]["data"] if i["id"] == change.get("id")), None)
            price = self.prices.get(change.get("price") or "")
            if item is None or price is None or not price["active"]:
                return 400, _error("invalid_request_error", "Invalid items", param="items")
            previous["items"] = before["items"]
            item["price"] = {
                "id": price["id"],
                "object": "price",
                "unit_amount": price["unit_amount"],
                "currency": price["currency"],
                "recurring": dict(price["recurring"]),
            }
            if price["recurring"]["interval"] == "year":
                start = int(time.time())
                item["current_period_start"], item["current_period_end"] = start, start + 365 * 86400
        if "proration_behavior" in p and p["proration_behavior"] not in (
            "create_prorations",
            "none",
            "always_invoice",
        ):
            return 400, _error(
                "invalid_request_error", "Invalid proration_behavior", param="proration_behavior"
            )
        self.sent.append(
            event(
                "customer.subscription.updated",
                json.loads(json.dumps(sub)),
                int(time.time()),
                previous=previous,
            )
        )
        return 200, sub

    def take_sent(self) -> list[dict[str, Any]]:
        """The events API calls caused since the last take, oldest first."""
        with self.lock:
            out, self.sent = self.sent, []
        return out

    def cancel_in_portal(
        self, sub_id: str, created: int, feedback: str | None = None, comment: str | None = None
    ) -> list[dict[str, Any]]:
        """The customer cancels at period end in the portal, answering its reason question."""
        with self.lock:
            sub = self.subscriptions[sub_id]
            previous = {
                "cancel_at_period_end": False,
                "cancel_at": None,
                "cancellation_details": dict(sub.get("cancellation_details") or _no_details()),
            }
            period_end = sub["items"]["data"][0]["current_period_end"]
            sub.update(
                cancel_at_period_end=True,
                cancel_at=period_end,
                canceled_at=created,
                cancellation_details={
                    "comment": comment,
                    "feedback": feedback,
                    "reason": "cancellation_requested",
                },
            )
            snapshot = json.loads(json.dumps(sub))
        return [event("customer.subscription.updated", snapshot, created, previous=previous)]

    def undo_cancel(self, sub_id: str, created: int) -> list[dict[str, Any]]:
        """The customer renews in the portal before the period ends."""
        with self.lock:
            sub = self.subscriptions[sub_id]
            previous = {
                "cancel_at_period_end": True,
                "cancel_at": sub["cancel_at"],
                "canceled_at": sub["canceled_at"],
                "cancellation_details": dict(sub["cancellation_details"]),
            }
            sub.update(
                cancel_at_period_end=False,
                cancel_at=None,
                canceled_at=None,
                cancellation_details=_no_details(),
            )
            snapshot = json.loads(json.dumps(sub))
        return [event("customer.subscription.updated", snapshot, created, previous=previous)]

    def end_subscription(self, sub_id: str, created: int) -> list[dict[str, Any]]:
        """The period ends on a scheduled cancellation: customer.subscription.deleted."""
        with self.lock:
            sub = self.subscriptions[sub_id]
            sub.update(status="canceled", ended_at=created, canceled_at=sub["canceled_at"] or created)
            snapshot = json.loads(json.dumps(sub))
        return [event("customer.subscription.deleted", snapshot, created)]

    def set_status(self, sub_id: str, status: str, created: int) -> list[dict[str, Any]]:
        """A payment fails (past_due) or recovers (active): the subscription's update event."""
        with self.lock:
            sub = self.subscriptions[sub_id]
            previous = {"status": sub["status"]}
            sub["status"] = status
            snapshot = json.loads(json.dumps(sub))
        return [event("customer.subscription.updated", snapshot, created, previous=previous)]

    def add_subscription(self, sub: dict[str, Any]) -> dict[str, Any]:
        """Keep a subscription (built with `subscription(...)`) as Stripe holds it."""
        with self.lock:
            self.subscriptions[sub["id"]] = sub
        return sub

    def create_coupon(self, created: int, **terms: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The operator creates a coupon: (the coupon, the coupon.created event)."""
        with self.lock:
            made = coupon(created=created, **terms)
            self.coupons[made["id"]] = made
        return made, [event("coupon.created", dict(made), created)]

    def delete_coupon(self, coupon_id: str, created: int) -> list[dict[str, Any]]:
        """Delete a coupon: discounts already made from it keep applying; GET is then a 404."""
        with self.lock:
            gone = self.coupons.pop(coupon_id)
        return [event("coupon.deleted", dict(gone), created)]

    def apply_coupon(
        self, sub_id: str, coupon_id: str, created: int, end: int | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A coupon applied to a subscription: (the discount, the events, ids only, as sent).

        A repeating coupon's discount ends `duration_in_months` after it starts (pass `end`).
        """
        with self.lock:
            sub = self.subscriptions[sub_id]
            made = discount(
                coupon_id=coupon_id,
                customer=sub["customer"],
                subscription_id=sub_id,
                start=created,
                end=end,
            )
            self.discounts[made["id"]] = made
            before = list(sub["discounts"])
            sub["discounts"] = [*before, made["id"]]
            snapshot = json.loads(json.dumps(sub))
        return made, [
            event("customer.discount.created", dict(made), created),
            event("customer.subscription.updated", snapshot, created, previous={"discounts": before}),
        ]

    def remove_discount(self, sub_id: str, discount_id: str, created: int) -> list[dict[str, Any]]:
        """A discount removed from a subscription: the events, as sent."""
        with self.lock:
            sub = self.subscriptions[sub_id]
            before = list(sub["discounts"])
            sub["discounts"] = [d for d in before if d != discount_id]
            gone = self.discounts.pop(discount_id)
            snapshot = json.loads(json.dumps(sub))
        return [
            event("customer.discount.deleted", gone, created),
            event("customer.subscription.updated", snapshot, created, previous={"discounts": before}),
        ]

    # -- after the payment: charges, refunds, disputes ------------------------------------------

    def charge(
        self, customer: str | None, amount: int, created: int, currency: str = "usd"
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A card payment succeeds (an invoice's, or a one-time one): (the Charge, its event).

        Since API 2025-03-31 a Charge names no invoice; its customer and payment intent are ids.
        """
        with self.lock:
            made = charge_object(customer=customer, amount=amount, created=created, currency=currency)
            self.charges[made["id"]] = made
            snapshot = json.loads(json.dumps(made))
        return made, [event("charge.succeeded", snapshot, created)]

    def refund(self, charge_id: str, amount: int | None, created: int) -> list[dict[str, Any]]:
        """The operator refunds part (or, `amount` None, the rest) of a charge: the events sent.

        `charge.refunded` carries the Charge with the cumulative `amount_refunded`; its `refunds`
        list is not included (not expanded since API 2022-11-15). `refund.created` carries the
        Refund itself.
        """
        with self.lock:
            ch = self.charges[charge_id]
            left = ch["amount"] - ch["amount_refunded"]
            amount = left if amount is None else amount
            if not 0 < amount <= left:
                raise RuntimeError("Stripe refuses a refund over what is left of the charge")
            ch["amount_refunded"] += amount
            ch["refunded"] = ch["amount_refunded"] == ch["amount"]
            made = {
                "id": new_id("re"),
                "object": "refund",
                "amount": amount,
                "balance_transaction": new_id("txn"),
                "charge": charge_id,
                "created": created,
                "currency": ch["currency"],
                "destination_details": {"type": "card", "card": {"type": "refund"}},
                "metadata": {},
                "payment_intent": ch["payment_intent"],
                "reason": "requested_by_customer",
                "receipt_number": None,
                "source_transfer_reversal": None,
                "status": "succeeded",
                "transfer_reversal": None,
            }
            snapshot = json.loads(json.dumps(ch))
        return [
            event("charge.refunded", snapshot, created),
            event("refund.created", made, created),
        ]

    def dispute(self, charge_id: str, created: int, reason: str = "fraudulent") -> list[dict[str, Any]]:
        """The cardholder disputes the charge: the amount and a fee are withdrawn at once."""
        with self.lock:
            ch = self.charges[charge_id]
            ch["disputed"] = True
            made = {
                "id": new_id("du"),
                "object": "dispute",
                "amount": ch["amount"],
                "balance_transactions": [
                    _dispute_transaction(-ch["amount"], ch["currency"], created, "dispute", charge_id)
                ],
                "charge": charge_id,
                "created": created,
                "currency": ch["currency"],
                "enhanced_eligibility_types": [],
                "evidence": {"customer_email_address": None, "uncategorized_text": None},
                "evidence_details": {
                    "due_by": created + 7 * 86400,
                    "enhanced_eligibility": {},
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": ch["payment_intent"],
                "payment_method_details": {
                    "type": "card",
                    "card": {"brand": "visa", "network_reason_code": "10.4"},
                },
                "reason": reason,
                "status": "needs_response",
            }
            self.disputes[made["id"]] = made
            snapshot = json.loads(json.dumps(made))
        return [
            event("charge.dispute.created", snapshot, created),
            event("charge.dispute.funds_withdrawn", json.loads(json.dumps(snapshot)), created),
        ]

    def submit_evidence(self, dispute_id: str, created: int) -> list[dict[str, Any]]:
        """The operator answers the dispute: it goes under review."""
        with self.lock:
            du = self.disputes[dispute_id]
            du["status"] = "under_review"
            du["evidence_details"].update(has_evidence=True, submission_count=1)
            snapshot = json.loads(json.dumps(du))
        return [event("charge.dispute.updated", snapshot, created, previous={"status": "needs_response"})]

    def close_dispute(self, dispute_id: str, won: bool, created: int) -> list[dict[str, Any]]:
        """The bank decides: won gives the amount back (not the fee), lost keeps it withdrawn."""
        with self.lock:
            du = self.disputes[dispute_id]
            du["status"] = "won" if won else "lost"
            if won:
                du["balance_transactions"].append(
                    _dispute_transaction(
                        du["amount"], du["currency"], created, "dispute_reversal", du["charge"]
                    )
                )
            snapshot = json.loads(json.dumps(du))
        events = [event("charge.dispute.closed", snapshot, created)]
        if won:
            events.append(event("charge.dispute.funds_reinstated", json.loads(json.dumps(snapshot)), created))
        return events


def charge_object(
    *, customer: str | None, amount: int, created: int, currency: str = "usd"
) -> dict[str, Any]:
    """A Charge of API 2026-10-28.endive: no `invoice`, `refunds` not included, ids unexpanded."""
    return {
        "id": new_id("ch"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "balance_transaction": new_id("txn"),
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "captured": True,
        "created": created,
        "currency": currency,
        "customer": customer,
        "description": None,
        "disputed": False,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "outcome": {"network_status": "approved_by_network", "type": "authorized", "risk_level": "normal"},
        "paid": True,
        "payment_intent": new_id("pi"),
        "payment_method": new_id("pm"),
        "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242"}},
        "receipt_url": None,
        "refunded": False,
        "status": "succeeded",
    }


def _dispute_transaction(
    amount: int, currency: str, created: int, category: str, charge_id: str
) -> dict[str, Any]:
    """A dispute's balance transaction (a full object inside the Dispute): funds out or back."""
    fee = 1500 if amount < 0 else 0
    return {
        "id": new_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created,
        "created": created,
        "currency": currency,
        "description": f"Chargeback {'withdrawal' if amount < 0 else 'reversal'} for {charge_id}",
        "exchange_rate": None,
        "fee": fee,
        "fee_details": [
            {"amount": fee, "currency": currency, "description": "Dispute fee", "type": "stripe_fee"}
        ]
        if fee
        else [],
        "net": amount - fee,
        "reporting_category": category,
        "source": None,
        "status": "available",
        "type": "adjustment",
    }


def _no_details() -> dict[str, Any]:
    return {"comment": None, "feedback": None, "reason": None}


def _error(type_: str, message: str, **extra: str) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message, **extra}}


def encode(payload: dict[str, Any]) -> bytes:
    """An event as Stripe sends it: compact JSON bytes."""
    return json.dumps(payload, separators=(",", ":")).encode()
