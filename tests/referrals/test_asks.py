"""Referral asks at the moment of reading: shown, counted once, clicked safely, credited."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from referrals import ask_metrics
from referrals.models import Referral, ReferralAskEvent, ReferralVisit
from tests.referrals.helpers import BROWSER, by_email, join, operator_token


def ask_events(session, kind: str, placement: str = "confirmed") -> int:  # type: ignore[no-untyped-def]
    session.expire_all()
    q = select(func.count()).where(ReferralAskEvent.kind == kind, ReferralAskEvent.placement == placement)
    return int(session.scalar(q) or 0)


def test_placement_rates_by_hand():
    counts = {
        "post_end": ask_metrics.PlacementCounts(views=200, share_clicks=10, visits=30, counted_referrals=3),
        "confirmed": ask_metrics.PlacementCounts(views=50, share_clicks=5, visits=4, counted_referrals=1),
    }
    rows = {r["placement"]: r for r in ask_metrics.placement_rows(counts, ("post_end", "confirmed", "poll"))}
    assert rows["post_end"]["click_through_rate"] == 0.05
    assert rows["post_end"]["referrals_per_1000_views"] == 15.0
    assert rows["poll"]["views"] == 0 and rows["poll"]["click_through_rate"] is None
    assert rows["all"] == {
        "placement": "all",
        "views": 250,
        "share_clicks": 15,
        "visits": 34,
        "counted_referrals": 4,
        "click_through_rate": 15 / 250,
        "referrals_per_1000_views": 16.0,
    }


def test_the_confirmation_page_asks_once_a_day_and_shares_only_through_the_allow_list(
    client, session, outbox
):
    page = join(client, outbox, "ana@example.com")
    html = page.get_data(as_text=True)
    paths = re.findall(r'href="https?://[^"/]+(/share/[^"/]+/[a-z]+)"', html)
    assert paths, "the confirmation page carries the ask with its share buttons"
    assert ask_events(session, "view") == 1
    assert ask_events(session, "view", "welcome") == 1  # the welcome email carried one too
    client.get(page.request.path)  # the same reader opens the page again: still one view today
    assert ask_events(session, "view") == 1
    x = next(p for p in paths if p.endswith("/x"))
    clicked = client.get(x)
    assert clicked.status_code == 303
    assert clicked.headers["Location"].startswith("https://x.com/intent/post?")
    ana = by_email(session, "ana@example.com")
    assert (
        ana.referral_code in clicked.headers["Location"] and "ask%3Dconfirmed" in clicked.headers["Location"]
    )
    assert client.get(x).status_code == 303 and ask_events(session, "click") == 1  # once a day
    token = x.split("/")[2]
    # An attacker cannot send readers elsewhere: unknown targets and forged tokens are 404s.
    assert client.get(f"/share/{token}/https%3A%2F%2Fevil.example").status_code == 404
    assert client.get(f"/share/{token}/evil").status_code == 404
    # A forged or garbled token is a bad link (400, like any signed link that does not check).
    assert client.get(f"/share/{token[:-3]}xyz/x").status_code == 400
    assert client.get("/share/not-a-token/x").status_code == 400


def test_a_friend_through_the_ask_is_credited_to_its_placement_and_unknown_ones_are_ignored(
    client, session, outbox
):
    join(client, outbox, "ana@example.com")
    ana = by_email(session, "ana@example.com")
    client.delete_cookie("mh_ref")
    client.delete_cookie("mh_ask")
    landing = client.get(f"/r/{ana.referral_code}?ask=confirmed", headers={"User-Agent": BROWSER})
    assert landing.status_code == 200
    join(client, outbox, "bea@example.com", ip="203.0.113.9", ref=ana.referral_code)
    bea = by_email(session, "bea@example.com")
    session.expire_all()
    referral = session.scalars(select(Referral).where(Referral.referred_id == bea.id)).one()
    assert referral.placement == "confirmed"
    client.get(f"/r/{ana.referral_code}?ask=banner", headers={"User-Agent": BROWSER})
    placements = [v.placement for v in session.scalars(select(ReferralVisit).order_by(ReferralVisit.id))]
    assert placements == ["confirmed", None]
    token = operator_token(session)
    session.commit()
    report = client.get("/api/v1/reports/referrals", headers={"Authorization": f"Bearer {token}"})
    assert report.status_code == 200
    rows = {r["placement"]: r for r in report.get_json()["placements"]}
    assert rows["confirmed"]["visits"] == 1
    assert rows["confirmed"]["counted_referrals"] == (1 if referral.status == "counted" else 0)
    assert rows["confirmed"]["views"] == 2  # Ana's and Bea's confirmation pages
    assert set(rows) == {"post_end", "confirmed", "poll", "welcome", "all"}


def test_the_end_of_a_post_asks_a_known_reader_to_share_that_post_and_strangers_get_the_form(
    client, session, outbox
):
    from content.paywall import reader_token
    from tests.content.conftest import make_post

    join(client, outbox, "ana@example.com")
    ana = by_email(session, "ana@example.com")
    post = make_post(session, "Worth sharing", audience="public")
    session.commit()
    client.delete_cookie("mh_ref")
    stranger = client.get(f"/p/{post.slug}").get_data(as_text=True)
    assert "/share/" not in stranger
    client.get(f"/p/{post.slug}?r={reader_token(ana.id)}")
    page = client.get(f"/p/{post.slug}").get_data(as_text=True)
    assert "/share/" in page
    assert f"/p/{post.slug}?ref={ana.referral_code}&amp;ask=post_end" in page  # the post's own link
    session.expire_all()
    views = session.scalars(
        select(ReferralAskEvent).where(
            ReferralAskEvent.placement == "post_end", ReferralAskEvent.kind == "view"
        )
    ).all()
    assert [(v.subscriber_id, v.post_id) for v in views] == [(ana.id, post.id)]  # two reads, one view
