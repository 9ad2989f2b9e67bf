"""Billing sponsorship bookings through Stripe, and booking their money when Stripe says it is paid.

An invoice: a customer for the sponsor, a `send_invoice` invoice with one item, finalised so
Stripe hosts it and emails it (paid: `invoice.paid`). A payment link: a one-off price and a link
that accepts one payment (paid: `checkout.session.completed` naming the link). Each Stripe call
carries an idempotency key derived from the booking, and the bill is unique per booking, so two
clicks (or a retry after a timeout) make one bill.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.gateway import StripeGateway
from billing.models import StripeEvent
from billing.sponsorship_models import SponsorshipBill
from growth import sponsorships
from growth.errors import Conflict, NotFound, ValidationFailed

log = logging.getLogger(__name__)

METHODS = ("invoice", "payment_link")
DAYS_UNTIL_DUE = 14
# A stored Stripe event that paid a bill says so here (process_event counts it applied).
APPLIED_NOTE = "sponsorship"


def bill_for(session: Session, booking_id: int) -> SponsorshipBill | None:
    """The bill of a booking, if one was made."""
    return session.scalars(select(SponsorshipBill).where(SponsorshipBill.booking_id == booking_id)).first()


def create_bill(
    session: Session, gateway: StripeGateway | None, booking_id: int, method: str, now: dt.datetime
) -> SponsorshipBill:
    """A Stripe invoice or payment link for what the booking is owed (its final amount).

    `gateway` None: Stripe is not configured (409 once the booking is known to need a bill).
    """
    if method not in METHODS:
        raise ValidationFailed("method must be invoice or payment_link", code="invalid_field")
    existing = bill_for(session, booking_id)
    if existing is not None:
        return existing
    charge = sponsorships.charge(session, booking_id)
    if charge is None:
        raise NotFound("No such booking.", code="booking_not_found")
    if not charge.final:
        raise Conflict(
            "This booking is priced by results: bill it once its send is done.", code="amount_not_final"
        )
    if charge.amount_cents <= 0:
        raise Conflict("This booking earned nothing: there is nothing to bill.", code="nothing_to_bill")
    if gateway is None:
        raise Conflict(
            "Payments are not configured: set STRIPE_SECRET_KEY to bill sponsors.",
            code="payments_not_configured",
        )
    key = f"masthead-sponsorship-{booking_id}"
    metadata = {"masthead_booking_id": str(booking_id)}
    if method == "invoice":
        customer = gateway.create_customer(
            {"email": charge.contact_email, "name": charge.sponsor, "metadata": metadata}, f"{key}-customer"
        )
        invoice = gateway.create_invoice(
            {
                "customer": customer["id"],
                "collection_method": "send_invoice",
                "days_until_due": DAYS_UNTIL_DUE,
                "currency": charge.currency,
                "description": charge.description,
                "metadata": metadata,
            },
            f"{key}-invoice",
        )
        gateway.create_invoice_item(
            {
                "customer": customer["id"],
                "invoice": invoice["id"],
                "amount": charge.amount_cents,
                "currency": charge.currency,
                "description": charge.description,
                "metadata": metadata,
            },
            f"{key}-item",
        )
        final = gateway.finalize_invoice(invoice["id"], f"{key}-finalize")
        object_id, customer_id, url = invoice["id"], customer["id"], final.get("hosted_invoice_url")
    else:
        price = gateway.create_one_off_price(
            {
                "currency": charge.currency,
                "unit_amount": charge.amount_cents,
                "product_data": {"name": charge.description[:250], "metadata": metadata},
                "metadata": metadata,
            },
            f"{key}-price",
        )
        link = gateway.create_payment_link(
            {
                "line_items": [{"price": price["id"], "quantity": 1}],
                "metadata": metadata,
                "restrictions": {"completed_sessions": {"limit": 1}},
            },
            f"{key}-link",
        )
        object_id, customer_id, url = link["id"], None, link.get("url")
    bill = SponsorshipBill(
        booking_id=booking_id,
        method=method,
        stripe_object_id=object_id,
        stripe_customer_id=customer_id,
        amount_cents=charge.amount_cents,
        currency=charge.currency,
        url=url,
        status="open",
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(bill)
    except IntegrityError:
        # Another request made it at the same moment (the same idempotency keys: the same objects).
        found = bill_for(session, booking_id)
        assert found is not None
        return found
    return bill


def _mark_paid(bill: SponsorshipBill, paid_cents: int, paid_at: dt.datetime, by: str) -> None:
    if bill.status == "paid":
        return  # a redelivered or second event: booked once
    bill.status, bill.paid_cents, bill.paid_at, bill.paid_by_event = "paid", paid_cents, paid_at, by


def paid_invoice(session: Session, row: StripeEvent, obj: dict[str, Any]) -> bool:
    """`invoice.paid` of a sponsorship bill: booked; False when the invoice is not one of ours."""
    bill = session.scalars(
        select(SponsorshipBill).where(
            SponsorshipBill.method == "invoice", SponsorshipBill.stripe_object_id == str(obj.get("id"))
        )
    ).first()
    if bill is None:
        return False
    paid_at = _timestamp((obj.get("status_transitions") or {}).get("paid_at")) or row.created
    _mark_paid(bill, int(obj.get("amount_paid") or 0), paid_at, str(obj["id"]))
    row.note = APPLIED_NOTE
    return True


def failed_invoice(session: Session, row: StripeEvent, obj: dict[str, Any]) -> bool:
    """`invoice.payment_failed` of a sponsorship bill: stays open (Stripe retries; no dunning mail)."""
    found = session.scalars(
        select(SponsorshipBill.id).where(
            SponsorshipBill.method == "invoice", SponsorshipBill.stripe_object_id == str(obj.get("id"))
        )
    ).first()
    if found is None:
        return False
    row.note = APPLIED_NOTE
    return True


def completed_link_checkout(session: Session, row: StripeEvent, obj: dict[str, Any]) -> bool:
    """`checkout.session.completed` through a sponsorship payment link: booked once it is paid."""
    link = obj.get("payment_link")
    link_id = link.get("id") if isinstance(link, dict) else link
    if not link_id:
        return False
    bill = session.scalars(
        select(SponsorshipBill).where(
            SponsorshipBill.method == "payment_link", SponsorshipBill.stripe_object_id == str(link_id)
        )
    ).first()
    if bill is None:
        return False
    row.note = APPLIED_NOTE
    if obj.get("payment_status") == "paid":  # "unpaid" for a delayed method: its async event follows
        _mark_paid(bill, int(obj.get("amount_total") or 0), row.created, str(obj.get("id")))
    return True


def _timestamp(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)


def payments_lookup(session: Session, booking_ids: Collection[int] | None) -> dict[int, sponsorships.Payment]:
    """growth.sponsorships' `payments`: each booking's bill."""
    query = select(SponsorshipBill)
    if booking_ids is not None:
        wanted = list(booking_ids)
        if not wanted:
            return {}
        query = query.where(SponsorshipBill.booking_id.in_(wanted))
    return {
        b.booking_id: sponsorships.Payment(
            booking_id=b.booking_id,
            method=b.method,
            status=b.status,
            amount_cents=b.paid_cents if b.status == "paid" and b.paid_cents is not None else b.amount_cents,
            currency=b.currency,
            url=b.url,
            paid_at=b.paid_at,
        )
        for b in session.scalars(query)
    }


def paid_sponsorships(session: Session) -> list[tuple[dt.datetime, str, int]]:
    """(paid_at, currency, cents) of every paid bill, for the revenue report."""
    rows = session.execute(
        select(SponsorshipBill.paid_at, SponsorshipBill.currency, SponsorshipBill.paid_cents).where(
            SponsorshipBill.status == "paid"
        )
    ).all()
    return [(at, currency, cents or 0) for at, currency, cents in rows if at is not None]
