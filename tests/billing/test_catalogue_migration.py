"""The catalogue migration keeps what was already stored: discounts named by id, coupon ids."""

from __future__ import annotations

import json

import sqlalchemy as sa

from growth.cli import upgrade_database

_SNAPSHOT = sa.text(
    "insert into billing_subscription_snapshots (event_id, event_type, stripe_subscription_id,"
    " stripe_customer_id, at, status, unit_amount_cents, currency, interval, interval_count, quantity,"
    " extra_items_cents, discounts, cancel_at_period_end, collection_paused) values (:e,"
    " 'customer.subscription.updated', 'sub_1', 'cus_1', '2026-01-10 00:00:00.000000', 'active', 2000,"
    " 'usd', 'month', 1, 1, 0, :d, false, false)"
)
_EVENT = sa.text(
    "insert into billing_events (event_id, type, created, livemode, payload, received_at, processed_at,"
    " outcome) values (:e, :t, '2026-01-10 00:00:00.000000', false, :p, '2026-01-10 00:00:00.000000',"
    " '2026-01-10 00:00:00.000000', :o)"
)


def test_upgrade_notes_discounts_known_by_id_and_replays_ignored_coupon_events(tmp_path):
    url = f"sqlite:///{tmp_path / 'before.db'}"
    upgrade_database(url, "b001")
    engine = sa.create_engine(url)
    with engine.begin() as c:
        for event_id, discounts in (
            ("evt_s1", [{"id": "di_1", "unresolved": True}]),
            (
                "evt_s2",
                [
                    {"id": "di_1", "unresolved": True},
                    {"id": "di_2", "unresolved": True},
                ],
            ),
        ):
            c.execute(_SNAPSHOT, {"e": event_id, "d": json.dumps(discounts)})
        c.execute(
            _EVENT,
            {
                "e": "evt_d1",
                "t": "customer.discount.created",
                "p": json.dumps(
                    {"data": {"object": {"id": "di_1", "source": {"type": "coupon", "coupon": "co_1"}}}}
                ),
                "o": "unmatched",
            },
        )
        c.execute(
            _EVENT,
            {
                "e": "evt_c1",
                "t": "coupon.created",
                "p": json.dumps({"data": {"object": {"id": "co_1"}}}),
                "o": "ignored",
            },
        )
    upgrade_database(url, "heads")
    with engine.connect() as c:
        discounts = c.execute(
            sa.text(
                "select stripe_discount_id, stripe_subscription_id, stripe_coupon_id from billing_discounts"
                " order by stripe_discount_id"
            )
        ).all()
        events = c.execute(
            sa.text("select event_id, processed_at, outcome from billing_events order by event_id")
        ).all()
    engine.dispose()
    assert [tuple(r) for r in discounts] == [("di_1", "sub_1", "co_1"), ("di_2", "sub_1", None)]
    assert [tuple(r) for r in events] == [("evt_c1", None, None), ("evt_d1", events[1][1], "unmatched")]
    assert events[1][1] is not None
