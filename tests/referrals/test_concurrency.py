"""Exactly-once rewards under concurrent confirmations: real commits on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select

from growth import auth, subscribers
from growth.db import commit, db, utcnow
from growth.models import ApiToken, Delivery, Newsletter, Operator, Subscriber
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


def test_two_backfills_at_once_grant_each_reader_once_with_one_email(app):
    """Two operators click "grant to readers past it" at once: every reader gets it once."""
    from growth import jobs
    from referrals import rewards

    with app.app_context():
        had_newsletter = db.session.scalar(select(func.count()).select_from(Newsletter))
        now = utcnow()
        referrers = []
        for i in range(READERS):
            reader = subscribers.signup(
                db.session, SignupRequest(email=f"past-{i}@example.com"), now
            ).subscriber
            subscribers.confirm(db.session, reader, now)
            referrers.append(reader)
        friends = []
        for i, referrer in enumerate(referrers):
            friend = subscribers.signup(
                db.session,
                SignupRequest(
                    email=f"past-friend-{i}@example.com", ref=referrer.referral_code, ip=f"192.0.2.{i}"
                ),
                now,
            ).subscriber
            subscribers.confirm(db.session, friend, now)
            friends.append(friend.id)
        commit()
        # added after all of them passed it: nobody has it yet
        milestone = service.save_milestone(db.session, {"referrals_required": 1, "reward_name": "late badge"})
        commit()
        ids, milestone_id = [r.id for r in referrers], milestone.id
        assert rewards.readers_past(db.session, milestone) == READERS
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def backfill() -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                jobs.run_task("referrals.grant_existing", milestone_id, 2)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=backfill) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == []
        with app.app_context():
            holders = db.session.scalars(
                select(RewardGrant.subscriber_id).where(RewardGrant.milestone_id == milestone_id)
            ).all()
            assert sorted(holders) == sorted(ids)
            mails = db.session.execute(
                select(Delivery.subscriber_id, func.count())
                .where(Delivery.subscriber_id.in_(ids), Delivery.template == "referral_reward")
                .group_by(Delivery.subscriber_id)
            ).all()
            assert sorted(mails) == sorted((i, 1) for i in ids)
    finally:
        with app.app_context():
            db.session.execute(delete(Subscriber).where(Subscriber.id.in_([*ids, *friends])))
            db.session.execute(delete(Milestone).where(Milestone.id == milestone_id))
            if not had_newsletter:
                db.session.execute(delete(Newsletter))
            db.session.commit()


def test_two_requests_adding_the_same_milestone_at_once_give_one_and_a_409(app):
    # Both requests pass the duplicate check before either commits; the unique index decides,
    # and the loser gets the same 409 the check gives, not a 500.
    required = 7919  # no other test uses it
    with app.app_context():
        operator = auth.create_operator(db.session, "race-milestones@example.com", "a long enough password")
        token, operator_id = auth.create_token(db.session, operator), operator.id
        commit()
    holding, go = threading.Event(), threading.Event()
    answers: list[int] = []

    def first() -> None:
        with app.app_context():
            service.save_milestone(db.session, {"referrals_required": required, "reward_name": "first"})
            holding.set()  # flushed, not committed: the second request's check sees nothing
            go.wait(timeout=10)
            commit()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        timer = threading.Timer(1.0, go.set)  # the second blocks on the index until then
        timer.start()
        answer = app.test_client().post(
            "/api/v1/referrals/milestones",
            json={"referrals_required": required, "reward_name": "second"},
            headers={"Authorization": f"Bearer {token}"},
        )
        answers.append(answer.status_code)
        assert answer.status_code == 409, answer.get_data(as_text=True)
        assert answer.get_json()["error"]["code"] == "duplicate_milestone"
    finally:
        go.set()
        thread.join(timeout=20)
        with app.app_context():
            db.session.execute(delete(Milestone).where(Milestone.referrals_required == required))
            db.session.execute(delete(ApiToken).where(ApiToken.operator_id == operator_id))
            db.session.execute(delete(Operator).where(Operator.id == operator_id))
            commit()
    with app.app_context():
        assert answers == [409]
