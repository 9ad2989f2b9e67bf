"""The one door to Stripe: a StripeClient built once in init_app, reached via `get_gateway()`."""

from __future__ import annotations

import logging
from typing import Any

import stripe
from flask import Flask, current_app

from growth.errors import DomainError, NotConfigured

log = logging.getLogger(__name__)


class StripeUnavailable(DomainError):
    """Stripe refused or could not be reached."""

    status = 502
    code = "stripe_error"


class StripeGateway:
    """The Stripe calls Masthead makes, on the API version the installed SDK pins."""

    def __init__(self, api_key: str, api_base: str | None = None, max_network_retries: int = 2):
        options: dict[str, Any] = {"max_network_retries": max_network_retries}
        if api_base:
            options["base_addresses"] = {"api": api_base}
        self.client = stripe.StripeClient(api_key, **options)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except stripe.StripeError as exc:
            log.warning("stripe %s failed: %s", what, exc)
            raise StripeUnavailable(f"Stripe could not {what}: {exc.user_message or exc}") from exc

    def create_product(self, params: dict[str, Any], idempotency_key: str) -> Any:
        return self._call(
            "create the product",
            self.client.v1.products.create,
            params,
            {"idempotency_key": idempotency_key},
        )

    def update_product(self, product_id: str, params: dict[str, Any]) -> Any:
        return self._call("update the product", self.client.v1.products.update, product_id, params)

    def create_price(self, params: dict[str, Any], idempotency_key: str) -> Any:
        return self._call(
            "create the price",
            self.client.v1.prices.create,
            params,
            {"idempotency_key": idempotency_key},
        )

    def deactivate_price(self, price_id: str) -> Any:
        return self._call("archive the price", self.client.v1.prices.update, price_id, {"active": False})

    def _create(self, what: str, fn: Any, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """A create call answered as a plain dict; the key makes a retry return the same object."""
        return self._call(what, fn, params, {"idempotency_key": idempotency_key}).to_dict()

    def create_customer(self, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return self._create("create the customer", self.client.v1.customers.create, params, idempotency_key)

    def create_invoice(self, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return self._create("create the invoice", self.client.v1.invoices.create, params, idempotency_key)

    def create_invoice_item(self, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return self._create(
            "add the invoice item", self.client.v1.invoice_items.create, params, idempotency_key
        )

    def finalize_invoice(self, invoice_id: str, idempotency_key: str) -> dict[str, Any]:
        """Finalise a draft invoice (keyed: a retry replays the first answer instead of an error)."""
        return self._call(
            "finalize the invoice",
            self.client.v1.invoices.finalize_invoice,
            invoice_id,
            {},
            {"idempotency_key": idempotency_key},
        ).to_dict()

    def create_one_off_price(self, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return self._create("create the price", self.client.v1.prices.create, params, idempotency_key)

    def create_payment_link(self, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return self._create(
            "create the payment link", self.client.v1.payment_links.create, params, idempotency_key
        )

    def create_coupon(self, params: dict[str, Any], idempotency_key: str) -> Any:
        return self._call(
            "create the coupon", self.client.v1.coupons.create, params, {"idempotency_key": idempotency_key}
        )

    def create_promotion_code(self, params: dict[str, Any], idempotency_key: str) -> Any:
        return self._call(
            "create the promotion code",
            self.client.v1.promotion_codes.create,
            params,
            {"idempotency_key": idempotency_key},
        )

    def deactivate_promotion_code(self, promotion_code_id: str) -> Any:
        return self._call(
            "end the promotion code",
            self.client.v1.promotion_codes.update,
            promotion_code_id,
            {"active": False},
        )

    def create_checkout_session(self, params: dict[str, Any]) -> Any:
        return self._call("start checkout", self.client.v1.checkout.sessions.create, params)

    def create_portal_session(
        self,
        customer_id: str,
        return_url: str,
        configuration: str | None = None,
        flow_data: dict[str, Any] | None = None,
    ) -> Any:
        params: dict[str, Any] = {"customer": customer_id, "return_url": return_url}
        if configuration:
            params["configuration"] = configuration
        if flow_data:
            params["flow_data"] = flow_data
        return self._call("open the billing portal", self.client.v1.billing_portal.sessions.create, params)

    def create_portal_configuration(self, params: dict[str, Any], idempotency_key: str) -> Any:
        return self._call(
            "configure the billing portal",
            self.client.v1.billing_portal.configurations.create,
            params,
            {"idempotency_key": idempotency_key},
        )

    def update_portal_configuration(self, configuration_id: str, params: dict[str, Any]) -> Any:
        return self._call(
            "configure the billing portal",
            self.client.v1.billing_portal.configurations.update,
            configuration_id,
            params,
        )

    def update_subscription(self, subscription_id: str, params: dict[str, Any], idempotency_key: str) -> Any:
        return self._call(
            "change the subscription",
            self.client.v1.subscriptions.update,
            subscription_id,
            params,
            {"idempotency_key": idempotency_key},
        )

    def retrieve_subscription(self, subscription_id: str, expand: list[str] | None = None) -> Any:
        """A subscription, with `expand` (e.g. discounts); None when Stripe has no such one."""
        params: dict[str, Any] = {"expand": expand} if expand else {}
        return self._retrieve(
            "read the subscription", self.client.v1.subscriptions.retrieve, subscription_id, params
        )

    def retrieve_coupon(self, coupon_id: str) -> Any:
        """A coupon and its terms; None when Stripe has no such coupon (e.g. deleted)."""
        return self._retrieve("read the coupon", self.client.v1.coupons.retrieve, coupon_id, {})

    def retrieve_customer(self, customer_id: str) -> Any:
        """A customer (`deleted: true` once deleted); None when Stripe has no such customer."""
        return self._retrieve("read the customer", self.client.v1.customers.retrieve, customer_id, {})

    def list_subscriptions(self, customer_id: str) -> list[dict[str, Any]]:
        """Every subscription of a customer that is not canceled (Stripe's default), page by page."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"customer": customer_id, "limit": 100}
        while True:
            page = self._call("list the subscriptions", self.client.v1.subscriptions.list, params)
            items = [item.to_dict() for item in page.data]
            found.extend(items)
            if not page.has_more or not items:
                return found
            params = {**params, "starting_after": items[-1]["id"]}

    def _retrieve(self, what: str, fn: Any, object_id: str, params: dict[str, Any]) -> Any:
        try:
            found = fn(object_id, params)
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":
                return None
            log.warning("stripe %s failed: %s", what, exc)
            raise StripeUnavailable(f"Stripe could not {what}: {exc.user_message or exc}") from exc
        except stripe.StripeError as exc:
            log.warning("stripe %s failed: %s", what, exc)
            raise StripeUnavailable(f"Stripe could not {what}: {exc.user_message or exc}") from exc
        return found.to_dict()


def init_app(app: Flask) -> None:
    """Build the gateway when STRIPE_SECRET_KEY is set."""
    config = app.config["MASTHEAD"]
    if config.stripe_secret_key:
        app.extensions["masthead_stripe"] = StripeGateway(config.stripe_secret_key, config.stripe_api_base)


def is_configured() -> bool:
    """Whether payments can be taken on this installation."""
    return "masthead_stripe" in current_app.extensions


def optional_gateway() -> StripeGateway | None:
    """The app's gateway, or None without STRIPE_SECRET_KEY (for work that can wait for Stripe)."""
    return current_app.extensions.get("masthead_stripe")


def get_gateway() -> StripeGateway:
    """The app's gateway; NotConfigured (503) without STRIPE_SECRET_KEY."""
    gateway = current_app.extensions.get("masthead_stripe")
    if gateway is None:
        raise NotConfigured(
            "Payments are not configured: STRIPE_SECRET_KEY is not set.",
            code="payments_not_configured",
        )
    return gateway  # type: ignore[no-any-return]
