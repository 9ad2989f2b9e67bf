"""Acquisition economics, pure: the class mapping, CAC, ROAS, payback, the value of a signup and
its projection, checked on hand-built ledgers and on simulated histories of known behaviour."""

from __future__ import annotations

import datetime as dt
import random

from growth import acquisition_metrics as am

UTC = dt.UTC
NOW = dt.datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
DEFAULTS = [am.Rule(f, v, c) for f, v, c in am.DEFAULT_RULES]


def at(year: int, month: int, day: int = 10) -> dt.datetime:
    return dt.datetime(year, month, day, 9, 0, tzinfo=UTC)


def signup(sid: int, when: dt.datetime, confirmed: bool = True, **extra) -> am.Signup:  # type: ignore[no-untyped-def]
    return am.Signup(sid, when, confirmed_at=when + dt.timedelta(hours=1) if confirmed else None, **extra)


def test_the_default_mapping_puts_each_signup_in_one_class():
    cases = {
        "paid": [
            dict(utm_medium="cpc"),
            dict(utm_medium=" Paid_Social "),
            dict(partner="other-letter", partner_paid=True),
        ],
        "owned": [dict(source="embed"), dict(source="form"), dict(), dict(utm_medium="email")],
        "earned": [
            dict(referrer="7"),
            dict(source="press"),
            dict(partner="other-letter"),
            dict(other_site=True),
        ],
    }
    for expected, signups in cases.items():
        for n, extra in enumerate(signups):
            media_class, _ = am.classify(signup(n, at(2026, 1), **extra), DEFAULTS)
            assert media_class == expected, extra
    # utm_medium is tried before the source: an ad that led to the embed is paid
    assert am.classify(signup(1, at(2026, 1), source="embed", utm_medium="cpc"), DEFAULTS)[0] == "paid"
    # nothing matches: the fallback, and no rule is named
    assert am.classify(signup(1, at(2026, 1), source="podcast"), DEFAULTS) == ("owned", None)
    assert am.classify(signup(1, at(2026, 1), source="podcast", other_site=True), DEFAULTS) == (
        "earned",
        None,
    )


def test_a_changed_rule_applies_to_history():
    old = [signup(i, at(2025, 3), source="podcast", campaign="ep") for i in range(3)]
    before = am.acquisition(old, DEFAULTS, [], NOW, detail_groups=())
    assert {r["value"]: r["signups"] for r in before["class"]} == {"paid": 0, "owned": 3, "earned": 0}
    rules = [*DEFAULTS, am.Rule("source", "Podcast", "paid")]
    after = am.acquisition(old, rules, [], NOW, detail_groups=())
    assert {r["value"]: r["signups"] for r in after["class"]} == {"paid": 3, "owned": 0, "earned": 0}


def ledger() -> tuple[list[am.Signup], list[am.Spend]]:
    """Campaign spring: 5 cpc signups in January, 4 confirmed; two pay 1000 a month."""
    pays_1 = tuple((at(2026, m, 20), "usd", 1000) for m in range(1, 7))  # Jan..Jun: 6000
    pays_2 = tuple((at(2026, m, 20), "usd", 1000) for m in range(2, 7))  # Feb..Jun: 5000
    signups = [
        signup(1, at(2026, 1), utm_medium="cpc", campaign="spring", cash=pays_1, paid_at=at(2026, 1, 20)),
        signup(2, at(2026, 1), utm_medium="cpc", campaign="spring", cash=pays_2, paid_at=at(2026, 2, 20)),
        signup(3, at(2026, 1), utm_medium="cpc", campaign="spring"),
        signup(4, at(2026, 1), utm_medium="cpc", campaign="spring"),
        signup(5, at(2026, 1), confirmed=False, utm_medium="cpc", campaign="spring"),
        signup(6, at(2026, 2), source="form"),
    ]
    spend = [
        am.Spend("spring", dt.date(2026, 1, 1), "usd", 5000),
        am.Spend("spring", dt.date(2026, 2, 1), "usd", 3000),
    ]
    return signups, spend


def test_cac_roas_and_payback_on_a_hand_built_ledger():
    signups, spend = ledger()
    report = am.acquisition(signups, DEFAULTS, spend, NOW)
    (spring,) = [r for r in report["campaign"] if r["value"] == "spring"]
    assert (spring["signups"], spring["confirmed"], spring["paying"]) == (5, 4, 2)
    assert spring["revenue_cents"] == 11000 and spring["spend_cents"] == 8000
    assert spring["cac_cents"] == 2000  # 8000 / 4 confirmed
    assert spring["roas"] == 1.375  # 11000 / 8000
    # value per confirmed by month k: 250, 750, 1250, 1750, 2250 >= 2000 in month 5
    assert spring["payback_months"] == 5
    paid, owned, earned = report["class"]
    assert paid["value"] == "paid" and paid["spend_cents"] == 8000 and paid["cac_cents"] == 2000
    assert owned["signups"] == 1 and owned["spend_cents"] == 0
    assert owned["cac_cents"] is None and owned["roas"] is None and owned["payback_months"] is None
    assert earned["signups"] == 0 and earned["currency"] is None


def test_payback_is_null_until_the_curve_reaches_cac():
    signups, spend = ledger()
    dear = [am.Spend("spring", dt.date(2026, 1, 1), "usd", 20000)]
    (spring,) = [
        r for r in am.acquisition(signups, DEFAULTS, dear, NOW)["campaign"] if r["value"] == "spring"
    ]
    assert spring["cac_cents"] == 5000 and spring["payback_months"] is None  # 2750 after 6 months


def test_payback_pools_the_cohorts_old_enough_for_each_month():
    jan = am.Cohort(dt.date(2026, 1, 1), age=6, confirmed=4, cash_by_k={0: 1000, 1: 3000})
    mar = am.Cohort(dt.date(2026, 3, 1), age=4, confirmed=2, cash_by_k={0: 2000})
    jun = am.Cohort(dt.date(2026, 6, 1), age=1, confirmed=2, cash_by_k={})
    # k=1: (1000 + 2000 + 0) / 8 = 375; k=2: (4000 + 2000) / 6 = 1000
    assert am.payback_months([jan, mar, jun], 375) == 1
    assert am.payback_months([jan, mar, jun], 376) == 2
    assert am.payback_months([jan, mar, jun], 1001) is None
    assert am.payback_months([jan, mar, jun], None) is None


def test_a_campaigns_spend_counts_in_the_class_most_of_its_signups_fall_in():
    signups = [
        signup(1, at(2026, 1), source="embed", campaign="c"),
        signup(2, at(2026, 1), source="embed", campaign="c"),
        signup(3, at(2026, 1), utm_medium="cpc", campaign="c"),
    ]
    spend = [
        am.Spend("c", dt.date(2026, 1, 1), "eur", 900),
        am.Spend("nobody", dt.date(2026, 1, 1), "eur", 100),
    ]
    classes = {r["value"]: r["spend_cents"] for r in am.acquisition(signups, DEFAULTS, spend, NOW)["class"]}
    assert classes == {"owned": 900, "paid": 100, "earned": 0}


def test_the_value_of_a_signup_and_the_most_worth_paying():
    cohorts = [
        am.Cohort(dt.date(2025, m, 1), age=13, confirmed=10, cash_by_k={0: 10_000 * m}) for m in (1, 2, 3)
    ]  # V(12) = 1000, 2000, 3000
    value = am.value_per_signup(cohorts)
    assert value["value_horizon_months"] == 12
    assert value["value_per_signup_cents"] == 2000
    # 3 cohorts: i = 1, the range is the smallest and largest, sure = (4 - 2) / 4
    assert (value["value_low_cents"], value["value_high_cents"], value["value_sure"]) == (1000, 3000, 0.5)
    assert value["max_cac_cents"] == 1000
    # without two cohorts 12 months old, the longest horizon that has two
    young = [am.Cohort(dt.date(2026, m, 1), age=4, confirmed=1, cash_by_k={1: 100 * m}) for m in (1, 2)]
    assert am.value_per_signup(young)["value_horizon_months"] == 3
    assert am.value_per_signup(young[:1])["value_per_signup_cents"] is None


def test_order_range_is_the_distribution_free_prediction_range():
    assert am.order_range([5.0]) is None
    assert am.order_range([3.0, 1.0]) == (1.0, 3.0, 1 / 3)
    low, high, sure = am.order_range([float(v) for v in range(19)])  # type: ignore[misc]
    assert (low, high, sure) == (1.0, 17.0, 0.8)  # i = 2 of 19: (20 - 4) / 20


def test_the_backtest_projects_each_old_cohort_from_its_first_month():
    # Three alike cohorts: 100 per confirmed in month 0, then 50 a month.
    def alike(month: int) -> am.Cohort:
        return am.Cohort(
            dt.date(2024, month, 1), age=20, confirmed=2, cash_by_k={0: 200, **{k: 100 for k in range(1, 12)}}
        )

    rows = am.backtest([alike(1), alike(2), alike(3)])
    twelve = [r for r in rows if r["horizon_months"] == 12]
    assert len(twelve) == 3
    assert all(r["projected_cents"] == r["actual_cents"] == 650 and r["inside"] for r in twelve)
    summary = am.backtest_summary(rows)
    assert [(s["horizon_months"], s["cohorts"], s["inside_share"]) for s in summary] == [
        (3, 3, 1.0),
        (6, 3, 1.0),
        (12, 3, 1.0),
    ]


def simulate_cohort(rng: random.Random, month: dt.date, size: int, sid0: int) -> list[am.Signup]:
    """A known process: each month a reader starts paying 500 with chance 4%, a payer stops with 15%."""
    people = []
    for n in range(size):
        paying, cash = False, []
        for k in range(13):
            if not paying and rng.random() < 0.04:
                paying = True
            elif paying and rng.random() < 0.15:
                paying = False
            if paying:
                year, m = divmod(month.year * 12 + month.month - 1 + k, 12)
                cash.append((dt.datetime(year, m + 1, 15, tzinfo=UTC), "usd", 500))
        start = dt.datetime(month.year, month.month, 2, tzinfo=UTC)
        people.append(signup(sid0 + n, start, cash=tuple(cash)))
    return people


def test_the_projection_lands_in_its_range_at_the_stated_rate():
    rng = random.Random(25)
    trials, inside, errors = 150, 0, []
    stated = set()
    for trial in range(trials):
        # 9 reference cohorts (Oct 2024..Jun 2025, all 12+ months old on NOW) and one 3 months old
        signups: list[am.Signup] = []
        for m in range(9):
            month = dt.date(2024 + (9 + m) // 12, (9 + m) % 12 + 1, 1)
            signups += simulate_cohort(rng, month, 60, trial * 10_000 + m * 100)
        young = simulate_cohort(rng, dt.date(2026, 4, 1), 60, trial * 10_000 + 9000)
        cohorts = am.cohorts_of(signups + young, "usd", NOW)  # sees the young cohort's cash until NOW only
        target = cohorts[-1]
        assert target.age == 3
        p = am.project(target, 12, cohorts[:-1])
        assert p is not None and p["reference_cohorts"] == 9
        stated.add(p["sure"])
        true = (
            sum(c for s in young for when, _, c in s.cash if when < dt.datetime(2027, 4, 1, tzinfo=UTC)) / 60
        )
        inside += p["low_cents"] <= round(true) <= p["high_cents"]
        errors.append(p["projected_cents"] - true)
    assert stated == {0.8}  # 9 references: i = 1, (10 - 2) / 10
    share = inside / trials
    # at least the stated rate, less three standard errors of 150 trials (0.8: 0.033 each)
    assert share >= 0.8 - 0.1, share
    assert share <= 0.97, share  # a range that is not needlessly wide
    # the median projection is about right on average (the true mean 12-month value is ~1,300)
    assert abs(sum(errors) / trials) < 100


def test_sponsorship_revenue_is_shared_among_the_readers_engaged_that_month():
    nov, dec = dt.date(2026, 11, 1), dt.date(2026, 12, 1)
    credit = am.sponsorship_credit(
        {3: [nov, dec], 1: [nov], 2: [nov]}, {(nov, "usd"): 1000, (dec, "usd"): 50}
    )
    first = dt.datetime(2026, 11, 1, tzinfo=UTC)
    assert credit[1] == [(first, "usd", 334)]
    assert credit[2] == [(first, "usd", 333)]
    assert credit[3] == [(first, "usd", 333), (dt.datetime(2026, 12, 1, tzinfo=UTC), "usd", 50)]
    assert am.sponsorship_credit({}, {(nov, "usd"): 1000}) == {}
