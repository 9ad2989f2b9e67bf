"""What a sponsored send did and earned, on hand-built histories (no app, no database)."""

from __future__ import annotations

import pytest

from content.sponsor_metrics import SponsorEvent, SponsorFigures, earned_cents, sponsor_figures, sponsor_links

LINK = "https://acme.example/try?a=1&b=2"
OTHER = "https://publication.example/p/post"

# Six deliveries (1..6). By hand:
# delivered: 1, 2, 3, 4, 5 (6 bounced)                                  -> 5
# opens: 1 human twice, 2 machine only, 3 machine then human, 4 human   -> human 3 (1, 3, 4), all 4
# clicks on the sponsor: 1 twice (one reader, one click), 2 by a scanner only,
#   3 by a scanner and then by the reader, 4 on the post's own link only  -> human 2 (1, 3)
HISTORY = [
    SponsorEvent(1, "delivered"),
    SponsorEvent(2, "delivered"),
    SponsorEvent(3, "delivered"),
    SponsorEvent(4, "delivered"),
    SponsorEvent(5, "delivered"),
    SponsorEvent(6, "bounce"),
    SponsorEvent(1, "open"),
    SponsorEvent(1, "open"),
    SponsorEvent(2, "open", is_machine=True),
    SponsorEvent(3, "open", is_machine=True),
    SponsorEvent(3, "open"),
    SponsorEvent(4, "open"),
    SponsorEvent(1, "click", url=LINK),
    SponsorEvent(1, "click", url=LINK),
    SponsorEvent(2, "click", is_scanner=True, url=LINK),
    SponsorEvent(3, "click", is_scanner=True, url=LINK),
    SponsorEvent(3, "click", url=LINK),
    SponsorEvent(4, "click", url=OTHER),
]


def test_figures_by_hand():  # type: ignore[no-untyped-def]
    figures = sponsor_figures(HISTORY, {LINK})
    assert figures == SponsorFigures(delivered=5, human_opens=3, all_opens=4, human_clicks=2)


def test_links_of_a_sanitised_creative_are_unescaped():  # type: ignore[no-untyped-def]
    html = '<p>Try <a href="https://acme.example/try?a=1&amp;b=2" rel="noopener noreferrer">Acme</a></p>'
    assert sponsor_links(html) == {LINK}


def test_flat_earns_its_price_whatever_happened():  # type: ignore[no-untyped-def]
    assert earned_cents("flat", 50_000, SponsorFigures()) == 50_000
    assert earned_cents("flat", 50_000, sponsor_figures(HISTORY, {LINK})) == 50_000


def test_per_click_counts_unique_human_clicks_only():  # type: ignore[no-untyped-def]
    # 2 human clicks (the scanner-only delivery and the repeat click do not count) at 150 cents
    assert earned_cents("per_click", 150, sponsor_figures(HISTORY, {LINK})) == 300
    assert earned_cents("per_click", 150, sponsor_figures(HISTORY, {"https://elsewhere.example"})) == 0


@pytest.mark.parametrize(
    ("delivered", "price", "cents"),
    [
        (5, 2_500, 13),  # 5 x 2,500 / 1000 = 12.5 -> 13 (half up)
        (1_234, 2_500, 3_085),  # 3,085.0
        (1_001, 999, 1_000),  # 999.999 -> 1,000
        (1_000, 1, 1),
        (499, 1, 0),  # 0.499 -> 0
        (500, 1, 1),  # 0.5 -> 1
        (0, 2_500, 0),
    ],
)
def test_per_thousand_delivered_rounds_half_up(delivered, price, cents):  # type: ignore[no-untyped-def]
    assert earned_cents("per_thousand", price, SponsorFigures(delivered=delivered)) == cents


def test_per_thousand_on_the_history():  # type: ignore[no-untyped-def]
    # 5 delivered at 2,000 cents per thousand: 10 cents
    assert earned_cents("per_thousand", 2_000, sponsor_figures(HISTORY, {LINK})) == 10


def test_unknown_pricing_is_an_error():  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        earned_cents("per_view", 1, SponsorFigures())


def test_audience_rates_by_hand():  # type: ignore[no-untyped-def]
    from content.sponsor_metrics import AudienceRates, audience_rates

    assert audience_rates(200, 50, 10) == AudienceRates(200, 0.25, 0.05)
    assert audience_rates(0, 0, 0) == AudienceRates(0, None, None)


def test_sponsor_totals_keep_currencies_apart():  # type: ignore[no-untyped-def]
    from content.sponsor_metrics import sponsor_totals

    rows = [
        {"sponsor": "B", "currency": "usd", "earned_cents": 100, "paid_cents": 100},
        {"sponsor": "A", "currency": "eur", "earned_cents": 40, "paid_cents": 0},
        {"sponsor": "A", "currency": "usd", "earned_cents": 5, "paid_cents": 5},
        {"sponsor": "A", "currency": "eur", "earned_cents": 2, "paid_cents": 2},
    ]
    assert sponsor_totals(rows) == [
        {
            "sponsor": "A",
            "bookings": 3,
            "currencies": [
                {"currency": "eur", "earned_cents": 42, "paid_cents": 2},
                {"currency": "usd", "earned_cents": 5, "paid_cents": 5},
            ],
        },
        {
            "sponsor": "B",
            "bookings": 1,
            "currencies": [{"currency": "usd", "earned_cents": 100, "paid_cents": 100}],
        },
    ]
