"""Subscriber billing pages and the Stripe webhook endpoint; thin: parse, one call, render."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request

from billing import gateway, gifts, offers, self_service, service, webhooks
from growth import attribution_touches, links, readers, subscribers
from growth.auth import current_operator
from growth.db import commit, db, utcnow
from growth.errors import DomainError, InvalidRequest
from growth.models import Subscriber
from growth.params import as_id
from growth.tokens import read_token

bp = Blueprint("billing", __name__)
webhooks_bp = Blueprint("billing_webhooks", __name__)


def _subscriber(token: str | None) -> Subscriber:
    """The subscriber a signed manage link names."""
    if not token:
        raise InvalidRequest(
            "This page needs your personal link (from any of our emails).", code="missing_token"
        )
    return subscribers.subscriber_for_token(db.session, read_token("manage", token))


def _link_problem(exc: DomainError):  # type: ignore[no-untyped-def]
    return render_template("growth/link_problem.html", message=exc.message, code=exc.code), exc.status


def _started_from_post(raw: object) -> int | None:
    """The post whose paywall or upgrade link led here (`?post=`), when it names a post we have.

    Anything else (no post, not a number, a post that is gone) is ignored: the page and Checkout
    work the same, the payment is just credited by the reader's reads instead (billing.attribution).
    """
    post_id = as_id(raw)
    if post_id is None:
        return None
    return post_id if attribution_touches.known_posts(db.session, [post_id]) else None


def _pricing_page(subscriber: Subscriber | None, token: str | None):  # type: ignore[no-untyped-def]
    """The one pricing page: for a known reader (their plan, Checkout for them) or a stranger."""
    configured = gateway.is_configured()
    operator = current_operator()
    in_force = offers.offer_in_force(
        db.session, request.args.get("code"), request.args.get("offer"), utcnow()
    )
    return render_template(
        "billing/pricing.html",
        subscriber=subscriber,
        token=token,
        offer=in_force,
        tiers=service.pricing(db.session, configured),
        configured=configured,
        setup_steps=service.setup_steps(db.session, configured) if operator is not None else [],
        current=service.paying_subscription(db.session, subscriber) if subscriber is not None else None,
        canceled=request.args.get("checkout") == "canceled",
        paid=request.args.get("checkout") == "success",
        gift_sent=request.args.get("gift") == "sent",
        gift_months=gifts.GIFT_MONTHS,
        post_id=_started_from_post(request.args.get("post")),
    )


@bp.get("/pricing")
def pricing():  # type: ignore[no-untyped-def]
    """The public pricing page; a reader known by ?t=, ?r= or cookie sees it as themselves.

    A link that no longer names anyone shows the page as to a stranger, never an error.
    """
    token = request.args.get("t")
    subscriber = None
    if token:
        try:
            subscriber = _subscriber(token)
        except DomainError:
            token = None
    if subscriber is None:
        subscriber = readers.reader_subscriber(
            db.session, request.args.get("r"), request.cookies.get(readers.READER_COOKIE)
        )
        token = links.manage_token(subscriber) if subscriber is not None else None
    return _pricing_page(subscriber, token)


@bp.get("/upgrade")
def upgrade():  # type: ignore[no-untyped-def]
    """The pricing page (older upgrade links and paywalls lead here)."""
    return pricing()


@bp.get("/me/<token>/upgrade")
def upgrade_for(token: str):  # type: ignore[no-untyped-def]
    """The pricing page under the subscriber's own pages."""
    try:
        subscriber = _subscriber(token)
    except DomainError as exc:
        return _link_problem(exc)
    return _pricing_page(subscriber, token)


@bp.get("/me/<token>/billing")
def billing_page(token: str):  # type: ignore[no-untyped-def]
    """The subscriber's plan, and the way to Stripe's portal (the dunning email links here)."""
    try:
        subscriber = _subscriber(token)
    except DomainError as exc:
        return _link_problem(exc)
    paying = service.paying_subscription(db.session, subscriber)
    return render_template(
        "billing/billing.html",
        subscriber=subscriber,
        token=token,
        subscriptions=service.subscriptions_of(db.session, subscriber),
        has_account=service.customer_of(db.session, subscriber) is not None,
        configured=gateway.is_configured(),
        success=request.args.get("checkout") == "success",
        paying=paying,
        yearly=self_service.yearly_price_for(db.session, paying) if paying else None,
        pause_months=self_service.PAUSE_MONTHS,
        changed=request.args.get("changed"),
    )


def _form_or_json() -> dict:
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise InvalidRequest("The body must be a JSON object.", code="malformed_json")
        return data
    return request.form.to_dict()


def _respond_with_url(url: str):  # type: ignore[no-untyped-def]
    if request.is_json:
        return jsonify({"url": url})
    return redirect(url, code=303)


@bp.post("/billing/checkout")
def checkout():  # type: ignore[no-untyped-def]
    """Start Stripe Checkout for a tier and interval, then send the subscriber there."""
    data = _form_or_json()
    stripe_gateway = gateway.get_gateway()
    # Without a personal link the buyer is a stranger: Checkout asks their email.
    subscriber = _subscriber(data.get("t")) if data.get("t") else None
    tier_id = as_id(data.get("tier_id"))
    if tier_id is None:
        raise InvalidRequest("tier_id must be a tier's number", code="invalid_tier")
    offer_id = as_id(data.get("offer_id")) if data.get("offer_id") not in (None, "") else None
    if data.get("offer_id") not in (None, "") and offer_id is None:
        raise InvalidRequest("offer_id must be an offer's number", code="invalid_offer")
    if data.get("post_id") not in (None, "") and as_id(data.get("post_id")) is None:
        raise InvalidRequest("post_id must be a post's number", code="invalid_post")
    post_id = _started_from_post(data.get("post_id"))  # a post that is gone is ignored
    if subscriber is not None:
        token = links.manage_token(subscriber)
        success_url = links.absolute(f"/me/{token}/billing?checkout=success")
        cancel_url = links.absolute(f"/me/{token}/upgrade?checkout=canceled")
    else:
        success_url = links.absolute("/pricing?checkout=success")
        cancel_url = links.absolute("/pricing?checkout=canceled")
    url = service.start_checkout(
        db.session,
        stripe_gateway,
        subscriber,
        tier_id,
        str(data.get("interval", "month")),
        success_url=success_url,
        cancel_url=cancel_url,
        automatic_tax=current_app.config["MASTHEAD"].stripe_automatic_tax,
        offer_id=offer_id,
        post_id=post_id,
        now=utcnow(),
    )
    commit()
    return _respond_with_url(url)


@bp.post("/billing/gift")
def gift_checkout():  # type: ignore[no-untyped-def]
    """Start a one-time Checkout for a gift: a tier for 1, 3, 6 or 12 months for an address."""
    data = _form_or_json()
    stripe_gateway = gateway.get_gateway()
    tier_id = as_id(data.get("tier_id"))
    if tier_id is None:
        raise InvalidRequest("tier_id must be a tier's number", code="invalid_tier")
    months = as_id(data.get("months"))
    if months is None:
        raise InvalidRequest("months must be 1, 3, 6 or 12", code="invalid_months")
    url = gifts.start_gift_checkout(
        db.session,
        stripe_gateway,
        tier_id,
        months,
        str(data.get("recipient_email") or ""),
        success_url=links.absolute("/pricing?gift=sent"),
        cancel_url=links.absolute("/pricing?checkout=canceled"),
    )
    commit()
    return _respond_with_url(url)


@bp.get("/gift/<token>")
def gift_page(token: str):  # type: ignore[no-untyped-def]
    """A gift's redeem page: one button (a POST, so a mail scanner's visit redeems nothing)."""
    try:
        gift = gifts.gift_for_token(db.session, token)
    except DomainError as exc:
        return _link_problem(exc)
    return render_template("billing/gift.html", gift=gift, token=token, redeemed=None)


@bp.post("/gift/<token>")
def redeem_gift(token: str):  # type: ignore[no-untyped-def]
    """Redeem a gift: its tier from now for its months; redeeming twice changes nothing."""
    try:
        gift = gifts.gift_for_token(db.session, token)
        gift, redeemed = gifts.redeem_gift(db.session, gift.id, utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _link_problem(exc)
    commit()
    return render_template("billing/gift.html", gift=gift, token=token, redeemed=redeemed)


@bp.post("/billing/portal")
def portal():  # type: ignore[no-untyped-def]
    """Open Stripe's customer portal for a subscriber with a billing account."""
    data = _form_or_json()
    stripe_gateway = gateway.get_gateway()
    subscriber = _subscriber(data.get("t"))
    url = service.open_portal(
        db.session,
        stripe_gateway,
        subscriber,
        links.absolute(f"/me/{links.manage_token(subscriber)}/billing"),
    )
    commit()
    return _respond_with_url(url)


def _billing_url(subscriber: Subscriber, changed: str | None = None) -> str:
    path = f"/me/{links.manage_token(subscriber)}/billing"
    return links.absolute(path + (f"?changed={changed}" if changed else ""))


def _respond_done(subscriber: Subscriber, changed: str):  # type: ignore[no-untyped-def]
    if request.is_json:
        return jsonify({"requested": changed})
    return redirect(_billing_url(subscriber, changed), code=303)


@bp.post("/billing/cancel")
def cancel():  # type: ignore[no-untyped-def]
    """Open Stripe's portal on its cancel flow (reasons asked there, retention coupon offered)."""
    data = _form_or_json()
    stripe_gateway = gateway.get_gateway()
    subscriber = _subscriber(data.get("t"))
    url = self_service.open_cancel_flow(
        db.session, stripe_gateway, subscriber, _billing_url(subscriber), utcnow()
    )
    commit()
    return _respond_with_url(url)


@bp.post("/billing/pause")
def pause():  # type: ignore[no-untyped-def]
    """Pause collection for 1 to 3 months (months), or resume (months empty or 0)."""
    data = _form_or_json()
    stripe_gateway = gateway.get_gateway()
    subscriber = _subscriber(data.get("t"))
    raw = data.get("months")
    months = None if raw in (None, "", "0", 0) else as_id(raw)
    if raw not in (None, "", "0", 0) and months is None:
        raise InvalidRequest("months must be 1, 2 or 3", code="invalid_pause")
    self_service.pause(db.session, stripe_gateway, subscriber, months, utcnow())
    commit()
    return _respond_done(subscriber, "resume" if months is None else "pause")


@bp.post("/billing/yearly")
def switch_to_yearly():  # type: ignore[no-untyped-def]
    """Move a monthly plan to the tier's yearly price (prorated)."""
    data = _form_or_json()
    stripe_gateway = gateway.get_gateway()
    subscriber = _subscriber(data.get("t"))
    self_service.switch_to_yearly(db.session, stripe_gateway, subscriber, utcnow())
    commit()
    return _respond_done(subscriber, "yearly")


@webhooks_bp.post("/webhooks/stripe")
def stripe_webhook():  # type: ignore[no-untyped-def]
    """Verify the signature over the raw body first; store the event once; apply it after commit."""
    created = webhooks.receive(
        db.session,
        request.get_data(cache=False),
        request.headers.get("Stripe-Signature"),
        current_app.config["MASTHEAD"].stripe_webhook_secret,
        utcnow(),
    )
    commit()
    return jsonify({"received": True, "duplicate": not created})
