"""Every Upgrade link reaches the pricing page for a reader known by cookie or by signed link."""

from __future__ import annotations

import re

from content.paywall import reader_token
from tests.billing.conftest import confirmed_subscriber
from tests.content.conftest import make_post


def _upgrade_href(html: str) -> str:
    found = re.search(r'<a class="button" href="([^"]+)">Upgrade</a>', html)
    assert found, "no Upgrade link on the page"
    return found.group(1).replace("&amp;", "&")


def test_a_free_reader_from_an_email_clicks_upgrade_on_a_paid_post(billing_app, bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    post = make_post(bsession, title="Members only", audience="paid")
    bsession.commit()
    with billing_app.test_request_context():
        link = reader_token(ana.id)
    # the email's web link: remembered by cookie, then the teaser with its Upgrade button
    assert bclient.get(f"/p/{post.slug}?r={link}").status_code == 302
    page = bclient.get(f"/p/{post.slug}").get_data(as_text=True)
    href = _upgrade_href(page)
    pricing = bclient.get(href, follow_redirects=True)
    assert pricing.status_code == 200, pricing.get_data(as_text=True)
    assert "ana@example.com" in pricing.get_data(as_text=True)
    # the same link works in a browser that kept no cookie (the signed link alone)
    bclient.delete_cookie("mh_reader")
    assert bclient.get(href, follow_redirects=True).status_code == 200


def test_upgrade_knows_the_reader_by_cookie_alone(billing_app, bclient, boutbox, bsession):
    ana = confirmed_subscriber(bclient, boutbox, bsession)
    with billing_app.test_request_context():
        bclient.set_cookie("mh_reader", reader_token(ana.id))
    pricing = bclient.get("/upgrade", follow_redirects=True)
    assert pricing.status_code == 200 and "ana@example.com" in pricing.get_data(as_text=True)


def test_upgrade_for_strangers_and_forgeries_is_the_public_pricing_page(bclient):
    for url in ("/upgrade", "/upgrade?r=forged", "/upgrade?t=forged"):
        page = bclient.get(url)
        assert page.status_code == 200 and b"Support" in page.data
    bclient.set_cookie("mh_reader", "forged.token.value")
    assert bclient.get("/upgrade").status_code == 200
