"""What counts: fraud rules, holds, milestone rewards, and the stored forest against networkx."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from growth import subscribers
from growth.db import utcnow
from referrals import fraud, metrics, report, service
from referrals.models import AddressKey, GrantStatus, Referral, ReferralNode, RewardGrant
from tests.growth.helpers import messages
from tests.referrals.helpers import by_email, join, refer


def test_fold_address_and_disposable_domains():
    assert fraud.fold_address("A.Na+news@GoogleMail.com") == "ana@gmail.com"
    assert fraud.fold_address("a.na+x@example.com") == "a.na@example.com"  # dots matter elsewhere
    assert fraud.is_disposable("x@mailinator.com") and fraud.is_disposable("x@sub.mailinator.com")
    assert not fraud.is_disposable("x@example.com")
    assert fraud.is_crawler("WhatsApp/2.23") and fraud.is_crawler(None)
    assert not fraud.is_crawler("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148 Safari/604.1")


def test_a_referral_counts_only_when_the_referred_reader_confirms(client, session, outbox):
    join(client, outbox, "ana@example.com")
    code = by_email(session, "ana@example.com").referral_code
    client.post("/api/v1/subscribers", json={"email": "bo@example.com", "ref": code})
    bo = by_email(session, "bo@example.com")
    [row] = [r for r in session.scalars(select(Referral))]
    assert (row.referrer_id, row.referred_id, row.status) == (bo.referrer_id, bo.id, "pending")
    assert session.get(ReferralNode, bo.referrer_id) is None


def test_own_address_and_its_aliases_are_rejected(client, session, outbox):
    join(client, outbox, "ana.lima@gmail.com")
    referral = refer(client, session, outbox, "ana.lima@gmail.com", "AnaLima+friends@googlemail.com")
    assert (referral.status, referral.reason) == ("rejected", "self_referral")


def test_disposable_domains_are_rejected(app_factory, session, outbox):
    client = app_factory(disposable_emails="allow").test_client()  # refused at signup by default
    join(client, outbox, "ana@example.com")
    referral = refer(client, session, outbox, "ana@example.com", "bo@mailinator.com")
    assert (referral.status, referral.reason) == ("rejected", "disposable_domain")


def test_anyone_subscribed_before_is_rejected(client, session, outbox):
    join(client, outbox, "ana@example.com")
    join(client, outbox, "bo@gmail.com")
    bo = by_email(session, "bo@gmail.com")
    subscribers.unsubscribe(session, bo, utcnow())
    session.flush()
    # Bo comes back under an alias through Ana's link: not a new reader
    referral = refer(client, session, outbox, "ana@example.com", "b.o+again@gmail.com")
    assert (referral.status, referral.reason) == ("rejected", "previously_subscribed")


def test_no_more_than_the_daily_limit_per_referrer_and_client_ip(client, session, outbox):
    join(client, outbox, "ana@example.com")
    statuses = [
        refer(client, session, outbox, "ana@example.com", f"f{i}@example.com", ip="203.0.113.9")
        for i in range(4)
    ]
    assert [(r.status, r.reason) for r in statuses] == [("counted", None)] * 3 + [
        ("rejected", "ip_daily_limit")
    ]
    other_ip = refer(client, session, outbox, "ana@example.com", "g@example.com", ip="203.0.113.10")
    assert other_ip.status == "counted"
    assert session.get(ReferralNode, by_email(session, "ana@example.com").id).direct_count == 4


def test_held_referrals_wait_for_an_operator(app_factory, session, outbox):
    app = app_factory(referral_hold_days=7)
    client = app.test_client()
    join(client, outbox, "ana@example.com")
    service.save_milestone(session, {"referrals_required": 1, "reward_name": "sticker pack"})
    first = refer(client, session, outbox, "ana@example.com", "bo@example.com")
    second = refer(client, session, outbox, "ana@example.com", "cy@example.com")
    assert (first.status, second.status) == ("held", "held")
    assert (first.hold_until - first.confirmed_at).days == 7
    assert session.scalars(select(RewardGrant)).all() == []
    with app.app_context():
        service.approve(session, first.id, "ops@example.com", utcnow())
        service.reject(session, second.id, "ops@example.com", utcnow())
    session.flush()
    assert (first.status, first.decided_by, second.status, second.reason) == (
        "counted",
        "ops@example.com",
        "rejected",
        "operator",
    )
    [grant] = session.scalars(select(RewardGrant)).all()
    assert grant.status == GrantStatus.GRANTED


def test_milestone_rewards_are_granted_once_with_an_email_and_flagged_after_a_late_rejection(
    client, session, outbox
):
    join(client, outbox, "ana@example.com", name="Ana")
    ana = by_email(session, "ana@example.com")
    service.save_milestone(
        session,
        {"referrals_required": 1, "reward_name": "sticker pack", "fulfilment_note": "post it"},
    )
    service.save_milestone(session, {"referrals_required": 2, "reward_name": "mug"})
    first = refer(client, session, outbox, "ana@example.com", "bo@example.com", ip="203.0.113.1")
    refer(client, session, outbox, "ana@example.com", "cy@example.com", ip="203.0.113.2")
    refer(client, session, outbox, "ana@example.com", "di@example.com", ip="203.0.113.3")
    grants = session.scalars(select(RewardGrant).order_by(RewardGrant.id)).all()
    assert [(g.subscriber_id, g.milestone.reward_name) for g in grants] == [
        (ana.id, "sticker pack"),
        (ana.id, "mug"),
    ]
    rewards = messages(outbox, "referral_reward")
    assert [m["Subject"] for m in rewards] == ["You earned the sticker pack", "You earned the mug"]
    assert "1 friend joined Masthead through your link" in rewards[0].get_body(("plain",)).get_content()
    # granting again changes nothing: the constraint, not luck
    assert service.grant_milestones(session, ana.id, 3, utcnow()) == []
    # two rejections later Ana has 1 counted referral: the mug is flagged, the stickers stand
    service.reject(session, first.id, "ops@example.com", utcnow())
    assert [g.status for g in grants] == ["granted", "granted"]
    second = refer(client, session, outbox, "ana@example.com", "ed@example.com", ip="203.0.113.4")
    service.reject(session, second.id, "ops@example.com", utcnow())
    service.reject(
        session,
        session.scalars(
            select(Referral).where(Referral.referred_id == by_email(session, "cy@example.com").id)
        )
        .one()
        .id,
        "ops@example.com",
        utcnow(),
    )
    session.expire_all()
    grants = session.scalars(select(RewardGrant).order_by(RewardGrant.id)).all()
    assert [g.status for g in grants] == ["granted", "flagged"]
    assert "1 counted referrals left" in (grants[1].flag_reason or "")


def test_stored_forest_matches_the_networkx_graph_through_holds_and_rejections(app_factory, session, outbox):
    app = app_factory(referral_hold_days=3)
    client = app.test_client()
    join(client, outbox, "root@example.com")
    join(client, outbox, "solo@example.com")
    # b is held under root; meanwhile b's own referrals count (b is a root of its own for now)
    b = refer(client, session, outbox, "root@example.com", "b@example.com", ip="192.0.2.1")
    for i, name in enumerate(("c", "d")):
        with app.app_context():
            r = refer(
                client,
                session,
                outbox,
                "b@example.com",
                f"{name}@example.com",
                ip=f"192.0.2.{10 + i}",
            )
            service.approve(session, r.id, "ops", utcnow())
    e = refer(client, session, outbox, "c@example.com", "e@example.com", ip="192.0.2.20")
    with app.app_context():
        service.approve(session, e.id, "ops", utcnow())
        check_forest(session)
        # approving b moves b's whole tree under root: depths and roots shift, counts add up
        service.approve(session, b.id, "ops", utcnow())
        check_forest(session)
        assert session.get(ReferralNode, by_email(session, "root@example.com").id).downstream_count == 4
        # rejecting c later detaches c and e again
        c_referral = session.scalars(
            select(Referral).where(Referral.referred_id == by_email(session, "c@example.com").id)
        ).one()
        service.reject(session, c_referral.id, "ops", utcnow())
        check_forest(session)
        assert session.get(ReferralNode, by_email(session, "e@example.com").id).depth == 1


def check_forest(session) -> None:  # type: ignore[no-untyped-def]
    """The stored depth/root/downstream/direct of every confirmed reader equal the graph's."""
    session.flush()
    session.expire_all()
    graph, _ = report.build_graph(session)
    depth, root, downstream = metrics.tree_positions(graph)
    stored = {n.subscriber_id: n for n in session.scalars(select(ReferralNode))}
    for node in graph:
        row = stored.get(node)
        got = (row.depth, row.root_id, row.downstream_count, row.direct_count) if row else (0, node, 0, 0)
        assert got == (depth[node], root[node], downstream[node], graph.out_degree(node)), node


def test_held_referrals_count_by_themselves_once_the_hold_has_passed(app_factory, session, outbox):
    app = app_factory(referral_hold_days=2)
    client = app.test_client()
    join(client, outbox, "ana@example.com")
    held = refer(client, session, outbox, "ana@example.com", "bo@example.com")
    with app.app_context():
        assert service.release_due(session, held.hold_until - dt.timedelta(seconds=1)) == 0
        assert held.status == "held"
        result = app.test_cli_runner().invoke(args=["referrals-release"])
    # the hold has not passed now either (it ends in two days)
    assert result.exit_code == 0 and "0 held referrals counted" in result.output
    with app.app_context():
        assert service.release_due(session, held.hold_until) == 1
    session.expire_all()
    assert held.status == "counted"
    assert session.get(ReferralNode, held.referrer_id).direct_count == 1


def test_erasure_forgets_the_address_hash(client, session, outbox):
    join(client, outbox, "bo@example.com")
    bo = by_email(session, "bo@example.com")
    assert session.get(AddressKey, bo.id) is not None
    subscribers.erase(session, bo, utcnow())
    session.flush()
    assert session.get(AddressKey, bo.id) is None


def test_inactive_milestones_are_neither_granted_nor_promised(client, session, outbox):
    join(client, outbox, "ana@example.com")
    service.save_milestone(session, {"referrals_required": 1, "reward_name": "old", "active": False})
    service.save_milestone(session, {"referrals_required": 2, "reward_name": "new"})
    refer(client, session, outbox, "ana@example.com", "bo@example.com")
    assert session.scalars(select(RewardGrant)).all() == []
    progress = service.progress(session, by_email(session, "ana@example.com"))
    assert (progress.counted, progress.next_milestone.reward_name, progress.remaining) == (
        1,
        "new",
        1,
    )
