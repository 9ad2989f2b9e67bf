"""Reward ladders tested fairly: the intervals by hand, stable assignment in fixed shares, the
comparison waiting for the horizon, rewards from the reader's own ladder, and bad input."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from sqlalchemy import delete, func, select

from growth import auth, emails, links, privacy, subscribers
from growth import schemas as growth_schemas
from growth.db import commit, db, utcnow
from growth.models import Newsletter, Stage, Subscriber
from growth.subscribers import SignupRequest
from referrals import ladders, rewards, service
from referrals import schemas as referral_schemas
from referrals.ladder_metrics import Variant, compare, count_readers, mean_interval, ratio_interval, wilson
from referrals.models import LadderAssignment, LadderVariant, Referral, RewardGrant
from tests.conftest import USING_POSTGRES
from tests.referrals.helpers import by_email, join, operator_token, refer
from tests.referrals.test_pages_and_api import bearer, csrf_of

DAY = dt.timedelta(days=1)
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


# The intervals, by hand ---------------------------------------------------------------------


def test_wilson_interval_by_hand():
    # 3 of 10, z = 1.96: z²/n = 0.38416, centre = (0.3 + 0.19208) / 1.38416 = 0.35551,
    # half = 1.96 · √(0.021 + 0.009604) / 1.38416 = 0.24772 -> 0.1078 .. 0.6032
    figure = wilson(3, 10)
    assert figure["value"] == pytest.approx(0.3)
    assert figure["low"] == pytest.approx(0.1078, abs=5e-4)
    assert figure["high"] == pytest.approx(0.6032, abs=5e-4)
    # 0 of 10: not a zero-width interval: centre = half = 0.19208 / 1.38416 = 0.13877 -> 0 .. 0.2775
    none = wilson(0, 10)
    assert (none["value"], none["low"]) == (0.0, 0.0)
    assert none["high"] == pytest.approx(0.2775, abs=5e-4)
    assert wilson(0, 0) == {"value": None, "low": None, "high": None}


def test_normal_interval_of_a_mean_by_hand():
    # 0, 1, 2, 3: mean 1.5, s = √(5/3) = 1.29099, half = 1.96 · 1.29099 / 2 = 1.26517
    figure = mean_interval([0, 1, 2, 3])
    assert figure["value"] == pytest.approx(1.5)
    assert figure["low"] == pytest.approx(0.23483, abs=1e-4)
    assert figure["high"] == pytest.approx(2.76517, abs=1e-4)
    assert mean_interval([2.0]) == {"value": 2.0, "low": None, "high": None}  # no spread from one
    assert mean_interval([])["value"] is None


def test_delta_method_interval_of_a_ratio_by_hand():
    # costs 100, 0, 300 over referrals 1, 0, 2: R = 400 / 3 = 133.33; residuals -33.33, 0, 33.33;
    # SE = √(2222.2 / 2 / 3) / 1 = 19.245; half = 1.96 · 19.245 = 37.72
    figure = ratio_interval([100, 0, 300], [1, 0, 2])
    assert figure["value"] == pytest.approx(400 / 3)
    assert figure["low"] == pytest.approx(95.61, abs=0.01)
    assert figure["high"] == pytest.approx(171.05, abs=0.01)
    # a tiny ratio with a wide spread is not read as a negative cost
    assert ratio_interval([0, 0, 900], [1, 1, 1])["low"] == 0.0
    assert ratio_interval([0, 0], [0, 0])["value"] is None  # no referral: no cost per referral


# The comparison, on a hand-built set --------------------------------------------------------


def _build(readers, variant: int = 1):  # type: ignore[no-untyped-def]
    """(assignments, referrals, grants) for compare(): each reader (sid, assigned `days_ago`
    before NOW, referrals as (days after assignment, engaged), grants as (days after, cost))."""
    assignments, referrals, grants = [], [], []
    for sid, days_ago, made, granted in readers:
        at = (NOW - days_ago * DAY).timestamp()
        assignments.append((variant, at))
        referrals += [(variant, sid, at, at + d * 86400, engaged) for d, engaged in made]
        grants += [(variant, sid, at, at + d * 86400, cost) for d, cost in granted]
    return assignments, referrals, grants


def test_the_comparison_waits_for_the_horizon_and_computes_the_figures_by_hand():
    generous = Variant(1, "generous", 1, True, "usd")
    young = Variant(2, "young", 1, True, None)
    assignments, referrals, grants = _build(
        [
            # 60 days in: two referrals in its first 30 days (one still engaged), one after them
            # (outside the horizon: not counted), a reward of 500 cents within them, one after
            (1, 60, [(5, True), (10, False), (40, True)], [(10, 500), (45, 900)]),
            (2, 40, [], []),  # judged, brought nobody
            (3, 31, [(1, True), (2, True)], [(2, 300)]),
            # 10 days in: it has not had its 30 days; it would read low, so it waits
            (4, 10, [(1, True)], [(1, 700)]),
        ]
    )
    # the young variant: every reader arrived within the horizon
    more = _build([(5, 29, [(1, True)], []), (6, 0, [], [])], variant=2)
    assignments += more[0]
    referrals += more[1]
    readers = count_readers(assignments, NOW, 30)
    assert readers == {1: (4, 3), 2: (2, 0)}
    first, second = compare([young, generous], readers, referrals, grants, NOW, 30)
    assert (first["name"], second["name"]) == ("generous", "young")  # in id order
    assert (first["assigned"], first["judged"], first["waiting"]) == (4, 3, 1)
    # engaged referrals q = 1, 0, 2; counted c = 2, 0, 2; costs y = 500, 0, 300
    # share with q >= 1: 2 of 3, Wilson: z²/n = 1.28055, centre = (0.66667 + 0.64027) / 2.28055
    # = 0.57308, half = 1.96 · √(0.074074 + 0.106711) / 2.28055 = 0.36542
    share = first["engaged_referrer_share"]
    assert share["value"] == pytest.approx(2 / 3)
    assert share["low"] == pytest.approx(0.2077, abs=5e-4)
    assert share["high"] == pytest.approx(0.9385, abs=5e-4)
    # quality K: mean of 1, 0, 2 = 1, s = 1, half = 1.96 / √3 = 1.13161
    k = first["quality_k"]
    assert k["value"] == pytest.approx(1.0)
    assert (k["low"], k["high"]) == (pytest.approx(-0.13161, abs=1e-4), pytest.approx(2.13161, abs=1e-4))
    # cost per referral: 800 / 4 = 200; residuals 100, 0, -100; SE = √(20000 / 2 / 3) / (4/3)
    # = 43.301; half = 84.87
    cost = first["cost_per_referral_cents"]
    assert cost["value"] == pytest.approx(200.0)
    assert (cost["low"], cost["high"]) == (pytest.approx(115.13, abs=0.01), pytest.approx(284.87, abs=0.01))
    # not judged yet: nothing reads low
    assert (second["assigned"], second["judged"], second["waiting"]) == (2, 0, 2)
    assert second["engaged_referrer_share"]["value"] is None
    assert second["quality_k"]["value"] is None
    assert second["cost_per_referral_cents"]["value"] is None
    # exactly the horizon old is judged; its referral on day 1 counts
    later = compare([young], count_readers(assignments, NOW + DAY, 30), referrals, grants, NOW + DAY, 30)[0]
    assert later["judged"] == 1 and later["quality_k"]["value"] == 1.0


# Assignment ----------------------------------------------------------------------------------


def test_shares_are_respected_over_two_thousand_readers():
    picks = Counter(ladders.pick_variant([(1, 1), (2, 3)], sid, "salt") for sid in range(1, 2001))
    # expected 500 and 1500; a binomial sd of √(2000 · 0.25 · 0.75) = 19.4: 80 is four of them.
    # Equal shares (1000 each) or the weights swapped (1500 / 500) are far outside.
    assert abs(picks[1] - 500) < 80 and abs(picks[2] - 1500) < 80
    three = Counter(ladders.pick_variant([(7, 2), (5, 1), (9, 1)], sid, "salt") for sid in range(1, 2001))
    # 1000 / 500 / 500, sd ≈ 22.4 (the halves) and 19.4 (the quarters)
    assert abs(three[7] - 1000) < 90 and abs(three[5] - 500) < 80 and abs(three[9] - 500) < 80
    # deterministic, and the listing order of the variants does not matter
    assert [ladders.pick_variant([(1, 1), (2, 3)], sid, "salt") for sid in range(50)] == [
        ladders.pick_variant([(2, 3), (1, 1)], sid, "salt") for sid in range(50)
    ]
    assert ladders.pick_variant([], 1, "salt") is None


def _variant(session, name: str, share: int = 1, active: bool = True) -> LadderVariant:  # type: ignore[no-untyped-def]
    return ladders.save_variant(session, {"name": name, "share": share, "active": active})


def test_a_reader_keeps_the_ladder_given_at_signup(session):
    now = utcnow()
    before = subscribers.signup(session, SignupRequest(email="early@example.com"), now).subscriber
    a, b = _variant(session, "A"), _variant(session, "B")
    readers = [
        subscribers.signup(session, SignupRequest(email=f"r{i}@example.com"), now).subscriber
        for i in range(40)
    ]
    given = {r.id: ladders.ladder_of(session, r.id) for r in readers}
    assert set(given.values()) == {a.id, b.id}  # both variants in use, 40 readers at 1:1
    assert ladders.ladder_of(session, before.id) is None  # from before the variants: default ladder
    # a second attempt (a replayed signal) keeps the first, even with the shares changed
    ladders.save_variant(session, {"share": 1000}, a.id)
    ladders.save_variant(session, {"active": False}, b.id)
    for reader in readers:
        assert ladders.assign_ladder(session, reader.id, now + DAY) == given[reader.id]
    rows = session.scalars(select(LadderAssignment).where(LadderAssignment.subscriber_id.in_(given))).all()
    assert len(rows) == 40 and {r.subscriber_id: r.variant_id for r in rows} == given
    assert all(r.assigned_at == now for r in rows)
    # the early reader is not pulled into the comparison later either: only signups are assigned
    assert ladders.ladder_of(session, before.id) is None
    # new readers follow the new shares: B is closed, so they all get A
    late = subscribers.signup(session, SignupRequest(email="late@example.com"), now).subscriber
    assert ladders.ladder_of(session, late.id) == a.id


@pytest.mark.skipif(not USING_POSTGRES, reason="two transactions at once need PostgreSQL")
def test_two_assignments_at_once_leave_one_row(app):
    with app.app_context():
        had_newsletter = db.session.scalar(select(func.count()).select_from(Newsletter))
        now = utcnow()
        reader = subscribers.signup(
            db.session, SignupRequest(email="ladder-race@example.com"), now
        ).subscriber
        variant_ids = [_variant(db.session, f"race {i}").id for i in range(2)]
        # the signup's own assignment is removed: the two threads race for the first one
        db.session.execute(delete(LadderAssignment).where(LadderAssignment.subscriber_id == reader.id))
        reader_id = reader.id
        commit()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    results: list[int | None] = []

    def assign() -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                results.append(ladders.assign_ladder(db.session, reader_id, utcnow()))
                commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=assign) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == []
        with app.app_context():
            rows = db.session.scalars(
                select(LadderAssignment.variant_id).where(LadderAssignment.subscriber_id == reader_id)
            ).all()
            assert len(rows) == 1 and rows[0] in variant_ids
            assert results == [rows[0], rows[0]]
    finally:
        with app.app_context():
            db.session.execute(delete(Subscriber).where(Subscriber.id == reader_id))
            db.session.execute(delete(LadderVariant).where(LadderVariant.id.in_(variant_ids)))
            if not had_newsletter:
                db.session.execute(delete(Newsletter))
            db.session.commit()


# Rewards per ladder ----------------------------------------------------------------------------


def test_rewards_come_from_the_readers_own_ladder(app, client, session, outbox):
    join(client, outbox, "bo@example.com")  # before any variant: the default ladder
    service.save_milestone(session, {"referrals_required": 1, "reward_name": "default badge"})
    variant = _variant(session, "stickers")
    service.save_milestone(
        session,
        {"referrals_required": 1, "reward_name": "sticker pack", "variant_id": variant.id, "cost_cents": 250},
    )
    # the same count on another ladder is no clash; on the same ladder it is
    with pytest.raises(Exception, match="exists already on this ladder"):
        service.save_milestone(
            session, {"referrals_required": 1, "reward_name": "again", "variant_id": variant.id}
        )
    join(client, outbox, "ana@example.com")  # the only active variant: Ana gets it
    ana, bo = by_email(session, "ana@example.com"), by_email(session, "bo@example.com")
    assert (ladders.ladder_of(session, ana.id), ladders.ladder_of(session, bo.id)) == (variant.id, None)
    hub = client.get(f"/me/{links.manage_token(ana)}/referrals").get_data(as_text=True)
    assert "sticker pack" in hub and "default badge" not in hub
    hub = client.get(f"/me/{links.manage_token(bo)}/referrals").get_data(as_text=True)
    assert "default badge" in hub and "sticker pack" not in hub
    # the emails' progress line too, one by one and batched (the prefetch of a send)
    with app.test_request_context():
        core = {"publication": "Masthead test", "referral_url": "http://masthead.test/r/x"}
        alone = [service.email_context(session, r, core)["referral_block"] for r in (ana, bo)]
        emails.prefetch_context(session, [ana, bo])
        batched = [service.email_context(session, r, core)["referral_block"] for r in (ana, bo)]
    assert alone == batched
    assert "1 more friend to the sticker pack." in batched[0] and "default badge." in batched[1]
    # the reader's data export names the ladder they were given
    assert (
        privacy.export_subscriber(session, ana, utcnow())["referrals"]["reward_ladder"]["name"] == "stickers"
    )
    assert privacy.export_subscriber(session, bo, utcnow())["referrals"]["reward_ladder"] is None
    refer(client, session, outbox, "ana@example.com", "cy@example.com", ip="192.0.2.1")
    refer(client, session, outbox, "bo@example.com", "di@example.com", ip="192.0.2.2")
    won = session.execute(
        select(RewardGrant.subscriber_id, RewardGrant.milestone_id).where(
            RewardGrant.subscriber_id.in_([ana.id, bo.id])
        )
    ).all()
    names = {m.id: m.reward_name for m in service.milestones(session)}
    assert sorted((sid, names[mid]) for sid, mid in won) == sorted(
        [(ana.id, "sticker pack"), (bo.id, "default badge")]
    )


def test_a_backfill_offers_a_milestone_only_to_its_ladders_readers(client, session, outbox):
    join(client, outbox, "bo@example.com")  # default ladder
    variant = _variant(session, "V")
    join(client, outbox, "ana@example.com")  # on V
    refer(client, session, outbox, "ana@example.com", "cy@example.com", ip="192.0.2.1")
    refer(client, session, outbox, "bo@example.com", "di@example.com", ip="192.0.2.2")
    ana, bo = by_email(session, "ana@example.com"), by_email(session, "bo@example.com")
    on_v = service.save_milestone(
        session, {"referrals_required": 1, "reward_name": "v mug", "variant_id": variant.id}
    )
    default = service.save_milestone(session, {"referrals_required": 1, "reward_name": "default mug"})
    assert rewards.readers_past(session, on_v) == 1 and rewards.readers_past(session, default) == 1
    rewards.grant_to_readers_past(session, on_v.id, utcnow())
    rewards.grant_to_readers_past(session, default.id, utcnow())
    holders = dict(session.execute(select(RewardGrant.milestone_id, RewardGrant.subscriber_id)).all())
    assert holders == {on_v.id: ana.id, default.id: bo.id}


# The report and the API ------------------------------------------------------------------------


def test_the_report_compares_ladders_only_on_readers_past_the_horizon(client, session, outbox):
    headers = bearer(operator_token(session))
    variant = _variant(session, "V")
    service.save_milestone(
        session, {"referrals_required": 1, "reward_name": "mug", "variant_id": variant.id, "cost_cents": 400}
    )
    join(client, outbox, "ana@example.com")
    join(client, outbox, "bo@example.com")
    refer(client, session, outbox, "ana@example.com", "cy@example.com", ip="192.0.2.1")
    answer = client.get("/api/v1/reports/referrals", headers=headers).get_json()
    growth_schemas.validate(referral_schemas.REPORT, answer)  # the ladders block is documented
    rows = answer["ladders"]
    (row,) = rows
    # all three just signed up: nobody is judged yet, nothing reads low
    assert (row["name"], row["assigned"], row["judged"], row["waiting"]) == ("V", 3, 0, 3)
    assert row["quality_k"]["value"] is None
    # 40 days later in the data: Ana and Bo's first 30 days are over (Cy's too)
    for assignment in session.scalars(select(LadderAssignment)):
        assignment.assigned_at -= 40 * DAY
    for grant in session.scalars(select(RewardGrant)):
        grant.granted_at -= 39 * DAY
    for referral in session.scalars(select(Referral)):
        referral.counted_at -= 39 * DAY
    session.flush()
    # Bo brings Di 35 days after his assignment: past his horizon, in nobody's figures
    refer(client, session, outbox, "bo@example.com", "di@example.com", ip="192.0.2.2")
    bo = by_email(session, "bo@example.com")
    for referral in session.scalars(select(Referral).where(Referral.referrer_id == bo.id)):
        referral.counted_at = utcnow() - 5 * DAY
    for grant in session.scalars(select(RewardGrant).where(RewardGrant.subscriber_id == bo.id)):
        grant.granted_at = utcnow() - 5 * DAY
    session.flush()
    (row,) = client.get("/api/v1/reports/referrals", headers=headers).get_json()["ladders"]
    assert (row["assigned"], row["judged"], row["waiting"]) == (4, 3, 1)  # Di has just arrived
    # Cy is not engaged yet: Ana's referral counts (cost per referral) but not as an engaged one
    cy = by_email(session, "cy@example.com")
    assert cy.stage != Stage.ENGAGED
    assert row["engaged_referrer_share"]["value"] == 0.0
    assert row["quality_k"]["value"] == 0.0
    assert row["cost_per_referral_cents"]["value"] == pytest.approx(400.0)  # one mug, one referral
    assert row["currency"] == "usd"
    # once Cy is engaged, one of the three judged readers (Ana) brought an engaged reader
    cy.stage = Stage.ENGAGED
    session.flush()
    (row,) = client.get("/api/v1/reports/referrals", headers=headers).get_json()["ladders"]
    assert row["engaged_referrer_share"]["value"] == pytest.approx(1 / 3)
    assert row["quality_k"]["value"] == pytest.approx(1 / 3)


def test_ladder_api_and_its_bad_input(client, session, outbox):
    headers = bearer(operator_token(session))
    assert client.get("/api/v1/referrals/ladders").status_code == 401
    created = client.post("/api/v1/referrals/ladders", json={"name": "Big", "share": 3}, headers=headers)
    assert created.status_code == 201
    ladder = created.get_json()
    assert (ladder["name"], ladder["share"], ladder["active"], ladder["assigned"]) == ("Big", 3, True, 0)
    bad_bodies = [
        {},
        {"name": "x"},
        {"name": "x", "share": 0},
        {"name": "x", "share": -1},
        {"name": "x", "share": "2"},
        {"name": "x", "share": 1.5},
        {"name": "x", "share": True},
        {"name": "x", "share": 10**9},
        {"name": "", "share": 1},
        {"name": "x" * 101, "share": 1},
        {"name": "a\nb", "share": 1},
        {"name": "x", "share": 1, "colour": "red"},
    ]
    for body in bad_bodies:
        answer = client.post("/api/v1/referrals/ladders", json=body, headers=headers)
        assert answer.status_code in {400, 422}, body
        assert set(answer.get_json()["error"]) >= {"code", "message"}
    assert client.post("/api/v1/referrals/ladders", data="[", headers=headers).status_code == 400
    duplicate = client.post("/api/v1/referrals/ladders", json={"name": "Big", "share": 1}, headers=headers)
    assert duplicate.status_code == 409 and duplicate.get_json()["error"]["code"] == "duplicate_ladder"
    assert (
        client.patch("/api/v1/referrals/ladders/999999", json={"share": 2}, headers=headers).status_code
        == 404
    )
    assert (
        client.patch(
            f"/api/v1/referrals/ladders/{ladder['id']}", json={"share": 0}, headers=headers
        ).status_code
        == 400
    )
    changed = client.patch(
        f"/api/v1/referrals/ladders/{ladder['id']}", json={"share": 5, "active": False}, headers=headers
    )
    assert changed.status_code == 200 and (changed.get_json()["share"], changed.get_json()["active"]) == (
        5,
        False,
    )
    # milestones on a ladder
    milestone = {"referrals_required": 2, "reward_name": "mug"}
    post = lambda body: client.post("/api/v1/referrals/milestones", json=body, headers=headers)  # noqa: E731
    assert post({**milestone, "variant_id": 999999}).status_code == 404
    for bad in (
        {"variant_id": 0},
        {"variant_id": "1"},
        {"cost_cents": -1},
        {"cost_cents": 1.5},
        {"currency": "us"},
    ):
        assert post({**milestone, **bad}).status_code == 400, bad
    made = post({**milestone, "variant_id": ladder["id"], "cost_cents": 350, "currency": "EUR"})
    assert made.status_code == 201
    assert (made.get_json()["variant_id"], made.get_json()["cost_cents"], made.get_json()["currency"]) == (
        ladder["id"],
        350,
        "eur",
    )
    clash = post(
        {"referrals_required": 3, "reward_name": "cap", "variant_id": ladder["id"], "currency": "usd"}
    )
    assert clash.status_code == 409 and clash.get_json()["error"]["code"] == "currency_mismatch"
    moved = client.patch(
        f"/api/v1/referrals/milestones/{made.get_json()['id']}", json={"variant_id": None}, headers=headers
    )
    assert moved.status_code == 422 and moved.get_json()["error"]["code"] == "ladder_fixed"
    listed = client.get("/api/v1/referrals/ladders", headers=headers).get_json()
    for row in listed["ladders"]:
        assert set(row) == set(referral_schemas.LADDER["required"])
        for m in row["milestones"]:
            growth_schemas.validate(referral_schemas.MILESTONE, m)
    assert [m["reward_name"] for m in listed["ladders"][0]["milestones"]] == ["mug"]
    assert listed["default_milestones"] == []


def test_admin_page_adds_and_reshares_ladders(app_factory, session, outbox):
    app = app_factory()
    client = app.test_client()
    auth.create_operator(session, "ops@example.com", "correct horse battery staple")
    login = client.get("/admin/login").get_data(as_text=True)
    client.post(
        "/admin/login",
        data={
            "email": "ops@example.com",
            "password": "correct horse battery staple",
            "csrf_token": csrf_of(login),
        },
    )
    page = client.get("/admin/referrals").get_data(as_text=True)
    token = csrf_of(page)
    added = client.post(
        "/admin/referrals", data={"action": "add_ladder", "name": "Lean", "share": "2", "csrf_token": token}
    )
    assert "Ladder Lean added" in added.get_data(as_text=True)
    variant = session.scalars(select(LadderVariant).where(LadderVariant.name == "Lean")).one()
    bad = client.post(
        "/admin/referrals",
        data={
            "action": "edit_ladder",
            "variant_id": str(variant.id),
            "name": "Lean",
            "share": "lots",
            "csrf_token": token,
        },
    )
    assert bad.status_code == 422
    saved = client.post(
        "/admin/referrals",
        data={
            "action": "edit_ladder",
            "variant_id": str(variant.id),
            "name": "Lean",
            "share": "4",
            "csrf_token": token,
        },
    )
    assert "keep their ladder" in saved.get_data(as_text=True)
    session.expire_all()
    assert (variant.share, variant.active) == (4, False)  # the box unticked: it takes no new readers
    milestone = client.post(
        "/admin/referrals",
        data={
            "action": "add_milestone",
            "referrals_required": "1",
            "reward_name": "pin",
            "variant_id": str(variant.id),
            "cost_cents": "120",
            "csrf_token": token,
        },
    )
    assert "Milestone at 1 referrals added." in milestone.get_data(as_text=True)
    (pin,) = service.milestones(session, ladder=variant.id)
    assert (pin.reward_name, pin.cost_cents, pin.currency) == ("pin", 120, "usd")
    report = client.get("/admin/referral-report").get_data(as_text=True)
    assert "Reward ladders under test" in report and "Lean" in report
