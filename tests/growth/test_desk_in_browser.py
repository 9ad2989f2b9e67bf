"""The operator's desk and a reader's path in headless Chromium, on a desktop and at 390 px wide.

Log in, find a subscriber, see the newsletter chart drawn with data, download its CSV; follow a
reader from the home page through confirmation to the referral hub; no page scrolls sideways
on a phone. Screenshots go to tests/artifacts/ (ignored by git). SQLite run only: the browser
says nothing more about PostgreSQL, and the budget is small.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from growth.db import db
from tests.browser import CHROMIUM, chromium, log_in, page_errors, served
from tests.conftest import USING_POSTGRES, read_outbox, text_of

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright-python is not installed")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)"),
    pytest.mark.skipif(USING_POSTGRES, reason="browser tests run on the SQLite run only"),
]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "correct horse battery staple"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
INNER_WIDTH = "window.innerWidth"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A real server on a loopback port with its own SQLite database and a small publication."""
    ARTIFACTS.mkdir(exist_ok=True)
    with served(tmp_path_factory.mktemp("desk"), _fixture_data) as (base, config, ids):
        yield {"base": base, "outbox": Path(config.outbox_dir), **ids}


def _fixture_data(now: dt.datetime) -> dict[str, int]:
    """An admin, a post, a second newsletter with a month of signups, a reader with a long name."""
    from content import posts
    from growth import auth, newsletters
    from growth.models import Membership
    from tests.fakes.engagement_data import make_delivery, make_event, make_subscriber

    session = db.session
    auth.create_operator(session, "ops@example.com", PASSWORD, "admin")
    post = posts.create_post(
        session,
        posts.PostInput(
            title="A long headline about harbours, tides and the people who read the weather",
            excerpt="What this is about",
            body_markdown="First paragraph.",
            status="published",
            published_at=now - dt.timedelta(days=1),
        ),
        now,
    )
    weekly = newsletters.create_newsletter(
        session, {"name": "Weekly Digest", "description": "The week in one email"}, now
    )
    for i in range(24):
        joined = now - dt.timedelta(days=i % 12, hours=i)
        reader = make_subscriber(session, f"reader{i:02d}@example.com", confirmed_at=joined, newsletters=[])
        session.add(
            Membership(
                subscriber_id=reader.id,
                newsletter_id=weekly.id,
                status="active",
                created_at=joined,
                confirmed_at=joined + dt.timedelta(hours=1) if i % 3 else None,
            )
        )
    ana = make_subscriber(session, "ana.with.a.very.long.address.for.phones@example.com", confirmed_at=now)
    ana.name = "Ana Lima"
    ana.source = "podcast"
    delivery = make_delivery(session, ana, now - dt.timedelta(hours=5))
    make_event(session, ana, "open", now - dt.timedelta(hours=4), delivery=delivery, is_machine=True)
    make_event(
        session, ana, "click", now - dt.timedelta(hours=3), delivery=delivery, url="https://example.com/a"
    )
    session.commit()
    return {"weekly": weekly.id, "ana": ana.id, "slug": post.slug}


@pytest.fixture(scope="module")
def browser(live):  # type: ignore[no-untyped-def]
    with chromium() as browser:
        yield browser


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_operator_finds_a_subscriber_sees_the_chart_and_downloads_its_csv(browser, live):  # type: ignore[no-untyped-def]
    base = str(live["base"])
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    errors = page_errors(page)
    log_in(page, base, "ops@example.com", PASSWORD)
    page.click("nav.admin >> text=Subscribers")
    page.fill("#q", "lima")
    page.click("form.filters button[type=submit]")
    page.click("text=ana.with.a.very.long.address.for.phones@example.com")
    assert page.url == f"{base}/admin/subscribers/{live['ana']}"
    assert page.locator("ol.timeline li.human").count() >= 1
    assert page.locator("ol.timeline li.machine").count() >= 1
    _shot(page, "desktop-subscriber")

    page.goto(f"{base}/admin/newsletters/{live['weekly']}")
    page.wait_for_selector("canvas#newsletter-daily[data-drawn='2']")
    drawn = page.evaluate(
        "() => { const c = Chart.getChart('newsletter-daily');"
        " return c.data.datasets.map(d => d.data.reduce((a, b) => a + b, 0)); }"
    )
    assert drawn == [24, 16]  # every signup, and the two in three who confirmed
    height = page.evaluate("document.getElementById('newsletter-daily').getBoundingClientRect().height")
    assert height > 100
    _shot(page, "desktop-newsletter")
    with page.expect_download() as info:
        page.click("figure.chart a.csv")
    saved = Path(info.value.path()).read_text()
    lines = saved.strip().splitlines()
    assert lines[0] == "day,Signups,Confirmations" and len(lines) == 31
    assert sum(int(line.split(",")[1]) for line in lines[1:]) == 24
    assert errors == []
    context.close()


ADMIN_PAGES = (
    "/admin/",
    "/admin/subscribers?q=example",
    "/admin/newsletters",
    "/admin/branding",
    "/admin/posts",
    "/admin/referrals",
    "/admin/outbox",
    "/admin/offers",
)


def test_admin_pages_fit_a_phone_and_the_navigation_folds(browser, live):  # type: ignore[no-untyped-def]
    base = str(live["base"])
    # Not is_mobile: a mobile layout viewport widens to fit what overflows, hiding the overflow.
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    errors = page_errors(page)
    log_in(page, base, "ops@example.com", PASSWORD)
    assert page.evaluate(INNER_WIDTH) == PHONE["width"]
    assert page.locator("nav.admin").is_hidden()
    page.click("button.nav-toggle")
    assert page.locator("nav.admin").is_visible()
    assert page.get_attribute("button.nav-toggle", "aria-expanded") == "true"
    _shot(page, "phone-admin-menu")
    wide = {}
    for path in (*ADMIN_PAGES, f"/admin/subscribers/{live['ana']}", f"/admin/newsletters/{live['weekly']}"):
        page.goto(base + path)
        page.wait_for_load_state("load")
        if not page.evaluate(NO_SIDEWAYS_SCROLL):
            wide[path] = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        _shot(page, "phone" + re.sub(r"[^a-z0-9]+", "-", path.split("?")[0]).rstrip("-"))
    assert wide == {}
    page.wait_for_selector("canvas#newsletter-daily[data-drawn='2']")
    assert errors == []
    context.close()


def test_reader_pages_fit_a_phone(browser, live):  # type: ignore[no-untyped-def]
    base = str(live["base"])
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    wide = {}
    for path in ("/subscribe", "/embed.html", f"/p/{live['slug']}", "/pricing"):
        page.goto(base + path)
        if not page.evaluate(NO_SIDEWAYS_SCROLL):
            wide[path] = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        _shot(page, "phone" + re.sub(r"[^a-z0-9]+", "-", path).rstrip("-"))
    assert wide == {}
    context.close()


def test_a_reader_goes_from_the_home_page_through_confirmation_to_the_referral_hub(browser, live):  # type: ignore[no-untyped-def]
    base = str(live["base"])
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        errors = page_errors(page)
        email = f"newcomer-{name}@example.com"
        page.goto(base + "/")
        assert page.evaluate(NO_SIDEWAYS_SCROLL), name
        _shot(page, f"{name}-home")
        page.fill("section.hero #email", email)
        page.click("section.hero button[type=submit]")
        page.wait_for_selector("text=Check your inbox")
        confirmation = [m for m in read_outbox(Path(str(live["outbox"]))) if email in m["To"]][-1]
        link = re.search(r"http://127\.0\.0\.1:\d+(/confirm/\S+)", text_of(confirmation))
        assert link
        page.goto(base + link.group(1))
        assert "You're in" in page.content()
        assert page.evaluate(NO_SIDEWAYS_SCROLL), name
        _shot(page, f"{name}-confirmed")
        page.click("text=Manage your subscription")
        assert page.evaluate(NO_SIDEWAYS_SCROLL), name
        page.click("text=Your referrals and rewards")
        page.wait_for_selector("h1:text('Share')")
        assert page.evaluate(NO_SIDEWAYS_SCROLL), name
        _shot(page, f"{name}-referral-hub")
        assert errors == [], name
        # The welcome email reflows too (a fluid table, not a fixed 600 px one).
        outbox = read_outbox(Path(str(live["outbox"])))
        [welcome] = [m for m in outbox if email in m["To"] and m["X-Masthead-Kind"] == "welcome"]
        html = welcome.get_body(preferencelist=("html",))
        assert html is not None
        mail = context.new_page()  # about:blank: none of the site's CSP, as in a mail client
        mail.set_content(html.get_content())
        assert mail.evaluate(NO_SIDEWAYS_SCROLL), name
        _shot(mail, f"{name}-welcome-email")
        context.close()
