"""Milestones added or lowered after readers passed them: told, then granted once or not at all."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from growth import jobs, links
from growth.db import utcnow
from referrals import rewards, service
from referrals.models import RewardGrant
from tests.growth.helpers import messages
from tests.referrals.helpers import by_email, join, operator_token, refer
from tests.referrals.test_pages_and_api import bearer


def grants_of(session, milestone_id: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Who holds the milestone, one entry per grant row."""
    return sorted(
        session.scalars(select(RewardGrant.subscriber_id).where(RewardGrant.milestone_id == milestone_id))
    )


def test_the_hub_shows_a_reward_as_earned_only_once_it_is_granted(client, session, outbox):
    join(client, outbox, "ana@example.com", name="Ana")
    refer(client, session, outbox, "ana@example.com", "bo@example.com", ip="192.0.2.1")
    refer(client, session, outbox, "ana@example.com", "cy@example.com", ip="192.0.2.2")
    ana = by_email(session, "ana@example.com")
    # added after Ana passed it, nobody granted it: the hub must not promise it
    stickers = service.save_milestone(session, {"referrals_required": 1, "reward_name": "sticker pack"})
    hub = client.get(f"/me/{links.manage_token(ana)}/referrals").get_data(as_text=True)
    assert "earned" not in hub
    assert "Reached before this reward was offered: not granted." in hub
    # her next referral does not grant it behind the operator's back: only new passers get it
    refer(client, session, outbox, "ana@example.com", "di@example.com", ip="192.0.2.3")
    refer(client, session, outbox, "bo@example.com", "ed@example.com", ip="192.0.2.4")
    assert grants_of(session, stickers.id) == [by_email(session, "bo@example.com").id]
    assert [m["To"] for m in messages(outbox, "referral_reward")] == ["bo@example.com"]
    # the operator grants it to readers already past it: Ana, once, with the email
    assert rewards.offer_to_readers_past(session, stickers, grant=True) == 1
    jobs.dispatch_pending()
    assert grants_of(session, stickers.id) == sorted([ana.id, by_email(session, "bo@example.com").id])
    to_ana = [m for m in messages(outbox, "referral_reward") if "ana@example.com" in str(m["To"])]
    assert [m["Subject"] for m in to_ana] == ["You earned the sticker pack"]
    assert "3 friends joined Masthead" in to_ana[0].get_body(("plain",)).get_content()
    hub = client.get(f"/me/{links.manage_token(ana)}/referrals").get_data(as_text=True)
    assert "✓ earned" in hub and "not granted" not in hub
    # a grant flagged after a late rejection is not shown as earned either
    grant = session.scalars(
        select(RewardGrant).where(
            RewardGrant.subscriber_id == ana.id, RewardGrant.milestone_id == stickers.id
        )
    ).one()
    grant.status = "flagged"
    session.flush()
    hub = client.get(f"/me/{links.manage_token(ana)}/referrals").get_data(as_text=True)
    assert "earned" not in hub and "Being checked by the team." in hub


def test_the_api_reports_readers_past_a_milestone_and_grants_them_only_when_asked(client, session, outbox):
    headers = bearer(operator_token(session))
    join(client, outbox, "ana@example.com")
    join(client, outbox, "zed@example.com")
    refer(client, session, outbox, "ana@example.com", "bo@example.com", ip="192.0.2.1")
    refer(client, session, outbox, "ana@example.com", "cy@example.com", ip="192.0.2.2")
    refer(client, session, outbox, "zed@example.com", "dee@example.com", ip="192.0.2.3")
    ana, zed = by_email(session, "ana@example.com"), by_email(session, "zed@example.com")
    created = client.post(
        "/api/v1/referrals/milestones", json={"referrals_required": 2, "reward_name": "mug"}, headers=headers
    )
    assert created.status_code == 201
    mug = created.get_json()
    assert (mug["readers_past"], mug["grant_existing"]) == (1, False)  # Ana; nothing granted
    assert grants_of(session, mug["id"]) == []
    listed = client.get("/api/v1/referrals/milestones", headers=headers).get_json()["milestones"]
    assert [m["readers_past"] for m in listed] == [1]
    # lowered to 1: Ana and Zed are past it; the operator grants it to them now
    lowered = client.patch(
        f"/api/v1/referrals/milestones/{mug['id']}",
        json={"referrals_required": 1, "grant_existing": True},
        headers=headers,
    ).get_json()
    assert (lowered["readers_past"], lowered["grant_existing"]) == (2, True)
    assert grants_of(session, mug["id"]) == sorted([ana.id, zed.id])
    assert sorted(m["To"] for m in messages(outbox, "referral_reward")) == [
        "ana@example.com",
        "zed@example.com",
    ]
    # asking again finds nobody left and sends nothing
    again = client.post(f"/api/v1/referrals/milestones/{mug['id']}/grant-existing", headers=headers)
    assert again.status_code == 202 and again.get_json() == {"milestone_id": mug["id"], "readers_past": 0}
    assert len(messages(outbox, "referral_reward")) == 2 and len(grants_of(session, mug["id"])) == 2
    # bad input is a clear 4xx
    bad = client.patch(
        f"/api/v1/referrals/milestones/{mug['id']}", json={"grant_existing": "yes"}, headers=headers
    )
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_field"
    assert (
        client.post("/api/v1/referrals/milestones/999999/grant-existing", headers=headers).status_code == 404
    )
    off = client.post(
        "/api/v1/referrals/milestones",
        json={"referrals_required": 1 + 1, "reward_name": "old", "active": False, "grant_existing": True},
        headers=headers,
    )
    assert off.status_code == 409 and off.get_json()["error"]["code"] == "inactive_milestone"
    assert len(service.milestones(session)) == 1  # the refused request saved nothing


def test_a_backfill_grants_in_batches_each_reader_once(client, session, outbox):
    readers = ["ana", "bo", "cy", "dee", "ed"]
    for i, name in enumerate(readers):
        join(client, outbox, f"{name}@example.com")
        refer(client, session, outbox, f"{name}@example.com", f"{name}-friend@example.com", ip=f"192.0.2.{i}")
    badge = service.save_milestone(session, {"referrals_required": 1, "reward_name": "badge"})
    now = utcnow()
    # five readers past it, two per batch: 2 + 2 + 1, then nobody left (considered, granted)
    batches = [rewards.grant_to_readers_past(session, badge.id, now, limit=2) for _ in range(4)]
    assert batches == [(2, 2), (2, 2), (1, 1), (0, 0)]
    assert len(grants_of(session, badge.id)) == 5
    jobs.dispatch_pending()
    assert len(messages(outbox, "referral_reward")) == 5
    # the job the views queue does the same to the end, one commit per batch, and again is a no-op
    assert jobs.run_task("referrals.grant_existing", badge.id, 2) == 0
    assert session.scalar(select(func.count()).select_from(RewardGrant)) == 5
    assert len(messages(outbox, "referral_reward")) == 5


def test_the_admin_page_tells_who_is_past_a_milestone_and_grants_it_on_request(app_factory, session, outbox):
    from growth import auth
    from tests.referrals.test_pages_and_api import csrf_of

    client = app_factory().test_client()  # its own sessions and CSRF, like a browser
    outbox = Path(client.application.config["MASTHEAD"].outbox_dir)
    auth.create_operator(session, "ops@example.com", "correct horse battery staple")
    join(client, outbox, "ana@example.com")
    refer(client, session, outbox, "ana@example.com", "bo@example.com", ip="192.0.2.1")
    refer(client, session, outbox, "ana@example.com", "cy@example.com", ip="192.0.2.2")
    login = client.get("/admin/login").get_data(as_text=True)
    client.post(
        "/admin/login",
        data={
            "email": "ops@example.com",
            "password": "correct horse battery staple",
            "csrf_token": csrf_of(login),
        },
    )
    token = csrf_of(client.get("/admin/referrals").get_data(as_text=True))
    form = {"action": "add_milestone", "reward_name": "pin", "csrf_token": token}
    added = client.post("/admin/referrals", data={**form, "referrals_required": "2"}).get_data(as_text=True)
    assert "1 reader is already past it: only new passers will get it" in added
    assert "Grant to 1 now" in added and messages(outbox, "referral_reward") == []
    pin = service.milestones(session)[0]
    granted = client.post(
        "/admin/referrals",
        data={"action": "grant_existing", "milestone_id": str(pin.id), "csrf_token": token},
    ).get_data(as_text=True)
    assert "granting it to them now, once each, with the email" in granted
    assert grants_of(session, pin.id) == [by_email(session, "ana@example.com").id]
    assert len(messages(outbox, "referral_reward")) == 1
    assert "Grant to 1 now" not in client.get("/admin/referrals").get_data(as_text=True)
    # added with the box ticked: granted at once
    ticked = client.post(
        "/admin/referrals",
        data={**form, "reward_name": "cap", "referrals_required": "1", "grant_existing": "on"},
    ).get_data(as_text=True)
    assert "1 reader is already past it: granting it to them now" in ticked
    assert len(messages(outbox, "referral_reward")) == 2
