"""Each platform's export read into one shape, on the sample files (no app, no database)."""

from __future__ import annotations

import csv
import io

import pytest

from growth.models import Status
from growth.platforms import FORMATS, RowRefused, header_problem
from tests.growth import platform_exports as samples


def rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    return [{k.strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader]


def read_all(platform: str, text: str) -> list[object]:
    out: list[object] = []
    for row in rows(text):
        try:
            out.append(FORMATS[platform].read(row))
        except RowRefused as exc:
            out.append(f"refused: {exc}")
    return out


def test_substack_email_list():
    read = read_all("substack", samples.SUBSTACK_EMAIL_LIST)
    assert [(m.email, m.status, m.stripe_customer_id) for m in read if not isinstance(m, str)] == [
        ("free.reader@example.com", Status.ACTIVE, None),
        ("left.email@example.com", Status.UNSUBSCRIBED, None),
        ("paid.one@example.com", Status.ACTIVE, None),  # the email list names no customer
        ("comped@example.com", Status.ACTIVE, None),
        ("not an address", Status.ACTIVE, None),  # the address is checked by the importer
    ]
    assert read[4] == "refused: the reader asked Substack to delete them"
    assert "without a Stripe customer" in (read[2].note or "")


def test_substack_subscribers_export_paid_comp_gift():
    text = samples.SUBSTACK_SUBSCRIBERS.format(paid_one="cus_PAID1")
    paid, comp, gift, group = read_all("substack", text)
    assert (paid.stripe_customer_id, paid.note) == ("cus_PAID1", None)
    assert comp.stripe_customer_id is None and "comp member" in comp.note
    assert gift.stripe_customer_id is None and "gift member" in gift.note
    assert group.stripe_customer_id is None and "group or app member" in group.note


def test_beehiiv():
    text = samples.BEEHIIV.format(premium="cus_PREM")
    read = read_all("beehiiv", text)
    lorem, gone, waiting, premium, noid, odd = read
    assert (lorem.name, lorem.status) == ("Lorem Ipsum", Status.ACTIVE)
    assert gone.status == Status.UNSUBSCRIBED
    assert waiting.status == Status.PENDING
    assert (premium.stripe_customer_id, premium.name) == ("cus_PREM", "Prem")
    assert noid.stripe_customer_id is None and "premium on beehiiv" in noid.note
    assert odd == "refused: unknown beehiiv status 'frozen'"


def test_beehiiv_unsubscribed_at_wins_over_status():
    (member,) = read_all("beehiiv", "email,status,unsubscribed_at\na@example.com,active,2024-01-01\n")
    assert member.status == Status.UNSUBSCRIBED


def test_ghost():
    read = read_all("ghost", samples.GHOST.format(paying="cus_GHOST"))
    dana, paying, quiet, comp, deleted, bad = read
    assert (dana.name, dana.status) == ("Dana Scully", Status.ACTIVE)
    assert paying.stripe_customer_id == "cus_GHOST"
    assert quiet.status == Status.UNSUBSCRIBED
    assert "complimentary" in comp.note and comp.stripe_customer_id is None
    assert deleted == "refused: the member was deleted in Ghost"
    assert bad.startswith("refused: stripe_customer_id is not a Stripe customer id")


def test_ghost_refuses_a_flag_that_is_not_boolean():
    (member,) = read_all("ghost", "email,subscribed_to_emails\na@example.com,maybe\n")
    assert member == "refused: subscribed_to_emails must be true or false, not 'maybe'"


def test_kit_states():
    read = read_all("kit", samples.KIT)
    assert [(m.email, m.status, m.name) for m in read[:5]] == [
        ("maja@example.com", Status.ACTIVE, "Maja"),
        ("nils@example.com", Status.PENDING, "Nils"),
        ("olga@example.com", Status.UNSUBSCRIBED, "Olga"),
        ("pia@example.com", Status.BOUNCED, "Pia"),
        ("quin@example.com", Status.COMPLAINED, "Quin"),
    ]
    assert read[5] == "refused: unknown Kit state 'sleeping'"


@pytest.mark.parametrize(
    ("platform", "header", "problem"),
    [
        ("substack", "email,name", "none of the columns"),
        ("ghost", "email,name", "none of the columns"),
        ("beehiiv", "mail,status", "has an email column"),
        ("kit", "name,state", "email_address or email"),
        ("ghost", samples.GHOST.splitlines()[0], None),
        ("kit", samples.KIT.splitlines()[0], None),
        ("beehiiv", samples.BEEHIIV.splitlines()[0], None),
        ("substack", samples.SUBSTACK_SUBSCRIBERS.splitlines()[0], None),
    ],
)
def test_header_is_recognised_or_explained(platform, header, problem):
    columns = {c.strip().lower() for c in header.split(",")}
    found = header_problem(platform, columns)
    assert (found is None) if problem is None else (problem in found)
