"""The main pages in headless Chromium with the CSP enforced: no violation, and the scripts run.

Needs Chromium (Debian's `chromium`; `make test` installs it when it is missing and we are root)
and playwright-python, which drives it over the DevTools protocol without a browser of its own.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from growth.db import db
from tests.browser import CHROMIUM, chromium, served
from tests.conftest import read_outbox, text_of

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright-python is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)"
)

PASSWORD = "correct horse battery staple"
# Recorded from inside the page; DevTools init scripts are not subject to the page's CSP.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  var where = e.sourceFile + ":" + e.lineNumber;
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + where);
});
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real server on a loopback port, with its own SQLite database, and a post, a tier, an operator."""
    from billing import service as billing
    from content import posts
    from growth import auth

    def populate(now: dt.datetime) -> str:
        auth.create_operator(db.session, "ops@example.com", PASSWORD, "admin")
        post = posts.create_post(
            db.session,
            posts.PostInput(
                title="Hello readers",
                excerpt="What this is about",
                body_markdown="First paragraph.\n\nSecond one, **bold**.",
                status="published",
                published_at=now - dt.timedelta(days=1),
            ),
            now,
        )
        billing.create_tier(
            db.session,
            billing.TierInput(
                name="Member", monthly_price_cents=500, yearly_price_cents=5000, currency="usd"
            ),
            now,
        )
        db.session.commit()
        return post.slug

    with served(tmp_path_factory.mktemp("browser"), populate) as (base, config, slug):
        yield {"base": base, "slug": slug, "outbox": str(config.outbox_dir)}


@pytest.fixture(scope="module")
def browser(live: dict[str, str]):  # type: ignore[no-untyped-def]
    with chromium() as browser:
        yield browser


class Watched:
    """A page whose CSP violations and script errors are collected."""

    def __init__(self, browser, base: str) -> None:  # type: ignore[no-untyped-def]
        self.base = base
        self.context = browser.new_context()
        self.context.add_init_script(WATCH)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on(
            "console",
            lambda m: self.console.append(m.text) if "Content Security Policy" in m.text else None,
        )
        self.page.on("pageerror", lambda e: self.console.append(f"script error: {e}"))
        self.seen: dict[str, list[str]] = {}

    def open(self, path: str):  # type: ignore[no-untyped-def]
        response = self.page.goto(self.base + path)
        assert response is not None and response.ok, (path, response and response.status)
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        self.check(path)
        return response

    def check(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        self.seen[name] = self.page.evaluate("window.__violations") + self.console
        self.console = []


def test_the_violation_watch_sees_inline_code_under_our_policy(browser, live):  # type: ignore[no-untyped-def]
    watched = Watched(browser, live["base"])
    policy = watched.open("/subscribe").headers["content-security-policy"]
    watched.page.route(
        "**/probe",
        lambda route: route.fulfill(
            status=200,
            content_type="text/html",
            headers={"Content-Security-Policy": policy},
            body='<p style="color:red">x</p><script>document.title = "ran"</script>',
        ),
    )
    watched.page.goto(live["base"] + "/probe")
    watched.check("probe")
    assert watched.page.title() != "ran"
    assert len(watched.seen["probe"]) >= 2, watched.seen  # the style attribute and the script
    watched.context.close()


def test_main_pages_satisfy_the_policy(browser, live):  # type: ignore[no-untyped-def]
    watched = Watched(browser, live["base"])
    page = watched.page
    watched.open("/subscribe?utm_source=podcast")
    assert page.input_value("input[name=utm_source]") == "podcast"  # masthead.js ran
    assert page.input_value("input[name=landing_url]").endswith("utm_source=podcast")
    page.fill("#email", "reader@example.com")
    page.click("form[action='/subscribe'] button[type=submit]")
    watched.check("check inbox")
    assert "Check your inbox" in page.content()

    [confirmation] = read_outbox(Path(live["outbox"]))
    link = re.search(r"http://127\.0\.0\.1:\d+(/confirm/\S+)", text_of(confirmation))
    assert link
    watched.open(link.group(1))
    assert "You're in" in page.content()
    manage = page.get_attribute("a:text('Manage your subscription')", "href")
    token_path = manage.removeprefix(live["base"])
    for path in (token_path, f"{token_path}/referrals", f"{token_path}/upgrade", "/", f"/p/{live['slug']}"):
        watched.open(path)
    watched.open("/embed.html")  # the snippet's own inline code, allowed by its hashes

    watched.open("/admin/login")
    page.fill("#email", "ops@example.com")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    watched.check("dashboard")
    assert "Dashboard" in page.content()
    for path in ("/admin/posts", "/admin/posts/new", "/admin/tiers", "/admin/referrals", "/admin/outbox"):
        watched.open(path)
    violations = {name: found for name, found in watched.seen.items() if found}
    assert violations == {}
    assert len(watched.seen) == 16
    watched.context.close()


def test_webhook_pages_fit_a_phone(browser, live):  # type: ignore[no-untyped-def]
    """The webhook list and an endpoint with its log: no CSP violation, no sideways scroll."""
    from tests.fakes.webhook_receiver import WebhookReceiver

    receiver = WebhookReceiver().start()
    try:
        for width, height in ((390, 844), (1280, 900)):
            context = browser.new_context(viewport={"width": width, "height": height})
            context.add_init_script(WATCH)
            page = context.new_page()
            page.goto(live["base"] + "/admin/login")
            page.fill("#email", "ops@example.com")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state("load")
            page.goto(live["base"] + "/admin/webhooks")
            page.fill("#url", receiver.url + "/a-rather-long-path/that-goes-on/and-on?with=query&and=more")
            page.fill("#description", "CRM sync")
            page.check("input[value='subscriber.created']")
            page.check("input[value='subscriber.stage_changed']")
            page.click("form[action='/admin/webhooks'] button[type=submit]")
            page.wait_for_load_state("load")
            assert "whsec_" in page.input_value("input[aria-label='Signing secret']")
            page.click("button:text('Send a test event')")
            page.wait_for_load_state("load")
            assert receiver.arrived.wait(10)
            page.wait_for_timeout(300)
            page.reload()
            page.click("details summary")
            assert "HTTP 200" in page.content() and "Send again" in page.content()
            for path in (page.url.removeprefix(live["base"]), "/admin/webhooks"):
                page.goto(live["base"] + path)
                page.wait_for_load_state("load")
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, (width, path, overflow)
                assert page.evaluate("window.__violations") == [], path
            receiver.reset()
            context.close()
    finally:
        receiver.stop()


SHOTS = Path(__file__).resolve().parents[2] / "instance" / "screenshots"


def test_the_writing_desk_previews_live_under_the_policy(browser, live):  # type: ignore[no-untyped-def]
    """The editor's two previews load and follow typing; nothing breaks the CSP, frames included."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        watched = Watched(browser, live["base"])
        page = watched.page
        page.set_viewport_size({"width": width, "height": height})
        watched.open("/admin/login")
        page.fill("#email", "ops@example.com")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        watched.check("dashboard")
        watched.open("/admin/posts")
        edit = page.get_attribute("a:text('Hello readers')", "href")
        watched.open(edit)
        web = page.frame(name="preview-web")
        email = page.frame(name="preview-email")
        assert web is not None and email is not None
        web.wait_for_selector("text=Second one", timeout=10_000)
        email.wait_for_selector("text=Second one", timeout=10_000)
        page.fill("#body_markdown", "Typed just now, **live**.")
        web.wait_for_selector("text=Typed just now", timeout=10_000)
        email.wait_for_selector("text=Typed just now", timeout=10_000)
        page.screenshot(path=str(SHOTS / f"desk-{width}.png"), full_page=True)
        for frame in (web, email):
            assert frame.evaluate("window.__violations || []") == []
        # The page itself fits the phone: nothing wider than the viewport.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        watched.open("/")
        page.screenshot(path=str(SHOTS / f"archive-{width}.png"), full_page=True)
        post_id = edit.rstrip("/").rsplit("/", 1)[1]
        watched.open(f"/admin/posts/{post_id}/report")
        page.screenshot(path=str(SHOTS / f"report-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        violations = {name: found for name, found in watched.seen.items() if found}
        assert violations == {}
        watched.context.close()
