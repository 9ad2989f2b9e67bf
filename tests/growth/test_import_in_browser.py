"""The member import page in headless Chromium: a dry run's report fits a phone and a desktop."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from growth.db import db
from tests.browser import CHROMIUM, chromium, served
from tests.growth import platform_exports as samples

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright-python is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)"
)

PASSWORD = "correct horse battery staple"
SHOTS = Path(__file__).resolve().parents[2] / "instance" / "screenshots"
LONG = "a.very.long.address.that.keeps.going.and.going.and.going@subdomain.example.com"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from growth import auth

    def populate(_now: dt.datetime) -> None:
        auth.create_operator(db.session, "ops@example.com", PASSWORD, "admin")
        db.session.commit()

    with served(tmp_path_factory.mktemp("import-browser"), populate) as (base, _config, _):
        yield base


def test_the_import_page_and_its_report_fit_a_phone(live, tmp_path):  # type: ignore[no-untyped-def]
    export = tmp_path / "kit.csv"
    export.write_text(samples.KIT + f"Long,{LONG},weird-state,2025-01-01T00:00:00Z,\n", encoding="utf-8")
    with chromium() as browser:
        for width, height in ((390, 844), (1280, 900)):
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.goto(live + "/admin/login")
            page.fill("#email", "ops@example.com")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state("load")
            page.goto(live + "/admin/subscribers/import")
            page.select_option("#platform", "kit")
            page.set_input_files("#file", str(export))
            page.click("form button[type=submit]")
            page.wait_for_load_state("load")
            text = page.inner_text("main")
            assert "What the import would do (kit)" in text and "nothing was written" in text
            assert "unknown Kit state 'weird-state'" in text
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"import-members-{width}.png"), full_page=True)
            assert overflow <= 0, (width, overflow)
            context.close()
