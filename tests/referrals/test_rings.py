"""Rings of fake accounts: the pure check on hand-built cases and on simulated traffic, then the
signals kept at signup and confirmation, the admin page, the API and REFERRAL_RING_ACTION=hold."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from growth.db import simulated_clock
from referrals import fraud, rings
from referrals.models import RING_HOLD_REASON, Referral, ReferralStatus
from referrals.rings import Account
from tests.conftest import FakeClock
from tests.referrals.helpers import BROWSER, by_email, join, operator_token, refer
from tests.referrals.ring_simulation import simulate
from tests.referrals.test_pages_and_api import csrf_of

MIN = 60.0


def test_two_independent_signals_link_one_does_not():
    # five readers under referrer 1 on one network: one signal, no ring
    office = [Account(i, 1, i * 86400.0, ("net-a",), (f"agent-{i}",), None) for i in range(10, 15)]
    assert rings.find_rings(office, min_size=5) == []
    # the same five with one browser build: network and agent, a ring with its evidence
    same_agent = [Account(i, 1, i * 86400.0, ("net-a",), ("agent-x",), None) for i in range(10, 15)]
    [ring] = rings.find_rings(same_agent, min_size=5)
    assert (ring.referrer_id, ring.members) == (1, [10, 11, 12, 13, 14])
    assert ring.evidence == {"network": 5, "agent": 5, "address": 0, "burst": 0}
    assert ring.signals == ["agent", "network"]
    # chained pairs: 10-11 network+burst, 11-12 and 12-13 agent+address, 13-14 address+burst
    chain = [
        Account(10, 1, 0.0, ("n1",), ("a1",), "p1"),
        Account(11, 1, 5 * MIN, ("n1",), ("a2",), "p2"),
        Account(12, 1, 5 * 86400.0, ("n2",), ("a2",), "p2"),
        Account(13, 1, 9 * 86400.0, ("n3",), ("a2",), "p2"),
        Account(14, 1, 9 * 86400.0 + 3 * MIN, ("n4",), ("a4",), "p2"),
    ]
    assert [r.members for r in rings.find_rings(chain, min_size=5)] == [[10, 11, 12, 13, 14]]
    assert rings.find_rings(chain, min_size=6) == []
    # the same accounts under two referrers are never one ring
    split = [Account(a.id, 1 + a.id % 2, a.confirmed_at, a.networks, a.agents, a.address) for a in same_agent]
    assert rings.find_rings(split, min_size=4) == [] and len(rings.find_rings(split, min_size=2)) == 2


def test_bursts_are_runs_of_confirmations_minutes_apart():
    # 0, 8, 16 minutes: one burst (gaps of 8 <= 10); then 40 minutes: a new one
    times = [0.0, 8 * MIN, 16 * MIN, 56 * MIN]
    accounts = [Account(i, 1, t, (), ("a",), None) for i, t in enumerate(times)]
    found = rings.find_rings(accounts, min_size=3, burst_minutes=10)
    assert [r.members for r in found] == [[0, 1, 2]]
    assert rings.find_rings(accounts, min_size=3, burst_minutes=5) == []


def test_values_most_readers_share_are_no_signal():
    # 100 readers under 50 referrers on one carrier address with the commonest browser;
    # under referrer 0 five of them confirm on separate days: carrier + browser say nothing
    crowd = [Account(1000 + i, i % 50, i * 86400.0, ("carrier",), ("chrome",), None) for i in range(100)]
    assert ("network", "carrier") in rings.common_values(crowd)
    assert rings.find_rings(crowd, min_size=2) == []


def test_networks_and_address_patterns():
    assert (
        fraud.network_of("2001:db8:1:2:aaaa::1")
        == fraud.network_of("2001:db8:1:2:ffff::9")
        == "2001:db8:1:2::/64"
    )
    assert fraud.network_of("2001:db8:1:3::1") != fraud.network_of("2001:db8:1:2::1")
    assert fraud.network_of("192.0.2.1") == "192.0.2.1" != fraud.network_of("192.0.2.2")
    assert fraud.network_of("::ffff:192.0.2.1") == "192.0.2.1"
    assert fraud.network_of("unknown") is None and fraud.network_of(None) is None
    assert fraud.address_pattern("Anna.K01+x@gmail.com") == fraud.address_pattern("annak_77@googlemail.com")
    assert fraud.address_pattern("a1@example.com") is None


def test_precision_and_recall_on_simulated_rings_hidden_in_organic_traffic(capsys):
    """Stated figures: precision 1.00 and recall about 0.6 over five seeds (printed with -s).

    Script rings (one network, one browser, a burst) and rings rotating inside one IPv6 /64
    with numbered addresses are found; a careful maker behind proxies with a common browser is
    found only with an odd browser build; one who varies every signal is not (nothing can
    tell them from honest readers by these signals). The office is never flagged.
    """
    lines = []
    totals = {"flagged": 0, "hit": 0, "fake": 0}
    for seed in range(1, 6):
        population = simulate(seed)
        found = rings.find_rings(population.accounts, min_size=5, burst_minutes=10)
        flagged = {m for r in found for m in r.members}
        assert not flagged & population.office, seed
        precision, recall = rings.precision_recall(flagged, population.fake)
        assert precision is not None and recall is not None
        by_style = {}
        for style in ("script", "careful", "v6", "invisible"):
            fakes = {a for a, s in population.style.items() if s == style}
            by_style[style] = len(fakes & flagged) / len(fakes)
        assert by_style["script"] >= 0.95 and by_style["v6"] >= 0.95, by_style
        totals["flagged"] += len(flagged)
        totals["hit"] += len(flagged & population.fake)
        totals["fake"] += len(population.fake)
        lines.append(
            f"seed {seed}: {len(population.accounts)} referred readers, {len(population.fake)} fake; "
            f"precision {precision:.2f}, recall {recall:.2f} "
            + " ".join(f"{s} {r:.2f}" for s, r in by_style.items())
        )
    precision = totals["hit"] / totals["flagged"]
    recall = totals["hit"] / totals["fake"]
    with capsys.disabled():
        print("\nring detection, REFERRAL_RING_MIN=5, bursts of 10 minutes:")
        print("\n".join(lines))
        print(f"all seeds: precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.95
    assert recall >= 0.5


IPV6 = "2001:db8:77:1::{}"


COLLEAGUES = ["ana.ortiz", "ben.kowalski", "chloe.martin", "dev.patel", "emma.rossi", "femi.adeyemi"]


def _refer_with_agent(client, session, outbox, referrer, email, ip, agent):  # type: ignore[no-untyped-def]
    client.environ_base["HTTP_USER_AGENT"] = agent
    try:
        return refer(client, session, outbox, referrer, email, ip=ip)
    finally:
        client.environ_base.pop("HTTP_USER_AGENT", None)


@pytest.mark.parametrize("action", ["flag", "hold"])
def test_a_ring_on_one_ipv6_64_is_flagged_and_an_office_behind_one_address_is_left_alone(
    app_factory, session, action
):
    app = app_factory(referral_ring_action=action, referral_max_per_ip_per_day=100)
    client = app.test_client()
    outbox = app.config["MASTHEAD"].outbox_dir
    clock = FakeClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    with simulated_clock(clock), app.app_context():
        headers = {"Authorization": f"Bearer {operator_token(session)}"}
        join(client, outbox, "maker@example.com", ip="198.51.100.9")
        join(client, outbox, "boss@example.com", ip="203.0.113.7")
        # six fakes from one /64, each a new address inside it, one browser, two minutes apart
        for i in range(6):
            _refer_with_agent(
                client,
                session,
                outbox,
                "maker@example.com",
                f"reader{i}@example.com",
                IPV6.format(i + 1),
                "Odd/1.0",
            )
            clock.advance(minutes=2)
        # six colleagues behind the office address, their own browsers, a day apart
        for i in range(6):
            email = f"{COLLEAGUES[i]}@acme.example"
            _refer_with_agent(
                client, session, outbox, "boss@example.com", email, "203.0.113.7", f"{BROWSER} D/{i}"
            )
            clock.advance(days=1)
        answer = client.get("/api/v1/referrals/rings", headers=headers)
        assert answer.status_code == 200, answer.get_json()
        data = answer.get_json()
        assert (data["ring_min"], data["action"]) == (5, action)
        assert len(data["rings"]) == 1, [
            (r["referrer_email"], r["evidence"], r["size"]) for r in data["rings"]
        ]
        [ring] = data["rings"]
        assert ring["referrer_id"] == by_email(session, "maker@example.com").id and ring["size"] == 6
        assert ring["evidence"]["network"] == 6 and ring["evidence"]["agent"] == 6
        assert ring["evidence"]["burst"] == 6
        assert set(ring["signals"]) == {"network", "agent", "address", "burst"}
        statuses = [m["status"] for m in ring["members"]]
        if action == "flag":
            assert statuses == ["counted"] * 6 and ring["held"] == 0
        else:
            # the first four counted before a ring of five existed; from the fifth they wait
            assert statuses == ["counted"] * 4 + ["held"] * 2 and ring["held"] == 2
            session.expire_all()
            held = by_email(session, "reader5@example.com")
            row = session.scalars(select(Referral).where(Referral.referred_id == held.id)).one()
            assert (row.status, row.reason, row.hold_until) == (ReferralStatus.HELD, RING_HOLD_REASON, None)
        # the colleagues' referrals all counted and nothing ties them
        boss = by_email(session, "boss@example.com")
        assert all(r["referrer_id"] != boss.id for r in data["rings"])
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
        assert "Possible rings (1)" in page and "6 readers under maker@example.com" in page
        assert "one network (6 of 6)" in page and "reader5@example.com" in page
        assert "ana.ortiz@acme.example" not in page
        assert client.get("/api/v1/referrals/rings?days=0", headers=headers).status_code == 400
        assert client.get("/api/v1/referrals/rings?days=x", headers=headers).status_code == 400
        assert app.test_client().get("/api/v1/referrals/rings").status_code == 401


def test_the_64_is_a_ring_signal_only_and_erasure_forgets_the_signals(app_factory, session):
    from growth import privacy
    from growth.db import utcnow

    # one referral per address a day: two addresses inside one /64 are two addresses
    app = app_factory(referral_max_per_ip_per_day=1)
    client = app.test_client()
    outbox = app.config["MASTHEAD"].outbox_dir
    with app.app_context():
        join(client, outbox, "ana@example.com", ip="198.51.100.9")
        first = _refer_with_agent(
            client, session, outbox, "ana@example.com", "boris@example.com", IPV6.format(1), "A/1"
        )
        second = _refer_with_agent(
            client, session, outbox, "ana@example.com", "cyril@example.com", IPV6.format(2), "A/1"
        )
        again = _refer_with_agent(
            client, session, outbox, "ana@example.com", "delia@example.com", IPV6.format(2), "A/1"
        )
        assert (first.status, second.status) == (ReferralStatus.COUNTED, ReferralStatus.COUNTED)
        assert (again.status, again.reason) == (ReferralStatus.REJECTED, "ip_daily_limit")
        # the ring signals: one network for both, one user agent, kept as keyed hashes
        assert first.signup_net_hash == second.signup_net_hash == second.confirm_net_hash
        assert first.ip_hash != second.ip_hash and first.signup_agent_hash == second.signup_agent_hash
        assert len(first.signup_net_hash or "") == 64 and first.address_pattern_hash
        privacy.erase_subscriber(session, by_email(session, "cyril@example.com"), utcnow())
        session.flush()
        session.expire_all()
        erased = session.get(Referral, second.id)
        assert erased is not None
        signals = (
            erased.signup_net_hash,
            erased.confirm_net_hash,
            erased.signup_agent_hash,
            erased.confirm_agent_hash,
            erased.address_pattern_hash,
        )
        assert signals == (None,) * 5
