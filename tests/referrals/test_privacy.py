"""Referrals' part of a reader's data: exported without other readers, erased, report unchanged."""

from __future__ import annotations

import json

from sqlalchemy import select

from growth import privacy
from growth.db import utcnow
from referrals import service
from referrals.models import AddressKey, Referral, ReferralNode
from referrals.report import referral_report
from tests.referrals.helpers import by_email, join, refer


def three_generations(client, session, outbox):  # type: ignore[no-untyped-def]
    join(client, outbox, "ana@example.com", ip="192.0.2.1")
    service.save_milestone(session, {"referrals_required": 1, "reward_name": "sticker pack"})
    refer(client, session, outbox, "ana@example.com", "bo@example.com", ip="192.0.2.2")
    refer(client, session, outbox, "bo@example.com", "cy@example.com", ip="192.0.2.3")
    refer(client, session, outbox, "bo@example.com", "di@example.com", ip="192.0.2.4")
    session.expire_all()


def test_referrals_export_made_received_and_rewards_without_other_readers(client, session, outbox):
    three_generations(client, session, outbox)
    bo = by_email(session, "bo@example.com")
    part = privacy.export_subscriber(session, bo, utcnow())["referrals"]
    assert part["referral_code"] == bo.referral_code
    assert part["referred_by"]["status"] == "counted"
    assert [r["status"] for r in part["referrals_made"]] == ["counted", "counted"]
    assert [(g["reward"], g["status"]) for g in part["rewards"]] == [("sticker pack", "granted")]
    text = json.dumps(part)
    assert "cy@example.com" not in text and "ana@example.com" not in text


def test_erasing_a_referrer_in_the_middle_leaves_the_referral_report_as_it_was(client, session, outbox):
    three_generations(client, session, outbox)
    now = utcnow()
    before = referral_report(session, now)
    bo = by_email(session, "bo@example.com")
    privacy.erase_subscriber(session, bo, now)
    session.commit()
    session.expire_all()
    after = referral_report(session, now)
    assert after == before
    assert before["k_factor"] > 0 and before["max_generation"] == 2
    # the rows the report counts stay; Bo's own traces go
    assert session.get(AddressKey, bo.id) is None
    received = session.scalars(select(Referral).where(Referral.referred_id == bo.id)).one()
    assert received.status == "counted" and received.ip_hash is None
    made = session.scalars(select(Referral).where(Referral.referrer_id == bo.id)).all()
    assert len(made) == 2 and all(r.ip_hash is not None for r in made)  # theirs, not Bo's
    node = session.get(ReferralNode, bo.id)
    assert node is not None and node.leaderboard_opt_in is False
