"""Who a Stripe customer is: linking customers to subscribers, and reading Stripe's plain data.

A customer is linked by `metadata.subscriber_id`, else `client_reference_id`, else its email.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.models import Invoice, StripeCustomer, StripeEvent, Subscription
from growth import links
from growth.errors import DomainError
from growth.models import Status, Subscriber
from growth.params import as_id
from growth.subscribers import find_by_email


def timestamp(value: Any) -> dt.datetime | None:
    """A Stripe unix timestamp as an aware UTC datetime; None when absent or malformed."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def int_or_none(value: Any) -> int | None:
    """An id from a metadata string; None when it is not one the database can hold."""
    return as_id(value)


def subscriber_by_id(session: Session, raw: Any) -> Subscriber | None:
    """The subscriber a metadata or reference id names (never an erased one)."""
    subscriber_id = as_id(raw)
    if subscriber_id is None:
        return None
    subscriber = session.get(Subscriber, subscriber_id)
    return None if subscriber is None or subscriber.status == Status.ERASED else subscriber


def subscriber_by_email(session: Session, email: Any) -> Subscriber | None:
    """The subscriber with this address (never an erased one)."""
    if not isinstance(email, str) or not email:
        return None
    try:
        subscriber = find_by_email(session, email)
    except DomainError:  # a malformed address names nobody
        return None
    return None if subscriber is None or subscriber.status == Status.ERASED else subscriber


def link_customer(
    session: Session, customer_id: str, subscriber: Subscriber | None, email: str | None = None
) -> StripeCustomer:
    """The customer row, created once; a known subscriber is attached to it and its rows."""
    customer = session.scalars(
        select(StripeCustomer).where(StripeCustomer.stripe_customer_id == customer_id)
    ).first()
    if customer is None:
        customer = StripeCustomer(stripe_customer_id=customer_id, email=email)
        try:
            with session.begin_nested():
                session.add(customer)
        except IntegrityError:
            customer = session.scalars(
                select(StripeCustomer).where(StripeCustomer.stripe_customer_id == customer_id)
            ).one()
    if email and not customer.email:
        customer.email = email
    if subscriber is not None and customer.subscriber_id != subscriber.id:
        customer.subscriber_id = subscriber.id
        for sub in session.scalars(
            select(Subscription).where(Subscription.stripe_customer_id == customer_id)
        ):
            sub.subscriber_id = subscriber.id
        for invoice in session.scalars(select(Invoice).where(Invoice.stripe_customer_id == customer_id)):
            invoice.subscriber_id = subscriber.id
        # Events of this customer that arrived before it was known (a discount, an invoice)
        # were kept for review; they are someone's now. Few rows: the outcome is indexed.
        for event in session.scalars(select(StripeEvent).where(StripeEvent.outcome == "unmatched")):
            obj = ((event.payload or {}).get("data") or {}).get("object") or {}
            if id_of(obj.get("customer")) == customer_id:
                event.outcome, event.subscriber_id = "applied", subscriber.id
    session.flush()
    return customer


def customer_subscriber(session: Session, customer_id: str | None) -> Subscriber | None:
    """The subscriber a Stripe customer was linked to."""
    if not customer_id:
        return None
    subscriber_id = session.scalar(
        select(StripeCustomer.subscriber_id).where(StripeCustomer.stripe_customer_id == customer_id)
    )
    return session.get(Subscriber, subscriber_id) if subscriber_id else None


def id_of(value: Any) -> str | None:
    """An expandable field: the id string, or the id of the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


def billing_url(subscriber: Subscriber) -> str:
    """The subscriber's billing page, from which the Stripe portal opens."""
    return links.absolute(f"/me/{links.manage_token(subscriber)}/billing")
