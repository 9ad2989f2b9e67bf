"""Rings of fake accounts under one referrer: a pure check over plain signals, no session.

Each referred account brings opaque signal values of four independent kinds: `network` (its
signup and confirmation networks, an IPv6 /64 as one), `agent` (its browsers' user agents),
`address` (the shape of its address, `fraud.address_pattern`) and `burst` (its confirmation
falls in a run under the same referrer with gaps of at most `burst_minutes`). Two accounts under
one referrer are linked only when they share values of at least two kinds, so readers behind
one office address or carrier (one kind) stay apart. Connected groups of at least `min_size`
are rings. Accounts under different referrers are never linked: a ring is judged where it pays.

A value most readers share says nothing about who made an account: the newest browser's user
agent, a mobile carrier's NAT address. A network, agent or address pattern held by more than
`common_share` of all accounts (and by more than `COMMON_FLOOR`, so small installs judge by
counts) is no signal.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx

KINDS = ("network", "agent", "address", "burst")
COMMON_SHARE = 0.02
COMMON_FLOOR = 20
KIND_LABELS = {
    "network": "one network",
    "agent": "one user agent",
    "address": "one address pattern",
    "burst": "confirmed minutes apart",
}


@dataclass(frozen=True)
class Account:
    """A referred reader as the ring check sees it."""

    id: int
    referrer_id: int
    confirmed_at: float | None  # epoch seconds; None: not confirmed (no burst)
    networks: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    address: str | None = None


@dataclass
class Ring:
    """A connected group under one referrer and what ties it: per kind, the most members
    sharing one value of it."""

    referrer_id: int
    members: list[int]
    evidence: dict[str, int] = field(default_factory=dict)

    @property
    def signals(self) -> list[str]:
        """The kinds that tie two or more of its members, strongest first."""
        return [k for k, n in sorted(self.evidence.items(), key=lambda kv: (-kv[1], kv[0])) if n >= 2]


def _values(account: Account, burst: dict[int, int], common: set[tuple[str, str]]) -> dict[str, set[str]]:
    values = {
        "network": {v for v in account.networks if v and ("network", v) not in common},
        "agent": {v for v in account.agents if v and ("agent", v) not in common},
        "address": {account.address}
        if account.address and ("address", account.address) not in common
        else set(),
        "burst": {str(burst[account.id])} if account.id in burst else set(),
    }
    return {k: v for k, v in values.items() if v}


def common_values(accounts: list[Account], common_share: float = COMMON_SHARE) -> set[tuple[str, str]]:
    """(kind, value) pairs held by more than common_share of the accounts and COMMON_FLOOR."""
    held: Counter[tuple[str, str]] = Counter()
    for a in accounts:
        held.update(("network", v) for v in set(a.networks))
        held.update(("agent", v) for v in set(a.agents))
        if a.address:
            held[("address", a.address)] += 1
    limit = max(common_share * len(accounts), COMMON_FLOOR)
    return {key for key, n in held.items() if n > limit}


def _bursts(accounts: list[Account], burst_minutes: float) -> dict[int, int]:
    """Account id -> its burst's number: confirmations in time order, a new burst after a gap."""
    out: dict[int, int] = {}
    timed = sorted((a.confirmed_at, a.id) for a in accounts if a.confirmed_at is not None)
    number, last = 0, None
    for t, sid in timed:
        if last is not None and t - last > burst_minutes * 60:
            number += 1
        out[sid], last = number, t
    return out


def find_rings(
    accounts: Iterable[Account],
    min_size: int = 5,
    burst_minutes: float = 10,
    common_share: float = COMMON_SHARE,
) -> list[Ring]:
    """Rings of at least min_size accounts under one referrer, largest first.

    Linear in the accounts: two accounts share two kinds exactly when they share a key made of
    one value of each kind, so every account adds a key per pair of kinds and value pair, and
    the members of a key are chained (a star keeps the component without every pair's edge).
    """
    everyone = list(accounts)
    common = common_values(everyone, common_share)
    by_referrer: dict[int, list[Account]] = defaultdict(list)
    for account in everyone:
        by_referrer[account.referrer_id].append(account)
    rings = []
    for referrer_id, group in by_referrer.items():
        if len(group) < min_size:
            continue
        burst = _bursts(group, burst_minutes)
        values = {a.id: _values(a, burst, common) for a in group}
        keys: dict[tuple[str, str, str, str], list[int]] = defaultdict(list)
        for sid, kinds in values.items():
            for a, b in itertools.combinations(sorted(kinds), 2):
                for va, vb in itertools.product(sorted(kinds[a]), sorted(kinds[b])):
                    keys[(a, va, b, vb)].append(sid)
        graph = nx.Graph()
        for members in keys.values():
            first = members[0]
            graph.add_edges_from((first, other) for other in members[1:])
        for component in nx.connected_components(graph):
            if len(component) < min_size:
                continue
            evidence = {}
            for kind in KINDS:
                shared = Counter(v for sid in component for v in values[sid].get(kind, ()))
                most = max(shared.values(), default=0)
                evidence[kind] = most if most >= 2 else 0  # a value nobody else holds ties nothing
            rings.append(Ring(referrer_id, sorted(component), evidence))
    rings.sort(key=lambda r: (-len(r.members), r.referrer_id, r.members[0]))
    return rings


def precision_recall(flagged: Iterable[int], fake: Iterable[int]) -> tuple[float | None, float | None]:
    """Share of flagged accounts that are fake, and share of fake accounts flagged."""
    flagged_set, fake_set = set(flagged), set(fake)
    hit = len(flagged_set & fake_set)
    return (
        hit / len(flagged_set) if flagged_set else None,
        hit / len(fake_set) if fake_set else None,
    )
