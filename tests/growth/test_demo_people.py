"""The pure draws behind seed-demo's readers, on fixed seeds."""

from __future__ import annotations

import random
import statistics

from growth.demo_people import DOMAINS, People, distinct_ip, offspring, poisson
from growth.subscribers import normalize_email
from tests.demo_db import is_reserved_domain


def test_offspring_has_the_stated_mean_and_a_heavy_tail() -> None:
    rng = random.Random(3)
    draws = [offspring(rng, 0.5, dispersion=0.5) for _ in range(40_000)]
    assert abs(statistics.fmean(draws) - 0.5) < 0.02
    # Negative binomial: variance = mean + mean^2 / dispersion = 0.5 + 0.5 = 1.0 (Poisson: 0.5).
    assert abs(statistics.pvariance(draws) - 1.0) < 0.08
    assert draws.count(0) / len(draws) > 0.65  # most readers refer nobody


def test_poisson_mean_and_zero_rate() -> None:
    rng = random.Random(5)
    assert abs(statistics.fmean(poisson(rng, 2.5) for _ in range(20_000)) - 2.5) < 0.05
    assert poisson(rng, 0) == 0 and offspring(rng, 0) == 0


def test_ips_are_distinct_and_public() -> None:
    ips = [distinct_ip(n) for n in range(1, 200_001)]
    assert len(set(ips)) == len(ips)
    assert distinct_ip(1) == "81.1.1.2"
    first = {int(ip.split(".")[0]) for ip in ips}
    assert not first & {0, 10, 100, 127, 169, 172, 192, 198, 203, 224}


def test_is_reserved_tells_example_domains_from_real_ones() -> None:
    assert (
        is_reserved_domain("example.com")
        and is_reserved_domain("mail.example.org")
        and is_reserved_domain("a.example")
    )
    assert (
        not is_reserved_domain("gmail.com")
        and not is_reserved_domain("example.co")
        and not is_reserved_domain("myexample.com")
    )


def test_readers_have_unique_ordinary_addresses_and_habits_by_domain() -> None:
    people = People(random.Random(1))
    drawn = [people.next_reader() for _ in range(3000)]
    emails = [normalize_email(e)[1] for e, *_ in drawn]
    assert len(set(emails)) == len(emails)
    domains = {e.rsplit("@", 1)[1] for e in emails}
    assert domains == {d for d, _, _ in DOMAINS} and len(domains) >= 8
    assert all(is_reserved_domain(d) for d in domains), domains
    clients = {e.rsplit("@", 1)[1]: h.client for e, _, _, _, h in drawn}
    assert clients["icloud.example"] == "apple" and clients["contoso.example"] == "scanner"
    assert clients["mail.example.com"] == "plain"
    never = sum(1 for *_, h in drawn if h.open_rate == 0) / len(drawn)
    assert 0.15 < never < 0.25


def test_the_simulated_clock_moves_utcnow_only_inside_its_block() -> None:
    import datetime as dt

    from growth.db import real_utcnow, simulated_clock, utcnow

    past = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
    with simulated_clock(lambda: past):
        assert utcnow() == past
        assert real_utcnow() - past > dt.timedelta(days=300)  # leases keep to the wall clock
    assert utcnow() - past > dt.timedelta(days=300)
