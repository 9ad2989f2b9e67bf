"""Absolute, signed links that go into emails."""

from __future__ import annotations

import re

from flask import current_app

from growth.models import Newsletter, Subscriber
from growth.tokens import make_token

# An offer's link on the pricing page: its signed link (?offer=) or its code (?code=).
_OFFER_LINK = re.compile(r"/pricing\?(?:[^\s)\"'<>]*&)?(?:offer|code)=")


def announces_offer(text: str | None) -> bool:
    """Whether an email's text links to a price offer: such an email is a pitch, never value."""
    return bool(text) and _OFFER_LINK.search(text or "") is not None


def absolute(path: str) -> str:
    """BASE_URL + path."""
    return current_app.config["MASTHEAD"].base_url + path


def contact_address() -> str:
    """Where a reader writes to us (the sender's address): how a suppression is lifted."""
    from growth import branding

    return branding.current().sender_address


def confirm_token(subscriber: Subscriber) -> str:
    """Token of the double opt-in link; bound to the address it was sent to."""
    return make_token("confirm", {"s": subscriber.id, "e": subscriber.email_normalized})


def confirm_url(subscriber: Subscriber) -> str:
    return absolute(f"/confirm/{confirm_token(subscriber)}")


def unsubscribe_token(subscriber: Subscriber, newsletter: Newsletter | None) -> str:
    """One token per (subscriber, newsletter); None means every newsletter."""
    return make_token("unsubscribe", {"s": subscriber.id, "n": newsletter.id if newsletter else None})


def unsubscribe_url(subscriber: Subscriber, newsletter: Newsletter | None) -> str:
    return absolute(f"/unsubscribe/{unsubscribe_token(subscriber, newsletter)}")


def manage_token(subscriber: Subscriber) -> str:
    """Token of the subscriber's own pages under /me/."""
    return make_token("manage", {"s": subscriber.id})


def manage_url(subscriber: Subscriber) -> str:
    return absolute(f"/me/{manage_token(subscriber)}")


def referral_url(subscriber: Subscriber) -> str:
    return absolute(f"/r/{subscriber.referral_code}")


# A data link hands over everything we hold of a reader: it lasts a day, not for ever like /me.
DATA_LINK_MAX_AGE = 24 * 3600


def data_token(subscriber: Subscriber) -> str:
    """Token of the reader's data download and "erase me" (/me/<token>/data, /erase); bound to
    the address, so it dies with an erasure, and read with DATA_LINK_MAX_AGE."""
    return make_token("data", {"s": subscriber.id, "e": subscriber.email_normalized})
