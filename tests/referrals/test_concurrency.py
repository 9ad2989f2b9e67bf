"""Exactly-once rewards under concurrent confirmations: real commits on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select

from growth import subscribers
from growth.db import commit, db, utcnow
from growth.models import Delivery, Newsletter, Subscriber
from growth.subscribers import SignupRequest
from referrals import service
from referrals.models import Milestone, ReferralNode, RewardGrant
from tests.conftest import USING_POSTGRES

pytestmark = pytest.mark.skipif(
    not USING_POSTGRES,
    reason="two transactions at once need PostgreSQL (SQLite serialises writers)",
)

READERS = 6


def test_concurrent_confirmations_grant_each_milestone_exactly_once(app):
    with app.app_context():
        had_newsletter = db.session.scalar(select(func.count()).select_from(Newsletter))
        now = utcnow()
        ana = subscribers.signup(db.session, SignupRequest(email="race-ana@example.com"), now).subscriber
        subscribers.confirm(db.session, ana, now)
        milestones = [
            service.save_milestone(db.session, {"referrals_required": n, "reward_name": f"race {n}"})
            for n in (1, 3)
        ]
        ids = [
            subscribers.signup(
                db.session,
                SignupRequest(email=f"race-{i}@example.com", ref=ana.referral_code, ip=f"192.0.2.{i}"),
                now,
            ).subscriber.id
            for i in range(READERS)
        ]
        ana_id, milestone_ids = ana.id, [m.id for m in milestones]
        commit()
    barrier = threading.Barrier(READERS)
    errors: list[BaseException] = []

    def confirm(subscriber_id: int) -> None:
        try:
            with app.app_context():
                reader = db.session.get(Subscriber, subscriber_id)
                barrier.wait(timeout=10)
                subscribers.confirm(db.session, reader, utcnow())
                commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=confirm, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == []
        with app.app_context():
            grants = db.session.scalars(
                select(RewardGrant.milestone_id).where(RewardGrant.subscriber_id == ana_id)
            ).all()
            assert sorted(grants) == sorted(milestone_ids)
            assert db.session.get(ReferralNode, ana_id).direct_count == READERS
            rewards = db.session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.subscriber_id == ana_id, Delivery.template == "referral_reward")
            )
            assert rewards == 2
    finally:
        with app.app_context():
            db.session.execute(delete(Subscriber).where(Subscriber.id.in_([ana_id, *ids])))
            db.session.execute(delete(Milestone).where(Milestone.id.in_(milestone_ids)))
            if not had_newsletter:
                db.session.execute(delete(Newsletter))
            db.session.commit()
