"""Attribution read by the other reports: computed once per request, and on one hand-built
history the referral report, acquisition economics, partners and the desk agree with it."""

from __future__ import annotations

import datetime as dt

import pytest

from billing import attribution_report
from growth import access
from growth.db import db, utcnow


@pytest.fixture
def computations(monkeypatch):  # type: ignore[no-untyped-def]
    """Count the full computations of the attribution."""
    calls: list[dt.datetime] = []
    real = attribution_report.compute

    def counting(session, now):  # type: ignore[no-untyped-def]
        calls.append(now)
        return real(session, now)

    monkeypatch.setattr(attribution_report, "compute", counting)
    return calls


def test_views_asked_in_one_request_compute_once_and_a_new_request_recomputes(
    billing_app, bsession, computations
):
    with billing_app.test_request_context("/admin/desk"):
        for by in access.ATTRIBUTION_VIEWS:
            assert access.attribution(db.session, by, utcnow()) is not None
        attribution_report.post_figures(db.session, [1, 2])
    assert len(computations) == 1
    with billing_app.test_request_context("/admin/desk"):
        access.attribution(db.session, "post", utcnow())
        access.attribution(db.session, "source", utcnow())
    assert len(computations) == 2
    # outside a request (the CLI, the worker) each call computes afresh
    access.attribution(db.session, "post", utcnow())
    access.attribution(db.session, "post", utcnow())
    assert len(computations) == 4


# ---- one hand-built history read by every report that credits revenue ----------------------
#
# Ana referred Bo and Cy; Bo referred Dee. Pia came through the partner "zine" (no price: the source
# "recommendation"). Bo pays 10.00, Dee 5.00 (after reading the post "Read me" an hour before), Pia
# 7.00, all in usd: 22.00 from three paid conversions.


def _pay(session, subscriber, cents: int, at: dt.datetime) -> None:  # type: ignore[no-untyped-def]
    import uuid

    from billing.models import Invoice

    session.add(
        Invoice(
            stripe_invoice_id=f"in_{uuid.uuid4().hex[:12]}",
            stripe_customer_id=f"cus_{subscriber.id}",
            subscriber_id=subscriber.id,
            currency="usd",
            amount_paid_cents=cents,
            tax_cents=0,
            paid_at=at,
        )
    )


@pytest.fixture
def paid_history(client, session, outbox):  # type: ignore[no-untyped-def]
    import uuid

    from growth import partners
    from growth.models import EmailEvent
    from tests.content.conftest import make_post
    from tests.referrals.helpers import by_email, join, refer

    partners.create_partner(session, partners.PartnerInput(code="zine", name="Zine"), utcnow())
    session.commit()
    join(client, outbox, "ana@example.com", ip="192.0.2.1")
    refer(client, session, outbox, "ana@example.com", "bo@example.com", ip="192.0.2.2")
    refer(client, session, outbox, "ana@example.com", "cy@example.com", ip="192.0.2.3")
    refer(client, session, outbox, "bo@example.com", "dee@example.com", ip="192.0.2.4")
    join(client, outbox, "pia@example.com", ip="192.0.2.5", partner="zine")
    people = {name: by_email(session, f"{name}@example.com") for name in ("ana", "bo", "cy", "dee", "pia")}
    post = make_post(session, title="Read me")
    now = utcnow()
    session.add(
        EmailEvent(
            event_id=f"t-{uuid.uuid4().hex}",
            type="web_visit",
            subscriber_id=people["dee"].id,
            at=now - dt.timedelta(hours=1),
            url=f"http://masthead.test/p/{post.slug}",
        )
    )
    _pay(session, people["bo"], 1000, now - dt.timedelta(seconds=3))
    _pay(session, people["dee"], 500, now - dt.timedelta(seconds=2))
    _pay(session, people["pia"], 700, now - dt.timedelta(seconds=1))
    session.commit()
    return {**people, "post": post}


def _headers(session, role: str = "admin") -> dict[str, str]:  # type: ignore[no-untyped-def]
    from tests.growth.test_acquisition_api import bearer

    return bearer(session, role)


def test_the_hand_built_history_in_the_attribution_itself(client, session, paid_history):
    h = paid_history
    views = {
        by: client.get(f"/api/v1/reports/attribution?by={by}", headers=_headers(session)).get_json()
        for by in access.ATTRIBUTION_VIEWS
    }
    for view in views.values():
        assert view["total_revenue_cents"] == {"usd": 2200} and view["conversions"] == 3
    post = {r["key"]: r["revenue_cents"] for r in views["post"]["rows"]}
    assert post == {str(h["post"].id): {"usd": 500}, "none": {"usd": 1700}}
    source = {r["key"]: r["revenue_cents"] for r in views["source"]["rows"]}
    assert source == {"referral": {"usd": 1500}, "recommendation": {"usd": 700}}
    referrer = {r["key"]: r["revenue_cents"] for r in views["referrer"]["rows"]}
    assert referrer == {str(h["ana"].id): {"usd": 1000}, str(h["bo"].id): {"usd": 500}, "none": {"usd": 700}}


def test_the_referral_report_credits_direct_referrals_and_labels_the_chain_as_influence(
    client, session, paid_history
):
    from referrals import metrics
    from referrals import report as referral_report

    h = paid_history
    ana, bo = h["ana"].id, h["bo"].id
    body = client.get("/api/v1/reports/referrals", headers=_headers(session)).get_json()
    rows = body["top_referrers"]["by_downstream"]
    assert [(r["subscriber_id"], r["direct"], r["downstream"]) for r in rows] == [(ana, 2, 3), (bo, 1, 1)]
    # Ana brought Bo (10.00) directly; Bo brought Dee (5.00); Cy never paid
    assert {r["subscriber_id"]: r["revenue_credited"] for r in rows} == {ana: {"usd": 1000}, bo: {"usd": 500}}
    # below Ana: Bo and Dee (15.00); below Bo: Dee. Dee's 5.00 counts twice: not additive
    assert {r["subscriber_id"]: r["downstream_revenue"] for r in rows} == {
        ana: {"usd": 1500},
        bo: {"usd": 500},
    }
    assert body["revenue_labels"]["downstream_revenue"] == "influence, not additive"
    assert "direct referrer" in body["revenue_labels"]["revenue_credited"]
    # without refunds the old definition (every paid invoice below, over the stored forest) agrees
    data = referral_report.load(session, None, None)
    old = metrics.downstream_revenue(data.parent, access.revenue_by_subscriber(session), {ana, bo})
    assert old == {ana: {"usd": 1500}, bo: {"usd": 500}}
    # creators see the growth figures, no money
    creator = client.get("/api/v1/reports/referrals", headers=_headers(session, "creator")).get_json()
    for r in creator["top_referrers"]["by_downstream"]:
        assert r["revenue_credited"] is None and r["downstream_revenue"] is None


def test_acquisition_cash_per_source_and_campaign_equals_the_attribution(client, session, paid_history):
    body = client.get("/api/v1/reports/acquisition", headers=_headers(session)).get_json()
    block = body["attribution"]
    assert block["total_revenue_cents"] == {"usd": 2200} and block["conversions"] == 3
    credited = {r["key"]: r["revenue_cents"] for r in block["source"]}
    assert credited == {"referral": {"usd": 1500}, "recommendation": {"usd": 700}}
    # a window covering every signup, no sponsorship: the report's own cash agrees key by key
    for group, view in (("source", body["sources"]["source"]), ("campaign", body["campaigns"])):
        attributed = {r["key"]: r["revenue_cents"] for r in block[group]}
        cash = {(r["value"], r["currency"]): r["revenue_cents"] for r in view if r["currency"]}
        assert {k: v for k, v in cash.items() if v} == {
            (key, currency): cents for key, money in attributed.items() for currency, cents in money.items()
        }, group
    sources = {(r["value"], r["currency"]): r for r in body["sources"]["source"]}
    assert set(sources) == {("api", None), ("referral", "usd"), ("recommendation", "usd")}
    assert (sources[("referral", "usd")]["signups"], sources[("referral", "usd")]["paying"]) == (3, 2)
    assert sources[("api", None)]["signups"] == 1 and sources[("api", None)]["revenue_cents"] == 0  # Ana
    assert {r["key"] for r in block["campaign"]} == {"", "partner:zine"}
    assert client.get("/api/v1/reports/acquisition", headers=_headers(session, "creator")).status_code == 403


def test_the_partner_row_carries_the_revenue_credited_to_it(client, session, paid_history):
    body = client.get("/api/v1/reports/partners", headers=_headers(session)).get_json()
    (zine,) = body["partners"]
    assert zine["code"] == "zine" and zine["signups"] == 1
    assert zine["revenue_credited"] == {"usd": 700} and zine["paid_conversions"] == 1
    assert "partner" in body["revenue_credited_rule"]
    assert client.get("/api/v1/reports/partners", headers=_headers(session, "creator")).status_code == 403


def test_the_desk_panels_sum_to_the_total_and_only_admins_see_them(client, session, paid_history):
    import csv
    import io

    from growth import auth
    from tests.growth.helpers import login_as

    admin = auth.create_operator(session, "desk-boss@example.com", "long enough pw", "admin")
    creator = auth.create_operator(session, "desk-pen@example.com", "long enough pw", "creator")
    session.commit()
    login_as(client, admin)
    html = client.get("/admin/").get_data(as_text=True)
    for panel in ("attribution-post-usd", "attribution-source-usd"):
        assert f'<canvas id="{panel}"' in html
        rows = list(csv.reader(io.StringIO(client.get(f"/admin/panels/{panel}.csv").get_data(as_text=True))))
        assert rows[0][:3] == [rows[0][0], "Revenue credited", "Paid conversions"]
        assert round(sum(float(r[1]) for r in rows[1:]) * 100) == 2200, panel
        assert sum(int(r[2]) for r in rows[1:]) == 3, panel
    assert "Credited once per paid conversion" in html
    post_rows = list(
        csv.reader(io.StringIO(client.get("/admin/panels/attribution-post-usd.csv").get_data(as_text=True)))
    )
    assert post_rows[1:] == [["no post", "17.0", "2"], ["Read me", "5.0", "1"]]
    login_as(client, creator)
    assert "attribution-post" not in client.get("/admin/").get_data(as_text=True)
    assert client.get("/admin/panels/attribution-post-usd.csv").status_code == 403


def test_the_panels_fold_the_rest_into_one_row():
    from billing.attribution_panels import revenue_panels

    rows = [
        {"key": str(i), "label": f"post {i}", "revenue_cents": {"usd": 100 * i}, "conversions": 1}
        for i in range(1, 5)
    ]
    rows.append({"key": "9", "label": "euro only", "revenue_cents": {"eur": 50}, "conversions": 1})
    view = {"rows": rows, "total_revenue_cents": {"usd": 1000, "eur": 50}, "conversions": 5}
    panels = {p.id: p for p in revenue_panels({"post": view, "source": view}, top=2)}
    usd = panels["attribution-post-usd"]
    assert usd.series.labels == ["post 4", "post 3", "all other (2)"]
    assert usd.extra["cents"] == [400, 300, 300] and sum(usd.extra["cents"]) == usd.extra["total_cents"]
    assert usd.series.columns["Paid conversions"] == [1, 1, 2] and usd.revenue
    assert panels["attribution-post-eur"].series.labels == ["euro only"]
    assert set(panels) == {f"attribution-{v}-{c}" for v in ("post", "source") for c in ("usd", "eur")}


def test_the_admin_pages_print_the_credit_and_label_the_influence(client, session, paid_history):
    from growth import auth
    from tests.growth.helpers import login_as

    admin = auth.create_operator(session, "pages-boss@example.com", "long enough pw", "admin")
    creator = auth.create_operator(session, "pages-pen@example.com", "long enough pw", "creator")
    session.commit()
    login_as(client, admin)
    page = client.get("/admin/referral-report").get_data(as_text=True)
    assert "Revenue credited</th>" in page and "(influence, not additive)</span></th>" in page
    assert "<td>10.00 USD </td><td>15.00 USD </td>" in page  # Ana: credited, then below her
    partners_page = client.get("/admin/partners").get_data(as_text=True)
    assert "Revenue credited</th>" in partners_page and "7.00 USD" in partners_page
    acquisition_page = client.get("/admin/acquisition").get_data(as_text=True)
    assert "Revenue credited by source and campaign" in acquisition_page
    assert "<td>referral</td><td>2</td><td>15.00 USD </td>" in acquisition_page
    login_as(client, creator)
    page = client.get("/admin/referral-report").get_data(as_text=True)
    assert "Revenue credited" not in page and "USD" not in page
    assert client.get("/admin/partners").status_code == 403
    assert client.get("/admin/acquisition").status_code == 403
