"""The desk on a seeded install (`seed-demo --small`) in headless Chromium, desktop and 390 px.

The headline and every panel render with the demo's numbers: each chart is drawn by
static/charts.js with data in it, the heat grids into their <svg>, a panel's CSV downloads; the
referral report and a send's page too; nothing scrolls sideways on a phone. Screenshots go to
tests/artifacts/ (ignored by git). SQLite run only, like tests/growth/test_desk_in_browser.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from growth.db import db
from tests.browser import CHROMIUM, chromium, log_in, page_errors, served
from tests.conftest import USING_POSTGRES
from tests.demo_db import seeded_copy

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
# Sum of every number a drawn chart holds (a chart drawn from zeros would pass a "drawn" check).
CHART_SUM = (
    "id => { const c = Chart.getChart(id); return c.data.datasets"
    ".map(d => d.data.reduce((a, b) => a + Math.abs(b || 0), 0)).reduce((a, b) => a + b, 0); }"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """The seeded demo served for real, with an admin to log in as."""
    ARTIFACTS.mkdir(exist_ok=True)
    root = tmp_path_factory.mktemp("demo-desk")
    seeded, made = seeded_copy(root)
    os.replace(seeded, root / "browser.db")  # served() opens (and migrates, a no-op) this file
    with served(root, _operator) as (base, _config, ids):
        yield {"base": base, "made": made, **ids}


def _operator(now: dt.datetime) -> dict[str, int]:
    from sqlalchemy import select

    from content.models import Send
    from growth import auth

    auth.create_operator(db.session, "desk@example.com", PASSWORD, "admin")
    send = db.session.scalars(select(Send).where(Send.kind == "pitch").order_by(Send.id.desc())).first()
    db.session.commit()
    assert send is not None, "the demo sends pitches"
    return {"send": send.id}


@pytest.fixture(scope="module")
def browser(demo):  # type: ignore[no-untyped-def]
    with chromium() as browser:
        yield browser


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


CHARTS = ("funnel", "daily-growth", "cohort-k", "referral-forecast")
HEATS = ("cohorts-active-engaged", "cohorts-paying")


def test_the_desk_draws_its_headline_and_charts_with_the_demo_numbers(browser, demo):  # type: ignore[no-untyped-def]
    base = str(demo["base"])
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    errors = page_errors(page)
    log_in(page, base, "desk@example.com", PASSWORD)
    made = demo["made"]
    assert isinstance(made, dict)
    for label in ("Confirmed signups", "Engaged readers", "Paying readers", "K (cohort)", "Referred share"):
        assert page.locator(f".figure h3:text-is('{label}')").count() == 1, label
    assert page.locator(".figure h3", has_text="MRR (").count() >= 1
    for chart in CHARTS:
        page.wait_for_selector(f"canvas#{chart}[data-drawn]")
        assert page.evaluate(CHART_SUM, chart) > 0, chart
    # the small demo has nobody unsubscribe or complain: its rates are zeros over real emails
    page.wait_for_selector("canvas#value-pitch[data-drawn='2']")
    emails = page.evaluate(
        "JSON.parse(document.getElementById('value-pitch-data').textContent).labels.length"
    )
    assert emails == 6
    counted = page.evaluate(
        "Array.from(document.querySelectorAll('#panel-value-pitch tbody tr'))"
        ".map(r => r.cells[3].textContent)"
    )
    assert sum(int(n) for n in counted) > 0  # the table's "Emails" column, folded under <details>
    movements = page.locator("canvas[id^=mrr-movements-]")
    assert movements.count() >= 1
    assert page.evaluate(CHART_SUM, movements.first.get_attribute("id")) > 0
    for grid in HEATS:
        page.wait_for_selector(f"svg#{grid}[data-drawn]")
        assert page.locator(f"svg#{grid} rect").count() > 0, grid
    # the funnel marks one step, the same the table marks
    marked = page.locator("#panel-funnel tr.highlight th").text_content()
    assert marked and marked in page.locator("#panel-funnel .chart-caption").inner_text()
    _shot(page, "desktop-desk")
    with page.expect_download() as info:
        page.click("#panel-funnel a.csv")
    rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_text())))
    assert rows[0][0] == "Step" and rows[1][0] == "signed up" and int(rows[1][1]) == made["subscribers"]

    page.goto(base + "/admin/referral-report")
    for chart in ("cohort-k", "referral-forecast", "referral-generations", "referral-cascades"):
        page.wait_for_selector(f"canvas#{chart}[data-drawn]")
        assert page.evaluate(CHART_SUM, chart) > 0, chart
    assert page.locator("ul.words li").count() >= 3
    assert "@" in page.locator("#top-title + div table").inner_text()  # referrers by email, not id
    _shot(page, "desktop-referral-report")

    page.goto(f"{base}/admin/sends/{demo['send']}")
    figures = dict(
        zip(
            page.locator(".send-figures h3").all_inner_texts(),
            page.locator(".send-figures .value").all_inner_texts(),
            strict=True,
        )
    )
    assert int(figures["Delivered"].replace(",", "")) > 0 and "Referral visits" in figures
    _shot(page, "desktop-send")
    assert errors == []
    context.close()


def test_the_desk_fits_a_phone(browser, demo):  # type: ignore[no-untyped-def]
    base = str(demo["base"])
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    errors = page_errors(page)
    log_in(page, base, "desk@example.com", PASSWORD)
    wide = {}
    for path in ("/admin/", "/admin/referral-report", f"/admin/sends/{demo['send']}"):
        page.goto(base + path)
        page.wait_for_load_state("load")
        if path == "/admin/":
            page.wait_for_selector("canvas#funnel[data-drawn]")
        if not page.evaluate(NO_SIDEWAYS_SCROLL):
            wide[path] = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        _shot(page, "phone-desk" + re.sub(r"[^a-z0-9]+", "-", path).rstrip("-"))
    assert wide == {}
    box = page.evaluate("document.getElementById('referral-forecast') === null")
    assert box is True  # the send page has no chart; the desk's were checked drawn above
    assert errors == []
    context.close()
