"""Simulated referral traffic with rings of fake accounts hidden in it (seeded, plain data).

Honest readers: their own addresses (some behind carrier NAT shared by many, some on IPv6 with
their household's /64), browsers drawn from a skewed pool of common user agents, addresses made
of names, confirmations spread over weeks, and now and then a group chat where several friends
confirm within the hour. An office: a dozen colleagues behind one address, confirming over
three weeks. Rings, under a referrer of their own: a script (one network, one browser, a
burst), a careful maker (proxies, one browser, numbered addresses, hours apart), one rotating
addresses inside an IPv6 /64 with numbered addresses, and a very careful one (every signal
varied) that nothing should be able to tell from honest readers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from referrals import fraud
from referrals.rings import Account

DAY = 86400.0
FIRST = [
    "anna",
    "ben",
    "cara",
    "dev",
    "eli",
    "fay",
    "gus",
    "hana",
    "ivan",
    "jo",
    "kai",
    "lena",
    "milo",
    "nia",
    "omar",
    "pia",
    "raj",
    "sara",
    "tom",
    "uma",
    "vik",
    "wen",
]
LAST = [
    "smith",
    "jones",
    "brown",
    "garcia",
    "miller",
    "davis",
    "lopez",
    "wilson",
    "moore",
    "taylor",
    "thomas",
    "white",
    "harris",
    "clark",
    "lewis",
]
DOMAINS = ["gmail.com"] * 5 + ["yahoo.com", "outlook.com", "icloud.com", "proton.me", "fastmail.com"]
AGENTS = [f"Mozilla/5.0 (Browser {i}) Version/{100 + i}" for i in range(30)]
AGENT_WEIGHTS = [1 / (i + 1) for i in range(30)]  # Zipf: the most common browser is about a quarter
CARRIER_IPS = [f"100.64.{i}.1" for i in range(20)]


@dataclass
class Population:
    accounts: list[Account]
    fake: set[int]
    office: set[int]
    style: dict[int, str]  # fake account -> how its ring was made


class _Maker:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.next_id = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def own_ip(self) -> str:
        r = self.rng.random()
        if r < 0.12:
            return self.rng.choice(CARRIER_IPS)
        if r < 0.35:
            a, b, c = (self.rng.randrange(65536) for _ in range(3))
            return f"2001:db8:{a:x}:{b:x}::{c:x}"
        a, b, c = self.rng.randrange(1, 224), self.rng.randrange(256), self.rng.randrange(256)
        return f"{a}.{b}.{c}.{self.rng.randrange(1, 255)}"

    def agent(self) -> str:
        return self.rng.choices(AGENTS, AGENT_WEIGHTS)[0]

    def honest_email(self) -> str:
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        shape = self.rng.random()
        local = (
            f"{first}.{last}"
            if shape < 0.4
            else f"{first[0]}{last}{self.rng.randrange(100)}"
            if shape < 0.7
            else f"{first}{self.rng.randrange(1000, 9999)}{last[:3]}{self.rng.choice('xyzqw')}"
        )
        return f"{local}@{self.rng.choice(DOMAINS)}"

    def account(
        self,
        referrer: int,
        at: float,
        ip: str,
        agent: str,
        email: str,
        confirm_ip: str | None = None,
        confirm_agent: str | None = None,
    ) -> Account:
        networks = tuple(n for n in {fraud.network_of(ip), fraud.network_of(confirm_ip or ip)} if n)
        agents = tuple({agent, confirm_agent or agent})
        return Account(self.new_id(), referrer, at, networks, agents, fraud.address_pattern(email))


def simulate(seed: int = 21, referrers: int = 400, rings_per_style: int = 8) -> Population:
    """Honest referrals under `referrers` readers, an office, and 4 x rings_per_style rings."""
    m = _Maker(seed)
    rng = m.rng
    accounts: list[Account] = []
    fake: set[int] = set()
    style_of: dict[int, str] = {}
    span = 90 * DAY
    for _ in range(referrers):
        referrer = m.new_id()
        friends = min(int(rng.paretovariate(1.3)), 40)
        for _f in range(friends):
            at = rng.random() * span
            moved = rng.random() < 0.3  # signed up on the phone, confirmed at the desk
            accounts.append(
                m.account(
                    referrer,
                    at,
                    m.own_ip(),
                    m.agent(),
                    m.honest_email(),
                    m.own_ip() if moved else None,
                    m.agent() if moved else None,
                )
            )
        if rng.random() < 0.15:  # a group chat: friends confirm within the hour
            start = rng.random() * span
            for _f in range(rng.randint(3, 9)):
                accounts.append(
                    m.account(referrer, start + rng.random() * 3600, m.own_ip(), m.agent(), m.honest_email())
                )
    # the office: one address, a dozen colleagues, three weeks of office hours
    office_referrer, office_ip = m.new_id(), "203.0.113.7"
    office = set()
    for _ in range(12):
        at = rng.randrange(21) * DAY + (9 + rng.random() * 8) * 3600
        first, last = rng.choice(FIRST), rng.choice(LAST)
        a = m.account(office_referrer, at, office_ip, m.agent(), f"{first}.{last}@acme.example")
        accounts.append(a)
        office.add(a.id)
    for style in ("script", "careful", "v6", "invisible"):
        for _ in range(rings_per_style):
            referrer = m.new_id()
            size = rng.randint(5, 20)
            start = rng.random() * span
            ip = m.own_ip()
            prefix = f"2001:db8:{rng.randrange(65536):x}:{rng.randrange(65536):x}"
            # a scripted browser is often an odd build; half the rings pass for a common one
            agent = f"Mozilla/5.0 (Scripted {rng.randrange(10**6)})" if rng.random() < 0.5 else m.agent()
            stem = rng.choice(FIRST) + rng.choice(LAST)
            domain = rng.choice(DOMAINS)
            for i in range(size):
                if style == "script":
                    a = m.account(
                        referrer,
                        start + i * rng.uniform(20, 120),
                        ip,
                        agent,
                        f"{rng.choice(FIRST)}{rng.randrange(10**6)}@{domain}",
                    )
                elif style == "careful":
                    a = m.account(
                        referrer,
                        start + i * rng.uniform(2, 10) * 3600,
                        m.own_ip(),
                        agent,
                        f"{stem}{rng.randrange(10, 999)}@{domain}",
                    )
                elif style == "v6":
                    a = m.account(
                        referrer,
                        start + i * rng.uniform(1, 6) * 3600,
                        f"{prefix}::{rng.randrange(1, 65535):x}",
                        m.agent(),
                        f"{stem}.{i}@{domain}",
                    )
                else:
                    a = m.account(
                        referrer,
                        start + i * rng.uniform(2, 10) * 3600,
                        m.own_ip(),
                        m.agent(),
                        m.honest_email(),
                    )
                accounts.append(a)
                fake.add(a.id)
                style_of[a.id] = style
    return Population(accounts, fake, office, style_of)
