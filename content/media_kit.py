"""The media kit: who reads (engaged readers, human open and click rates) and the rate card."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from content import sponsor_metrics
from content.sponsor_models import Pricing, Rate, Slot
from growth.errors import Conflict, NotFound, ValidationFailed
from growth.models import Delivery, EmailEvent, Status, Subscriber

RATES_WINDOW_DAYS = 90  # the post emails the rates are measured on
# A poll speaks for the audience in the kit only with this many answers: fewer say little, and
# a handful of votes could be told apart.
MIN_POLL_VOTES = 30


@dataclass(frozen=True)
class MediaKit:
    """What a prospective sponsor is shown."""

    active_subscribers: int
    engaged_readers: int
    engaged_window_days: int
    rates: sponsor_metrics.AudienceRates
    rates_window_days: int
    rate_card: list[Rate]
    polls: list[dict[str, Any]]  # audience facts: polls with MIN_POLL_VOTES answers or more


def engaged_readers(session: Session, now: dt.datetime, window_days: int) -> int:
    """Active subscribers a person engaged as (open, click not a scanner's, web read) in the window."""
    e = EmailEvent
    human = ((e.type == "open") & e.is_machine.is_(False)) | ((e.type == "click") & e.is_scanner.is_(False))
    human = human | (e.type == "web_visit")
    return (
        session.scalar(
            select(func.count(func.distinct(e.subscriber_id)))
            .join(Subscriber, Subscriber.id == e.subscriber_id)
            .where(e.at >= now - dt.timedelta(days=window_days), human, Subscriber.status == Status.ACTIVE)
        )
        or 0
    )


def post_email_rates(session: Session, now: dt.datetime, window_days: int) -> sponsor_metrics.AudienceRates:
    """Human open and click rates of the post emails sent in the window (counted per delivery)."""
    e = EmailEvent

    def distinct(condition: Any) -> Any:
        return func.count(func.distinct(case((condition, e.delivery_id))))

    row = session.execute(
        select(
            distinct(e.type == "delivered"),
            distinct((e.type == "open") & e.is_machine.is_(False)),
            distinct((e.type == "click") & e.is_scanner.is_(False)),
        )
        .select_from(EmailEvent)
        .join(Delivery, Delivery.id == e.delivery_id)
        .where(Delivery.send_id.is_not(None), Delivery.sent_at >= now - dt.timedelta(days=window_days))
    ).one()
    return sponsor_metrics.audience_rates(int(row[0]), int(row[1]), int(row[2]))


def media_kit(session: Session, now: dt.datetime, engaged_window_days: int) -> MediaKit:
    """The media kit as of now."""
    active = session.scalar(
        select(func.count()).select_from(Subscriber).where(Subscriber.status == Status.ACTIVE)
    )
    return MediaKit(
        active_subscribers=active or 0,
        engaged_readers=engaged_readers(session, now, engaged_window_days),
        engaged_window_days=engaged_window_days,
        rates=post_email_rates(session, now, RATES_WINDOW_DAYS),
        rates_window_days=RATES_WINDOW_DAYS,
        rate_card=rate_card(session),
        polls=audience_polls(session),
    )


def audience_polls(session: Session, min_votes: int = MIN_POLL_VOTES) -> list[dict[str, Any]]:
    """Each poll with enough answers: its question, answers and each answer's share, most voted first."""
    from content import polls

    out = []
    for poll, votes, _where in polls.all_polls(session):
        if votes < min_votes:
            continue
        out.append(
            {
                "question": poll.question,
                "votes": votes,
                "answers": [(answer, n / votes) for answer, n in polls.tally(session, poll)],
            }
        )
    return sorted(out, key=lambda p: -p["votes"])


def rate_card(session: Session) -> list[Rate]:
    """The rate card, slot by slot."""
    order = {slot.value: i for i, slot in enumerate(Slot)}
    return sorted(session.scalars(select(Rate)), key=lambda r: (order.get(r.slot, 9), r.pricing, r.currency))


def set_rate(
    session: Session, slot: Any, pricing: Any, price_cents: Any, currency: Any, note: Any, now: dt.datetime
) -> Rate:
    """Add or change the rate of a slot by one pricing in one currency."""
    from content.sponsorships import _price
    from growth.fields import one_line

    if slot not in set(Slot) or pricing not in set(Pricing):
        raise ValidationFailed("slot or pricing unknown", code="invalid_field")
    cur = currency.strip().lower() if isinstance(currency, str) else ""
    if len(cur) != 3 or not cur.isascii() or not cur.isalpha():
        raise ValidationFailed("currency must be a three-letter code", code="invalid_field")
    cents = _price(price_cents)
    text = one_line(note, "note", 300)
    rate = session.scalars(
        select(Rate).where(Rate.slot == slot, Rate.pricing == pricing, Rate.currency == cur)
    ).first()
    if rate is None:
        rate = Rate(
            slot=str(slot), pricing=str(pricing), currency=cur, price_cents=cents, note=text, updated_at=now
        )
        try:
            with session.begin_nested():
                session.add(rate)
        except IntegrityError as exc:
            raise Conflict("That rate was just set: try again.", code="rate_exists") from exc
    else:
        rate.price_cents, rate.note, rate.updated_at = cents, text, now
    session.flush()
    return rate


def remove_rate(session: Session, rate_id: int) -> None:
    """Take a line off the rate card."""
    rate = session.get(Rate, rate_id)
    if rate is None:
        raise NotFound("No such rate.", code="rate_not_found")
    session.delete(rate)
    session.flush()
