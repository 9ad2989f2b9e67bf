"""Attribution of paid conversions: each rule on a hand-built history, every view summing to the
total; then end to end, a reader who pays from a post's paywall credits that post."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
import uuid

import pytest

from billing.attribution import (
    INFLUENCE_LABEL,
    NO_POST,
    VIEWS,
    Acquisition,
    Conversion,
    attribute,
    conversions_from_cash,
    post_credit,
)
from growth.attribution_touches import EMAIL_CLICK, PAYWALL_START, WEB_READ, Touch

T0 = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _conv(sid: int, at: dt.datetime = T0, **revenue: int) -> Conversion:
    return Conversion(sid, at, tuple(sorted((revenue or {"usd": 500}).items())))


def test_a_paywall_start_beats_a_later_read():
    touches = [
        Touch(1, T0 - 2 * DAY, PAYWALL_START, 10),
        Touch(1, T0 - DAY, WEB_READ, 20),
        Touch(1, T0 - dt.timedelta(minutes=5), EMAIL_CLICK, 30),
    ]
    assert post_credit(_conv(1), touches) == "10"
    # Stripe may stamp the subscription (the start) a moment after its first invoice
    assert post_credit(_conv(1), [Touch(1, T0 + dt.timedelta(seconds=3), PAYWALL_START, 11)]) == "11"
    # but a Checkout started days after the first payment (a later plan) is not this conversion's
    assert post_credit(_conv(1), [Touch(1, T0 + 2 * DAY, PAYWALL_START, 12)]) == NO_POST


def test_the_last_read_within_seven_days_wins_over_an_earlier_click():
    touches = [
        Touch(1, T0 - 6 * DAY, EMAIL_CLICK, 30),
        Touch(1, T0 - 3 * DAY, WEB_READ, 20),
        Touch(1, T0 - 5 * DAY, WEB_READ, 40),
    ]
    assert post_credit(_conv(1), touches) == "20"
    # a later click wins over an earlier read: the last touch counts, whatever its kind
    assert post_credit(_conv(1), [*touches, Touch(1, T0 - DAY, EMAIL_CLICK, 50)]) == "50"
    # exactly 7 days before still counts; the conversion instant itself counts
    assert post_credit(_conv(1), [Touch(1, T0 - 7 * DAY, WEB_READ, 60)]) == "60"
    assert post_credit(_conv(1), [Touch(1, T0, EMAIL_CLICK, 61)]) == "61"


def test_a_read_eight_days_before_does_not_count():
    assert post_credit(_conv(1), [Touch(1, T0 - 8 * DAY, WEB_READ, 20)]) == NO_POST
    assert (
        post_credit(_conv(1), [Touch(1, T0 - 7 * DAY - dt.timedelta(seconds=1), EMAIL_CLICK, 20)]) == NO_POST
    )


def test_touches_after_the_conversion_do_not_count():
    touches = [Touch(1, T0 + dt.timedelta(seconds=1), WEB_READ, 20), Touch(1, T0 + DAY, EMAIL_CLICK, 30)]
    assert post_credit(_conv(1), touches) == NO_POST
    assert post_credit(_conv(1), [*touches, Touch(1, T0 - DAY, WEB_READ, 40)]) == "40"


def test_another_readers_touches_never_count():
    result = attribute([_conv(1)], [Touch(2, T0 - DAY, WEB_READ, 20)], {})
    assert result.keys[1]["post"] == NO_POST


def test_the_first_paid_invoice_converts_and_refunds_lower_the_credit():
    cash = {
        # a trial's free invoice never appears in net cash; the first paid one converts
        1: [
            (T0, "usd", 500, "invoice"),
            (T0 + 30 * DAY, "usd", 500, "invoice"),
            (T0 + 31 * DAY, "usd", -500, "refund"),
        ],
        2: [(T0 + DAY, "eur", 900, "invoice"), (T0 + 2 * DAY, "eur", -900, "dispute")],
        3: [(T0, "usd", -200, "refund")],  # cash without a paid invoice: no conversion
        4: [(T0 + 90 * DAY, "usd", 700, "invoice")],  # after `now`: not yet
    }
    conversions = conversions_from_cash(cash, now=T0 + 60 * DAY)
    assert conversions == [
        Conversion(1, T0, (("usd", 500),)),
        Conversion(2, T0 + DAY, (("eur", 0),)),
    ]
    result = attribute(
        conversions,
        [Touch(1, T0 - DAY, WEB_READ, 20), Touch(2, T0, EMAIL_CLICK, 20)],
        {1: Acquisition(1, "direct"), 2: Acquisition(2, "direct")},
    )
    post = result.views["post"]["20"]
    assert post.conversions == 2 and post.revenue == {"usd": 500, "eur": 0}


def _history():  # type: ignore[no-untyped-def]
    """Five paying readers: 1 referred 2, 2 referred 3; 4 came by a campaign; 5 facts gone."""
    conversions = [
        _conv(1, T0, usd=1000),
        _conv(2, T0 + DAY, usd=500, eur=300),
        _conv(3, T0 + 2 * DAY, usd=700),
        _conv(4, T0 + 3 * DAY, eur=1200),
        _conv(5, T0 + 4 * DAY, usd=100),
    ]
    touches = [
        Touch(1, T0 - DAY, WEB_READ, 10),
        Touch(2, T0, PAYWALL_START, 20),
        Touch(2, T0 + DAY - dt.timedelta(hours=2), WEB_READ, 10),
        Touch(3, T0 + 2 * DAY - 9 * DAY, EMAIL_CLICK, 10),  # too early: no post
        Touch(4, T0 + 3 * DAY - dt.timedelta(hours=1), EMAIL_CLICK, 20),
    ]
    acquisitions = {
        1: Acquisition(1, "website"),
        2: Acquisition(2, "referral", referrer_id=1),
        3: Acquisition(3, "referral", referrer_id=2),
        4: Acquisition(4, "direct", campaign="spring"),
    }
    return conversions, touches, acquisitions


def test_each_view_sums_to_the_total_revenue():
    conversions, touches, acquisitions = _history()
    result = attribute(conversions, touches, acquisitions)
    assert result.total.revenue == {"usd": 2300, "eur": 1500} and result.total.conversions == 5
    for view in VIEWS:
        summed: dict[str, int] = {}
        for credit in result.views[view].values():
            for currency, cents in credit.revenue.items():
                summed[currency] = summed.get(currency, 0) + cents
        assert summed == result.total.revenue, view
        assert sum(c.conversions for c in result.views[view].values()) == 5, view
    # and by hand, view by view
    post = {k: (c.conversions, c.revenue) for k, c in result.views["post"].items()}
    assert post == {
        "10": (1, {"usd": 1000}),
        "20": (2, {"usd": 500, "eur": 1500}),  # 2's paywall start beat its later read; 4's click
        NO_POST: (2, {"usd": 800}),
    }
    assert {k: c.revenue for k, c in result.views["source"].items()} == {
        "website": {"usd": 1000},
        "referral": {"usd": 1200, "eur": 300},
        "direct": {"eur": 1200},
        "(unknown)": {"usd": 100},
    }
    assert {k: c.revenue for k, c in result.views["campaign"].items()} == {
        "": {"usd": 2200, "eur": 300},
        "spring": {"eur": 1200},
        "(unknown)": {"usd": 100},
    }
    assert {k: c.revenue for k, c in result.views["referrer"].items()} == {
        "none": {"usd": 1000, "eur": 1200},
        "1": {"usd": 500, "eur": 300},
        "2": {"usd": 700},
        "(unknown)": {"usd": 100},
    }


def test_influence_credits_every_referrer_up_the_chain_and_is_not_additive():
    conversions, touches, acquisitions = _history()
    result = attribute(conversions, touches, acquisitions, referrer_of={2: 1, 3: 2, 1: 3})  # a cycle
    influence = {k: (c.conversions, c.revenue) for k, c in result.influence.items()}
    # 1 is above 2 and 3; 2 above 3; the cycle (3 above 1 in bad data) stops the walk, never loops
    assert influence[1] == (2, {"usd": 1200, "eur": 300})
    assert influence[2] == (2, {"usd": 1700})  # 3's, and 1's through the bad edge 1 -> 3 -> 2
    assert sum(c.revenue.get("usd", 0) for c in result.influence.values()) > 0
    plain = attribute(conversions, touches, acquisitions)
    assert {k: c.revenue for k, c in plain.influence.items()} == {
        1: {"usd": 1200, "eur": 300},
        2: {"usd": 700},
    }
    assert INFLUENCE_LABEL == "influence, not additive"


# ---- end to end -----------------------------------------------------------------------------


def _admin_headers(session, role: str = "admin") -> dict[str, str]:  # type: ignore[no-untyped-def]
    from growth import auth

    operator = auth.create_operator(
        session, f"{role}-{uuid.uuid4().hex[:6]}@example.com", "a-long-password", role
    )
    token = auth.create_token(session, operator)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def _upgrade_href(html: str) -> str:
    found = re.search(r'<a class="button" href="([^"]+)">Upgrade</a>', html)
    assert found, "no Upgrade link on the page"
    return found.group(1).replace("&amp;", "&")


def test_a_reader_who_pays_from_a_paid_posts_paywall_credits_that_post(
    billing_app, bclient, boutbox, bsession, fake_stripe
):
    from billing.models import Subscription
    from content.paywall import reader_token
    from tests.billing.conftest import confirmed_subscriber, csrf_from, post_event
    from tests.billing.test_checkout import make_tier, sync
    from tests.content.conftest import make_post

    ana = confirmed_subscriber(bclient, boutbox, bsession)
    other = make_post(bsession, title="Free one", audience="free")
    post = make_post(bsession, title="Members only", audience="paid")
    tier = make_tier(billing_app, bsession)
    sync(billing_app)
    with billing_app.test_request_context():
        link = reader_token(ana.id)
    # she reads a free post from an email, then the paid one's teaser, and follows its Upgrade
    assert bclient.get(f"/p/{other.slug}?r={link}").status_code == 302
    page = bclient.get(f"/p/{post.slug}").get_data(as_text=True)
    href = _upgrade_href(page)
    assert f"post={post.id}" in href
    pricing = bclient.get(href, follow_redirects=True).get_data(as_text=True)
    assert f'name="post_id" value="{post.id}"' in pricing
    token = re.search(r'name="t" value="([^"]+)"', pricing).group(1)  # type: ignore[union-attr]
    answer = bclient.post(
        "/billing/checkout",
        data={
            "csrf_token": csrf_from(pricing),
            "t": token,
            "tier_id": tier.id,
            "interval": "month",
            "post_id": str(post.id),
        },
    )
    assert answer.status_code == 303
    session_obj = next(iter(fake_stripe.checkout_sessions.values()))
    assert session_obj["metadata"]["post_id"] == str(post.id)
    assert session_obj["subscription_data"]["metadata"]["post_id"] == str(post.id)
    created = int(time.time()) - 3 * 86_400  # paid three days ago (the report reads up to now)
    events = fake_stripe.complete_checkout(session_obj["id"], created)
    for e in [events[0], *events, events[0]]:  # the session first, again and last: kept once
        assert post_event(bclient, e).status_code == 200
    bsession.expire_all()
    (sub,) = bsession.query(Subscription).all()
    assert sub.checkout_post_id == post.id and sub.subscriber_id == ana.id

    headers = _admin_headers(bsession)
    report = bclient.get("/api/v1/reports/attribution?by=post", headers=headers)
    assert report.status_code == 200, report.get_data(as_text=True)
    body = report.get_json()
    assert body["total_revenue_cents"] == {"usd": 500} and body["conversions"] == 1
    assert body["rows"] == [
        {"key": str(post.id), "label": "Members only", "revenue_cents": {"usd": 500}, "conversions": 1}
    ]
    assert "paywall" in body["rules"]
    # a partial refund lowers what the post is credited with, on the day it happens
    paid_cents, refund_at = 500, created + 86_400
    charge, sent = fake_stripe.charge(sub.stripe_customer_id, paid_cents, created + 10)
    sent += fake_stripe.refund(charge["id"], 200, refund_at)
    for e in sent:
        assert post_event(bclient, e).status_code == 200
    refunded = bclient.get("/api/v1/reports/attribution?by=post", headers=headers).get_json()
    assert refunded["rows"][0]["revenue_cents"] == {"usd": 300} == refunded["total_revenue_cents"]
    # the posts report shows the same figures
    posts = bclient.get("/api/v1/reports/posts", headers=headers).get_json()["posts"]
    by_title = {r["title"]: r for r in posts}
    assert by_title["Members only"]["paid_conversions"] == 1
    assert by_title["Members only"]["revenue"] == {"usd": 300}
    assert by_title["Free one"]["paid_conversions"] == 0 and by_title["Free one"]["revenue"] == {}
    # every other view sums to the same total; the CSV rows too
    for by in ("source", "campaign", "referrer"):
        view = bclient.get(f"/api/v1/reports/attribution?by={by}", headers=headers).get_json()
        assert sum(r["revenue_cents"].get("usd", 0) for r in view["rows"]) == 300, by
        sheet = bclient.get(f"/api/v1/reports/attribution?by={by}&format=csv", headers=headers)
        assert sheet.mimetype == "text/csv"
        table = list(csv.DictReader(io.StringIO(sheet.get_data(as_text=True))))
        assert sum(int(r["revenue_cents"]) for r in table if r["currency"] == "usd") == 300, by
    referrer = bclient.get("/api/v1/reports/attribution?by=referrer", headers=headers).get_json()
    assert referrer["influence"]["label"] == "influence, not additive"
    assert referrer["rows"][0]["label"] == "not referred"


def test_content_touches_are_reads_and_human_clicks_of_posts_never_opens(session):  # type: ignore[no-untyped-def]
    """Content's providers: a scanner's click, a machine open (any open) and a poll answer are no
    touches; a web visit of a non-post page is none either; another reader's are not asked for."""
    from content.models import Send
    from content.touches import post_titles, post_touches
    from growth.models import Delivery, EmailEvent
    from tests.content.conftest import NOW, add_subscribers, make_post

    ana, bea = add_subscribers(session, 2)
    read, clicked, scanned = (make_post(session, title=t) for t in ("Read", "Clicked", "Scanned"))
    deliveries = {}
    for post in (clicked, scanned):
        send = Send(
            post_id=post.id,
            newsletter_id=post.newsletter_id,
            segment="all",
            kind="value",
            state="done",
            scheduled_at=NOW - 3 * DAY,
        )
        session.add(send)
        session.flush()
        d = Delivery(
            subscriber_id=ana, send_id=send.id, kind="value", template="post", to_email="a@example.com"
        )
        session.add(d)
        session.flush()
        deliveries[post.id] = d.id

    def event(kind: str, at: dt.datetime, sid: int = ana, **fields: object) -> None:
        session.add(
            EmailEvent(event_id=f"t-{uuid.uuid4().hex}", type=kind, subscriber_id=sid, at=at, **fields)
        )

    event("web_visit", NOW - 2 * DAY, url=f"http://masthead.test/p/{read.slug}")
    event("web_visit", NOW - 2 * DAY, url="http://masthead.test/me/abc/upgrade")  # not a post page
    event("poll_answer", NOW - DAY, url=f"http://masthead.test/p/{read.slug}")
    event("click", NOW - DAY, delivery_id=deliveries[clicked.id], url="https://example.org/x")
    event("click", NOW - 3600 * dt.timedelta(seconds=1), delivery_id=deliveries[scanned.id], is_scanner=True)
    event("open", NOW - 60 * dt.timedelta(seconds=1), delivery_id=deliveries[scanned.id], is_machine=True)
    event("open", NOW - 30 * dt.timedelta(seconds=1), delivery_id=deliveries[scanned.id])
    event("web_visit", NOW - DAY, sid=bea, url=f"http://masthead.test/p/{scanned.slug}")
    session.flush()
    found = sorted(post_touches(session, [ana]), key=lambda t: t.at)
    assert [(t.kind, t.post_id) for t in found] == [(WEB_READ, read.id), (EMAIL_CLICK, clicked.id)]
    assert {t.subscriber_id for t in post_touches(session, None)} == {ana, bea}
    # so the scanned post, touched last only by a scanner and opens, is not credited
    conversion = _conv(ana, NOW)
    assert post_credit(conversion, found) == str(clicked.id)
    assert post_titles(session, [read.id, 987654]) == {read.id: "Read"}


@pytest.mark.parametrize("query", ["by=tier", "by=", "", "by=post&format=xml"])
def test_a_bad_view_or_format_is_a_400(bclient, bsession, query):  # type: ignore[no-untyped-def]
    answer = bclient.get(f"/api/v1/reports/attribution?{query}", headers=_admin_headers(bsession))
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["code"] in ("invalid_by", "invalid_format") and error["message"]


def test_only_admins_read_it(bclient, bsession):  # type: ignore[no-untyped-def]
    answer = bclient.get("/api/v1/reports/attribution?by=post", headers=_admin_headers(bsession, "creator"))
    assert answer.status_code == 403
    assert bclient.get("/api/v1/reports/attribution?by=post").status_code == 401


def test_a_bad_post_at_checkout_is_a_400_and_an_unknown_one_is_ignored(
    billing_app, bclient, boutbox, bsession, fake_stripe
):
    from tests.billing.conftest import confirmed_subscriber, csrf_from
    from tests.billing.test_checkout import make_tier, sync

    ana = confirmed_subscriber(bclient, boutbox, bsession)
    tier = make_tier(billing_app, bsession)
    sync(billing_app)
    from growth.links import manage_token

    with billing_app.test_request_context():
        token = manage_token(ana)
    page = bclient.get(f"/upgrade?t={token}&post=not-a-number").get_data(as_text=True)
    assert 'name="post_id"' not in page  # a bad ?post= is ignored on the page
    csrf = csrf_from(page)
    form = {"t": token, "tier_id": tier.id, "interval": "month"}
    headers = {"X-CSRFToken": csrf}
    for bad_id in ("1; drop", "-3", "0", 2**40, True, ["1"]):
        bad = bclient.post("/billing/checkout", json={**form, "post_id": bad_id}, headers=headers)
        assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_post", bad_id
    assert not fake_stripe.checkout_sessions
    unknown = bclient.post("/billing/checkout", json={**form, "post_id": 987654}, headers=headers)
    assert unknown.status_code == 200 and unknown.get_json()["url"]
    session_obj = next(iter(fake_stripe.checkout_sessions.values()))
    assert "post_id" not in session_obj["metadata"]


def test_the_paywall_post_is_kept_once_whatever_order_stripe_sends_in(
    billing_app, bclient, boutbox, bsession, fake_stripe
):
    from billing.models import Subscription
    from growth.links import manage_token
    from tests.billing.conftest import confirmed_subscriber, csrf_from, post_event
    from tests.billing.test_checkout import make_tier, sync
    from tests.content.conftest import make_post
    from tests.fakes.stripe import event

    ana = confirmed_subscriber(bclient, boutbox, bsession)
    post = make_post(bsession, title="Gated", audience="paid")
    tier = make_tier(billing_app, bsession)
    sync(billing_app)
    with billing_app.test_request_context():
        token = manage_token(ana)
    page = bclient.get(f"/me/{token}/upgrade?post={post.id}").get_data(as_text=True)
    assert f'name="post_id" value="{post.id}"' in page  # the reader's own upgrade page carries it
    answer = bclient.post(
        "/billing/checkout",
        json={"t": token, "tier_id": tier.id, "interval": "month", "post_id": post.id},
        headers={"X-CSRFToken": csrf_from(page)},
    )
    assert answer.status_code == 200
    session_obj = next(iter(fake_stripe.checkout_sessions.values()))
    events = fake_stripe.complete_checkout(session_obj["id"], int(time.time()) - 86_400)
    for e in reversed(events):  # the invoice first, the Checkout Session last
        assert post_event(bclient, e).status_code == 200
    # a later update whose metadata names another post (edited at Stripe) changes nothing
    sub_obj = next(e for e in events if e["type"] == "customer.subscription.created")["data"]["object"]
    edited = {**sub_obj, "metadata": {**sub_obj["metadata"], "post_id": "999"}}
    assert (
        post_event(bclient, event("customer.subscription.updated", edited, int(time.time()))).status_code
        == 200
    )
    bsession.expire_all()
    (sub,) = bsession.query(Subscription).all()
    assert sub.checkout_post_id == post.id
