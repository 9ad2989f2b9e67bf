"""The simulated readers of seed-demo: who they are, where they come from, how they read.

Pure helpers over a `random.Random`: names on ordinary-looking reserved domains, one distinct public-range
IP per reader, acquisition sources and campaigns, reading habits, and the offspring law of the
referral branching process. Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

FIRST = [
    "ada",
    "alan",
    "amara",
    "anika",
    "ben",
    "carla",
    "chen",
    "dara",
    "diego",
    "elif",
    "emma",
    "farah",
    "felix",
    "grace",
    "hana",
    "ines",
    "ivan",
    "jonas",
    "julia",
    "kai",
    "kofi",
    "lara",
    "leo",
    "lina",
    "mai",
    "marco",
    "maya",
    "mei",
    "nadia",
    "nina",
    "omar",
    "pablo",
    "priya",
    "rafael",
    "rosa",
    "sami",
    "sara",
    "sofia",
    "tariq",
    "theo",
    "una",
    "vera",
    "wen",
    "yara",
    "yusuf",
    "zoe",
]
LAST = [
    "abara",
    "becker",
    "costa",
    "dubois",
    "eriksen",
    "fischer",
    "garcia",
    "haddad",
    "ito",
    "jensen",
    "kowalski",
    "lindqvist",
    "moreau",
    "nakamura",
    "okafor",
    "petrov",
    "quinn",
    "rossi",
    "santos",
    "tanaka",
    "usman",
    "varga",
    "weber",
    "xu",
    "yilmaz",
    "zhang",
]

# (domain, weight, habit): all reserved for examples (RFC 2606: example.com/.net/.org and their
# subdomains, the .example TLD), so no demo address can reach a mailbox, whatever mail backend is
# configured. The habits stand for real ones: "cloud" mail is read through Apple Mail (Privacy
# Protection opens every message by machine); the corporate domains sit behind a link scanner
# (Safe Links). (.test would do too, but email-validator refuses it as special-use.)
DOMAINS = (
    ("mail.example.com", 40, "plain"),
    ("inbox.example.net", 12, "plain"),
    ("post.example.org", 8, "plain"),
    ("icloud.example", 12, "apple"),
    ("me.example", 3, "apple"),
    ("secure.example.net", 5, "plain"),
    ("fastpost.example", 3, "plain"),
    ("web.example.org", 4, "plain"),
    ("contoso.example", 7, "scanner"),
    ("fabrikam.example", 6, "scanner"),
)
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
)
# First octets of ordinary public unicast ranges (no private, loopback or documentation space).
_FIRST_OCTETS = (81, 82, 86, 90, 92, 94, 109, 151, 176, 188, 212, 213, 217)


@dataclass(frozen=True)
class Source:
    """Where non-referred readers come from: signup fields and a daily arrival rate."""

    source: str
    form: str
    weight: float
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    referrer_url: str | None = None
    confirm_rate: float = 0.8


@dataclass(frozen=True)
class Campaign:
    """A burst of arrivals from one UTM campaign between two days of the year."""

    source: Source
    first_day: int
    days: int
    per_day: float


SOURCES = (
    Source("website", "form", 0.40, confirm_rate=0.82),
    Source(
        "search", "form", 0.20, "google", "organic", referrer_url="https://www.google.com/", confirm_rate=0.78
    ),
    Source("embed", "embed", 0.15, referrer_url="https://blog.fieldnotes.net/", confirm_rate=0.8),
    Source(
        "social",
        "form",
        0.25,
        "mastodon",
        "social",
        referrer_url="https://mastodon.social/",
        confirm_rate=0.7,
    ),
)
CAMPAIGNS = (
    Campaign(
        Source("social", "form", 0, "twitter", "social", "launch-thread", "https://t.co/", 0.65), 12, 10, 9.0
    ),
    Campaign(Source("podcast", "form", 0, "podcast", "audio", "ep42-interview", None, 0.85), 120, 14, 7.0),
    Campaign(
        Source(
            "partner", "embed", 0, "partner-digest", "email", "spring-swap", "https://partnerdigest.co/", 0.9
        ),
        205,
        8,
        10.0,
    ),
    Campaign(
        Source("ads", "form", 0, "reddit", "cpc", "autumn-ads", "https://www.reddit.com/", 0.6), 280, 21, 5.0
    ),
)


@dataclass(frozen=True)
class Habit:
    """How one reader treats list mail: chances per message, and their mail client."""

    open_rate: float  # a human open of a given message
    click_rate: float  # a click, given a human open
    client: str  # plain | apple (machine opens) | scanner (every link clicked on delivery)
    bounces: bool  # the mailbox does not exist: a hard bounce on the first message


class People:
    """Draws readers: distinct addresses and IPs, habits by domain."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.count = 0
        self._domains = [d for d, _, _ in DOMAINS]
        self._weights = [w for _, w, _ in DOMAINS]
        self._habits = {d: h for d, _, h in DOMAINS}

    def next_reader(self) -> tuple[str, str, str, str, Habit]:
        """(email, name, ip, user agent, habit) of a new reader, never drawn before."""
        self.count += 1
        n = self.count
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        domain = self.rng.choices(self._domains, self._weights)[0]
        email = f"{first}.{last}{n}@{domain}"
        return (
            email,
            f"{first.title()} {last.title()}",
            distinct_ip(n),
            self.rng.choice(USER_AGENTS),
            self.habit(domain),
        )

    def habit(self, domain: str) -> Habit:
        """Reading habits: a fifth never read; the rest open between a tenth and nine tenths."""
        rng = self.rng
        open_rate = 0.0 if rng.random() < 0.2 else rng.betavariate(2.2, 2.0)
        return Habit(
            open_rate, rng.uniform(0.1, 0.45), self._habits.get(domain, "plain"), rng.random() < 0.012
        )


def distinct_ip(n: int) -> str:
    """The n-th reader's IP (n >= 1): distinct for every n below 13 * 250 * 250 * 250."""
    n -= 1
    d = n % 250 + 2
    c = (n // 250) % 250 + 1
    b = (n // 62_500) % 250 + 1
    a = _FIRST_OCTETS[(n // 15_625_000) % len(_FIRST_OCTETS)]
    return f"{a}.{b}.{c}.{d}"


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth's product of uniforms; lam is small here)."""
    if lam <= 0:
        return 0
    if lam > 50:  # normal approximation: offspring means are far below this
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def offspring(rng: random.Random, mean: float, dispersion: float = 0.5) -> int:
    """Referred signups one confirmed reader brings: negative binomial with this mean.

    A Poisson whose rate is Gamma(dispersion, mean / dispersion): mean `mean`, variance
    mean + mean^2 / dispersion, so a few readers refer many and most none (as in real programs).
    """
    if mean <= 0:
        return 0
    return poisson(rng, rng.gammavariate(dispersion, mean / dispersion))


def arrivals_per_day(day: int, days: int, base: float, growth: float) -> float:
    """Expected non-referred signups on day `day` of `days`: linear growth from `base`."""
    return base * (1 + growth * day / max(days, 1))


def campaign_rate(day: int, campaigns: tuple[Campaign, ...], scale: float) -> list[tuple[Campaign, float]]:
    """Campaigns running on `day` with their expected signups that day (decaying after launch)."""
    running = []
    for c in campaigns:
        if c.first_day <= day < c.first_day + c.days:
            running.append((c, scale * c.per_day * math.exp(-(day - c.first_day) / (c.days / 2))))
    return running


def moment(rng: random.Random, day: dt.datetime, start_hour: float = 6, end_hour: float = 23) -> dt.datetime:
    """A random instant of a day, in waking hours."""
    return day + dt.timedelta(seconds=rng.uniform(start_hour * 3600, end_hour * 3600))
