"""Charts: the pinned Chart.js ships with its licence, and a newsletter page draws its numbers."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from pathlib import Path

from growth import auth, newsletters
from growth.db import utcnow
from growth.models import Membership
from tests.fakes.engagement_data import make_subscriber
from tests.growth.helpers import login_as

VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor" / "chartjs"
CHART_JS_SHA256 = "87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2"  # chart.js 4.6.1


def test_the_vendored_chart_library_is_the_pinned_file_with_its_licence():
    assert hashlib.sha256((VENDOR / "chart.umd.min.js").read_bytes()).hexdigest() == CHART_JS_SHA256
    assert "MIT" in (VENDOR / "LICENSE.md").read_text()
    readme = (VENDOR / "README.md").read_text()
    assert "chart.js@4.6.1" in readme and CHART_JS_SHA256 in readme and "registry.npmjs.org" in readme


def test_the_newsletter_page_has_a_chart_its_table_and_its_csv(client, session):
    admin = auth.create_operator(session, "boss@example.com", "long enough pw", "admin")
    now = utcnow()
    weekly = newsletters.create_newsletter(session, {"name": "Weekly"}, now)
    for i, days_ago in enumerate((0, 0, 2)):
        reader = make_subscriber(session, f"r{i}@example.com", confirmed_at=now, newsletters=[])
        joined = now - dt.timedelta(days=days_ago)
        session.add(
            Membership(
                subscriber_id=reader.id,
                newsletter_id=weekly.id,
                status="active" if days_ago else "pending",
                created_at=joined,
                confirmed_at=joined if days_ago else None,
            )
        )
    session.commit()
    login_as(client, admin)
    page = client.get(f"/admin/newsletters/{weekly.id}")
    html = page.get_data(as_text=True)
    assert '<script src="/static/vendor/chartjs/chart.umd.min.js" defer>' in html
    assert '<canvas id="newsletter-daily" data-chart="newsletter-daily-data"' in html
    data = json.loads(re.search(r'id="newsletter-daily-data">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert data["series"][0]["label"] == "Signups" and len(data["labels"]) == 30
    assert data["series"][0]["data"][-1] == 2 and data["series"][0]["data"][-3] == 1
    assert data["series"][1]["data"][-1] == 0 and data["series"][1]["data"][-3] == 1
    assert f'<th scope="row">{data["labels"][-1]}</th><td>2</td><td>0</td>' in html  # the table fallback
    download = client.get(f"/admin/newsletters/{weekly.id}/daily.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
    assert rows[0] == ["day", "Signups", "Confirmations"]
    assert rows[-1] == [data["labels"][-1], "2", "0"] and len(rows) == 31
    assert client.get("/admin/newsletters/987654/daily.csv").status_code == 404
