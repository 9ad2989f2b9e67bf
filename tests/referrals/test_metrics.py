"""The referral metrics on small hand-built graphs, and a simulated branching process."""

from __future__ import annotations

import datetime as dt
import math
import random

import networkx as nx
import pytest

from referrals import metrics

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # a Monday
DAY = 86400.0

# The hand-built forest (confirmation day after T0 in brackets):
#   1[0] -> 2[2] -> 4[5] -> 5[40]
#   1[0] -> 3[10]
#   6[1] -> 7[31]
#   8[3] alone
EDGES = [(1, 2), (1, 3), (2, 4), (4, 5), (6, 7)]
DAYS = {1: 0, 2: 2, 3: 10, 4: 5, 5: 40, 6: 1, 7: 31, 8: 3}


def graph() -> tuple[nx.DiGraph, dict[int, float]]:
    g = nx.DiGraph()
    g.add_nodes_from(DAYS)
    g.add_edges_from(EDGES)
    return g, {n: T0.timestamp() + d * DAY for n, d in DAYS.items()}


def day(n: float) -> float:
    return T0.timestamp() + n * DAY


def test_k_factor_and_its_factors_all_time():
    g, confirmed = graph()
    visits = {1: 4, 2: 2, 6: 4}
    # N = 8 subscribers, R = 5 counted referrals, V = 10 counted visits from 3 sharers
    k = metrics.k_factor(g.edges, confirmed, visits)
    assert k == {
        "k_factor": 5 / 8,
        "share_rate": 3 / 8,
        "visits_per_sharer": 10 / 3,
        "invite_rate": 10 / 8,
        "conversion_rate": 5 / 10,
    }
    assert k["invite_rate"] * k["conversion_rate"] == pytest.approx(k["k_factor"])
    assert k["share_rate"] * k["visits_per_sharer"] == pytest.approx(k["invite_rate"])


def test_k_factor_in_a_window_and_ratios_with_nothing_under_them():
    g, confirmed = graph()
    # window [day 0, day 30): subscribers 1,2,3,4,6,8 (6); referrals into 2, 3, 4 (3)
    k = metrics.k_factor(g.edges, confirmed, {}, day(0), day(30))
    assert k["k_factor"] == 3 / 6
    assert (k["visits_per_sharer"], k["conversion_rate"], k["share_rate"]) == (None, None, 0.0)
    empty = metrics.k_factor([], {}, {})
    assert all(v is None for v in empty.values())


def test_cohort_k_by_month_marks_immature_cohorts():
    g, confirmed = graph()
    # January (days 0..26): 1,2,3,4,6,8 = 6; referrals within 30 days of the referrer's
    # confirmation: 1->2 (2 d), 1->3 (10 d), 2->4 (3 d), 6->7 (30 d); 4->5 (35 d) is too late = 4.
    # February: 5 and 7, no referrals. Now 15 March: January's horizon ended 3 March (mature),
    # February's ends 31 March (immature: k withheld, not reported as 0).
    rows = metrics.cohort_k(g.edges, confirmed, dt.datetime(2026, 3, 15, tzinfo=dt.UTC), 30, "month")
    assert rows == [
        {"cohort": "2026-01-01", "size": 6, "referrals": 4, "k": 4 / 6, "mature": True},
        {"cohort": "2026-02-01", "size": 2, "referrals": 0, "k": None, "mature": False},
    ]
    later = metrics.cohort_k(g.edges, confirmed, dt.datetime(2026, 4, 1, tzinfo=dt.UTC), 30, "month")
    assert later[1] == {"cohort": "2026-02-01", "size": 2, "referrals": 0, "k": 0.0, "mature": True}


def test_cohort_k_by_week():
    g, confirmed = graph()
    # weeks from Monday 5 Jan: {1,2,4,6,8} (days 0-6), {3} (day 10), {7} (day 31), {5} (day 40)
    rows = metrics.cohort_k(g.edges, confirmed, dt.datetime(2026, 6, 1, tzinfo=dt.UTC), 30, "week")
    assert [(r["cohort"], r["size"], r["referrals"]) for r in rows] == [
        ("2026-01-05", 5, 4),
        ("2026-01-12", 1, 0),
        ("2026-02-02", 1, 0),
        ("2026-02-09", 1, 0),
    ]


def test_quality_k_counts_only_good_referred_readers_after_the_horizon():
    g, confirmed = graph()
    # now = day 69, horizon 30 -> only subscribers confirmed before day 39: all but 5 (7).
    # Good referred readers among them: 2 and 7 -> 2 / 7.
    now = T0 + dt.timedelta(days=69)
    assert metrics.quality_k(g.edges, confirmed, {2, 7, 5}, now, 30) == 2 / 7


def test_concentration_of_referrals():
    g, confirmed = graph()
    # referrers: 1 (2 referrals), 2, 4, 6 (1 each); top 1% of 4 referrers rounds up to 1: node 1.
    # top share 2/5; K without node 1: 3 referrals over 7 subscribers.
    assert metrics.concentration(g.edges, confirmed) == {
        "top_referrers": 1,
        "top_share": 2 / 5,
        "k_without_top": 3 / 7,
    }


def test_viral_cycle_time_median_mean_and_mature_distribution():
    g, confirmed = graph()
    # delays in days: 2, 10, 3, 35, 30 -> median 10, mean 16
    cycle = metrics.viral_cycle_time(g.edges, confirmed, dt.datetime(2026, 3, 15, tzinfo=dt.UTC), 30)
    assert (cycle["median"], cycle["mean"]) == (10, 16)
    # all referrers (1, 2, 4, 6) are in January, a mature cohort: buckets 1-3: {2}, 3-7: {3},
    # 7-14: {10}, 30+: {30, 35}
    assert [b["share"] for b in cycle["distribution"]] == [0.0, 0.2, 0.2, 0.2, 0.0, 0.4]
    # in a window from day 20, only 4->5 (35) and 6->7 (30) land
    window = metrics.viral_cycle_time(
        g.edges, confirmed, dt.datetime(2026, 3, 15, tzinfo=dt.UTC), 30, start=day(20)
    )
    assert window["median"] == 32.5
    # on 1 February nobody's cohort is mature yet: no distribution, not a short one
    early = metrics.viral_cycle_time(g.edges, confirmed, dt.datetime(2026, 2, 1, tzinfo=dt.UTC), 30)
    assert early["mature_referrals"] == 0 and all(b["share"] is None for b in early["distribution"])


def test_tree_positions_generations_and_cascades():
    g, _ = graph()
    depth, root, downstream = metrics.tree_positions(g)
    assert depth == {1: 0, 2: 1, 3: 1, 4: 2, 5: 3, 6: 0, 7: 1, 8: 0}
    assert root == {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 6, 7: 6, 8: 8}
    assert downstream == {1: 4, 2: 2, 3: 0, 4: 1, 5: 0, 6: 1, 7: 0, 8: 0}
    # the reference agrees with networkx's own descendants on this small graph
    assert downstream == {n: len(nx.descendants(g, n)) for n in g}
    gens = metrics.generations(depth.values())
    assert gens == {
        "generation_counts": {"0": 3, "1": 3, "2": 1, "3": 1},
        "max_generation": 3,
        "referred_share": 5 / 8,
    }
    # trees of 5, 2 and 1 readers: 8 readers per 3 roots
    casc = metrics.cascades(root.values())
    assert casc == {
        "amplification": 8 / 3,
        "roots": 3,
        "largest_cascade": 5,
        "cascades_beyond_root": 2,
    }
    # readers alone in trees of one may be counted rather than listed: 3 in one tree + 2 alone
    assert metrics.cascades([1, 1, 1], alone=2) == {
        "amplification": 5 / 3,
        "roots": 3,
        "largest_cascade": 3,
        "cascades_beyond_root": 1,
    }
    assert metrics.generations([]) == {
        "generation_counts": {},
        "max_generation": None,
        "referred_share": None,
    }


def test_top_referrers_and_downstream_revenue():
    g, _ = graph()
    _, _, downstream = metrics.tree_positions(g)
    direct = dict(g.out_degree())
    top = metrics.top_referrers(direct, downstream, 2)
    assert top["by_direct"] == [
        {"subscriber_id": 1, "direct": 2, "downstream": 4},
        {"subscriber_id": 2, "direct": 1, "downstream": 2},
    ]
    assert [r["subscriber_id"] for r in top["by_downstream"]] == [1, 2]
    parent = {v: u for u, v in g.edges}
    revenue = {5: {"usd": 1000}, 3: {"usd": 500}, 7: {"eur": 200}, 1: {"usd": 99}}
    # 1 gets 5's and 3's money (not its own); 2 gets 5's; 6 gets 7's
    assert metrics.downstream_revenue(parent, revenue, {1, 2, 6}) == {
        1: {"usd": 1500},
        2: {"usd": 1000},
        6: {"eur": 200},
    }


def test_skok_and_the_saturating_variant():
    # C(t) = 100 (0.5^(t/10 + 1) - 1) / (0.5 - 1): t=10 -> 150, t=20 -> 175
    assert metrics.skok(100, 0.5, 10, 10) == pytest.approx(150)
    assert metrics.skok(100, 0.5, 10, 20) == pytest.approx(175)
    assert metrics.skok(100, 1.0, 10, 20) == pytest.approx(300)
    # K=2, market 1000: cycle 1 adds 2*100*(1-0.1) = 180 (280), cycle 2 adds 2*180*(1-0.28) = 259.2
    assert metrics.saturating(100, 2, 10, 20, 1000) == pytest.approx(539.2)
    assert metrics.saturating(100, 2, 10, 15, 1000) == pytest.approx(280 + 0.5 * 259.2)
    # with no ceiling to speak of it is Skok at whole cycles: 100 (2^3 - 1) = 700
    assert metrics.saturating(100, 2, 10, 20, 1e15) == pytest.approx(metrics.skok(100, 2, 10, 20))


def test_forecast_and_its_inputs():
    # 1000 now, 100 organic per period amplified by 1/(1-0.5) = 200, 10% churn:
    # 1000 + 200 - 100 = 1100, then 1100 + 200 - 110 = 1190
    rows = metrics.forecast(1000, 100, 0.5, 0.1, 30, 10, periods=2, market=5000)
    assert [r["steady"] for r in rows] == [pytest.approx(1100), pytest.approx(1190)]
    assert rows[0]["skok"] == pytest.approx(metrics.skok(1000, 0.5, 10, 30))
    assert rows[0]["logistic"] == pytest.approx(metrics.saturating(1000, 0.5, 10, 30, 5000))
    # K >= 1 never settles: no steady-state line, Skok still answers
    assert metrics.forecast(10, 1, 1.2, 0, 7, 5, periods=1)[0]["steady"] is None

    now = T0 + dt.timedelta(days=90)
    confirmed = {1: day(0), 2: day(70), 3: day(80), 4: day(85), 5: day(89)}
    unsubscribed = {1: day(75)}
    # last 3 periods of 30 days = days 0..90: 1, 2, 3, 5 not referred (4 is) -> 4 / 3 per period.
    # before day 60 only 1 was confirmed; it left on day 75: churn 1 / 1.
    inflow, churn = metrics.inflow_and_churn(confirmed, unsubscribed, {4}, now, 30)
    assert inflow == pytest.approx(4 / 3) and churn == 1.0


def test_galton_watson_branching_process_recovers_mean_offspring():
    """Offspring ~ Binomial(2, 0.25): mean 0.5. With ~40,000 readers, K's standard error is about
    sqrt(0.375 / 40000) = 0.003; cascades average 1/(1-0.5) = 2 with a standard error near 0.012.
    Tolerances: 0.02 for K and 0.06 for amplification (about five standard errors)."""
    rng = random.Random(20261125)
    g = nx.DiGraph()
    confirmed: dict[int, float] = {}
    next_id = 0
    for _root in range(20_000):
        root = next_id
        next_id += 1
        g.add_node(root)
        confirmed[root] = rng.uniform(0, 365) * DAY
        frontier = [root]
        while frontier:
            parent = frontier.pop()
            for _ in range(sum(rng.random() < 0.25 for _ in range(2))):
                child = next_id
                next_id += 1
                g.add_edge(parent, child)
                confirmed[child] = confirmed[parent] + rng.expovariate(1 / 5) * DAY
                frontier.append(child)
    k = metrics.k_factor(g.edges, confirmed, {})["k_factor"]
    assert k == pytest.approx(0.5, abs=0.02)
    _, root, _ = metrics.tree_positions(g)
    casc = metrics.cascades(root.values())
    assert casc["roots"] == 20_000
    assert casc["amplification"] == pytest.approx(1 / (1 - 0.5), abs=0.06)
    # mean delay of an exponential with mean 5 days
    cycle = metrics.viral_cycle_time(g.edges, confirmed, T0 + dt.timedelta(days=2000), 30)
    assert cycle["mean"] == pytest.approx(5, abs=0.3)


def test_cohorts_reject_unknown_periods():
    with pytest.raises(ValueError):
        metrics.Cohorts("year")


def test_forecast_survives_a_tiny_cycle_time():
    # Readers who all confirm within a second give a cycle time of microseconds: about 1e11
    # cycles per 30-day period. The discrete logistic has long converged by then, so it must
    # equal the value after 100,000 cycles (computed the slow way, cycle by cycle); Skok with
    # K > 1 overflows to None, and with K < 1 it tends to C0 / (1 - K).
    from referrals.metrics import forecast, saturating

    tiny = 1e-6 / 86400
    fast = forecast(10, None, 2.0, None, period_days=30, cycle_days=tiny, periods=2, market=1000)
    converged = saturating(10, 2.0, 1.0, 100_000, 1000)
    assert 10 < converged < 1000
    assert [row["logistic"] for row in fast] == [pytest.approx(converged)] * 2
    assert [row["skok"] for row in fast] == [None, None]
    slow = forecast(10, None, 0.5, None, period_days=30, cycle_days=tiny, periods=1, market=1000)
    assert slow[0]["skok"] == pytest.approx(20)  # 10 / (1 - 0.5)


def test_window_flow_amplification_counts_only_the_windows_non_referred_readers():
    g, confirmed = graph()
    _, root, _ = metrics.tree_positions(g)
    # window [day 2, day 12): 2[2], 8[3], 4[5], 3[10] confirmed; only 8 is not referred.
    # Flow: 4 readers per 1 non-referred = 4 (the old figure divided by roots 1 and 8, from
    # before the window: 4 / 2 = 2). Referred share 3/4, and 1 / (1 - 3/4) = 4.
    flow = metrics.window_amplification(confirmed, root, day(2), day(12))
    assert flow == {"amplification": 4.0, "readers": 4, "non_referred": 1}
    depths = [d for n, d in metrics.tree_positions(g)[0].items() if day(2) <= confirmed[n] < day(12)]
    share = metrics.generations(depths)["referred_share"]
    assert flow["amplification"] == pytest.approx(1 / (1 - share))
    # window [day 1, day 4): 6[1], 2[2], 8[3]; 6 and 8 non-referred: 3 / 2
    assert metrics.window_amplification(confirmed, root, day(1), day(4))["amplification"] == 1.5
    # all time it is the cascades' figure: 8 readers per 3 roots
    assert metrics.window_amplification(confirmed, root)["amplification"] == 8 / 3
    # a window of referred readers only has no non-referred reader to divide by
    assert metrics.window_amplification(confirmed, root, day(30), day(41)) == {
        "amplification": None,
        "readers": 2,
        "non_referred": 0,
    }


def test_cohort_amplification_follows_the_windows_roots_to_the_horizon():
    g, confirmed = graph()
    _, root, _ = metrics.tree_positions(g)
    # window [day 0, day 12), horizon 30: roots 1[0], 6[1], 8[3].
    # 1's cascade within 30 days of day 0: 2[2], 4[5], 3[10] (5[40] is too late) -> 4 readers;
    # 6's: 7[31], 30 days after day 1 -> 2 readers; 8 alone -> 1. (4 + 2 + 1) / 3 = 7/3.
    # Final once now >= window end + horizon = day 42.
    at = T0 + dt.timedelta(days=42)
    cohort = metrics.cohort_amplification(confirmed, root, at, 30, day(0), day(12))
    assert cohort == {
        "amplification": 7 / 3,
        "roots": 3,
        "readers": 7,
        "largest_cascade": 4,
        "cascades_beyond_root": 2,
        "provisional": False,
    }
    before = metrics.cohort_amplification(confirmed, root, at - dt.timedelta(seconds=1), 30, day(0), day(12))
    assert before["provisional"] is True and before["amplification"] == 7 / 3
    # horizon 29: 7 arrives 30 days after 6, too late -> (4 + 1 + 1) / 3 = 2
    assert metrics.cohort_amplification(confirmed, root, at, 29, day(0), day(12))["amplification"] == 2.0
    # window [day 2, day 12): the only root is 8; readers descending from 1 (before the window)
    # are not this cohort's -> 1 / 1
    late = metrics.cohort_amplification(confirmed, root, at, 30, day(2), day(12))
    assert (late["amplification"], late["roots"], late["readers"]) == (1.0, 1, 1)
    # an open window never closes: provisional, whatever `now`
    assert metrics.cohort_amplification(confirmed, root, at, 30, day(0))["provisional"] is True
    # a window with nobody in it: nothing to divide by (and on day 42 it has not even ended)
    assert metrics.cohort_amplification(confirmed, root, at, 30, day(50), day(60)) == {
        "amplification": None,
        "roots": 0,
        "readers": 0,
        "largest_cascade": None,
        "cascades_beyond_root": 0,
        "provisional": True,
    }


def _wiener_and_size(g: nx.DiGraph) -> dict[int, tuple[int, int]]:
    depth, root, downstream = metrics.tree_positions(g)
    parent = {v: u for u, v in g.edges}
    cascades = metrics.cascade_wiener(parent, root, downstream, depth)
    # the deepest generation agrees with the breadth-first depths
    for r, (_n, _w, generations) in cascades.items():
        assert generations == max(d for node, d in depth.items() if root[node] == r)
    return {r: (n, w) for r, (n, w, _g) in cascades.items()}


def test_structural_virality_of_a_star_and_a_chain_by_hand():
    # a star of 5: 4 edges each with 1 below and 4 above: W = 4 x 1 x 4 = 16, C(5, 2) = 10
    star = nx.DiGraph([(0, i) for i in range(1, 5)])
    assert _wiener_and_size(star) == {0: (5, 16)}
    assert metrics.structural_virality(5, 16) == 1.6 == 2 * (5 - 1) / 5
    # a chain of 5: edges split 4|1, 3|2, 2|3, 1|4: W = 4 + 6 + 6 + 4 = 20 = (n + 1) / 3 x C(5, 2)
    chain = nx.DiGraph([(i, i + 1) for i in range(4)])
    assert _wiener_and_size(chain) == {0: (5, 20)}
    assert metrics.structural_virality(5, 20) == 2.0 == (5 + 1) / 3
    assert metrics.structural_virality(1, 0) is None
    for n in (2, 3, 10, 50):
        star_n = nx.DiGraph([(0, i) for i in range(1, n)])
        chain_n = nx.DiGraph([(i, i + 1) for i in range(n - 1)])
        assert metrics.structural_virality(*_wiener_and_size(star_n)[0]) == pytest.approx(2 * (n - 1) / n)
        assert metrics.structural_virality(*_wiener_and_size(chain_n)[0]) == pytest.approx((n + 1) / 3)


def test_structural_virality_equals_networkx_on_random_trees():
    rng = random.Random(21)
    forest = nx.DiGraph()
    expected = {}
    offset = 0
    for _ in range(40):
        n = rng.randint(2, 120)
        # a random recursive tree: each reader referred by any earlier one, oriented root -> leaves
        tree = nx.DiGraph([(offset + rng.randrange(i), offset + i) for i in range(1, n)])
        expected[offset] = nx.wiener_index(tree.to_undirected()) / math.comb(n, 2)
        forest.update(tree)
        offset += n
    forest.add_node(offset)  # a reader alone: no cascade to measure
    measured = {r: metrics.structural_virality(n, w) for r, (n, w) in _wiener_and_size(forest).items()}
    assert measured.keys() == expected.keys()
    for r, value in expected.items():
        assert measured[r] == pytest.approx(value)


def test_virality_summary_means_bands_viral_share_and_the_most_viral():
    # a star of 12 (1.8333), a chain of 12 (4.3333), a chain of 150 (50.3333), a pair (1.0)
    g = nx.DiGraph()
    g.add_edges_from((0, i) for i in range(1, 12))
    g.add_edges_from((100 + i, 101 + i) for i in range(11))
    g.add_edges_from((1000 + i, 1001 + i) for i in range(149))
    g.add_edge(5000, 5001)
    depth, root, downstream = metrics.tree_positions(g)
    parent = {v: u for u, v in g.edges}
    wiener = metrics.cascade_wiener(parent, root, downstream, depth)
    counts = metrics.generations(depth.values())["generation_counts"]
    summary = metrics.virality_summary(wiener, counts, min_size=10, top=2)
    star, short, long = 22 / 12, 13 / 3, 151 / 3
    assert summary["cascades"] == 3  # the pair is below the minimum
    assert summary["mean"] == pytest.approx((star + short + long) / 3)
    assert summary["median"] == pytest.approx(short)
    assert [(b["from_size"], b["to_size"], b["cascades"]) for b in summary["bands"]] == [
        (10, 100, 2),
        (100, 1000, 1),
        (1000, None, 0),
    ]
    assert summary["bands"][0]["mean"] == pytest.approx((star + short) / 2)
    assert summary["bands"][2]["mean"] is None
    # referred readers: 11 + 11 + 149 + 1 = 172; at depth 2 or more: 10 + 148 = 158
    assert summary["viral_share"] == pytest.approx(158 / 172)
    assert [(row["root_id"], row["size"], row["generations"]) for row in summary["most_viral"]] == [
        (1000, 150, 149),
        (100, 12, 11),
    ]
    assert summary["most_viral"][0]["virality"] == pytest.approx(long)
    # the minimum at 2 admits the pair and the band from 2
    low = metrics.virality_summary(wiener, counts, min_size=2)
    assert low["cascades"] == 4 and low["bands"][0] == {
        "from_size": 2,
        "to_size": 10,
        "cascades": 1,
        "mean": 1.0,
        "median": 1.0,
    }
    empty = metrics.virality_summary({}, {}, min_size=10)
    assert (empty["mean"], empty["median"], empty["viral_share"], empty["most_viral"]) == (
        None,
        None,
        None,
        [],
    )
