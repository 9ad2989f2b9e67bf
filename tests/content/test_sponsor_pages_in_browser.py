"""The sponsorship and partner pages in headless Chromium: no CSP violation, no sideways scroll at 390 px."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from growth.db import db
from tests.browser import CHROMIUM, chromium, served

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright-python is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)"
)

PASSWORD = "correct horse battery staple"
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""
SHOTS = Path(__file__).resolve().parents[2] / "instance" / "screenshots"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A served app with a sponsored post, a rate card, a partner."""
    from content import media_kit, posts, sending, sponsorships
    from growth import auth, partners

    def populate(now: dt.datetime) -> dict[str, str]:
        session = db.session
        auth.create_operator(session, "ops@example.com", PASSWORD, "admin")
        post = posts.create_post(
            session,
            posts.PostInput(
                title="A sponsored issue",
                body_markdown="First paragraph.\n\nSecond one.\n\nThird.\n\nFourth, the last one.",
                status="published",
                published_at=now - dt.timedelta(days=1),
            ),
            now,
        )
        sponsor = sponsorships.create_sponsor(
            session,
            sponsorships.SponsorInput(
                "Acme Rockets International", "ads@acme.example", "https://acme.example"
            ),
            now,
        )
        day = now + dt.timedelta(days=2)
        booking = sponsorships.book_slot(
            session,
            sponsorships.BookingInput(
                sponsor_id=sponsor.id,
                run_on=day.date().isoformat(),
                slot="middle",
                creative_markdown="**Acme** builds rockets for every budget. "
                "[Try Acme today](https://acme.example/a/very/long/landing/page?utm_source=masthead&utm_medium=email)",
                pricing="per_thousand",
                price_cents=2_500,
                currency="usd",
            ),
            now,
        )
        sending.create_send(session, post, "all", now, scheduled_at=day)
        media_kit.set_rate(session, "top", "flat", 50_000, "usd", "the first thing readers see", now)
        media_kit.set_rate(session, "bottom", "per_click", 150, "usd", "", now)
        partners.create_partner(
            session,
            partners.PartnerInput(
                code="the-daily", name="The Daily", recommended=True, page_url="https://daily.example/join"
            ),
            now,
        )
        session.commit()
        report = sponsorships.report_url(booking)
        return {"slug": post.slug, "booking": str(booking.id), "report": report.split("/sponsor/", 1)[1]}

    with served(tmp_path_factory.mktemp("sponsor-browser"), populate) as (base, _config, data):
        yield {"base": base, **data}


def test_sponsorship_and_partner_pages_fit_a_phone_and_a_desktop(live):  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    public = ("/media-kit", f"/sponsor/{live['report']}", f"/p/{live['slug']}")
    admin = (
        "/admin/sponsorships",
        "/admin/sponsorships/calendar",
        f"/admin/sponsorships/{live['booking']}",
        "/admin/partners",
    )
    with chromium() as browser:
        for width, height in ((390, 844), (1280, 900)):
            context = browser.new_context(viewport={"width": width, "height": height})
            context.add_init_script(WATCH)
            page = context.new_page()
            page.goto(live["base"] + "/admin/login")
            page.fill("#email", "ops@example.com")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state("load")
            for path in public + admin:
                response = page.goto(live["base"] + path)
                assert response is not None and response.ok, (path, response and response.status)
                page.wait_for_load_state("load")
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, (width, path, overflow)
                assert page.evaluate("window.__violations") == [], path
                name = path.strip("/").replace("/", "-")[:40] or "home"
                page.screenshot(path=str(SHOTS / f"sponsor-{width}-{name}.png"), full_page=True)
            context.close()
