"""Floods of duplicated, shuffled webhooks end where a clean ordered delivery ends (PostgreSQL).

A smaller bench/floods.py: 1,500 SendGrid and 150 Stripe events, 10% of them twice, shuffled,
through the real endpoints with valid signatures, against a clean delivery of the same events;
both into a database of their own on the test server, wiped between the two.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from growth.cli import upgrade_database
from growth.db import db, make_engine
from tests import floods
from tests.conftest import USING_POSTGRES

pytestmark = pytest.mark.skipif(not USING_POSTGRES, reason="commits floods of rows: PostgreSQL leg only")


@pytest.fixture
def flood_database(database_url: str) -> Iterator[str]:
    """A database beside the test database, dropped afterwards."""
    url = make_url(database_url)
    name = f"{url.database}_flood"
    admin = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _wiped(url: str) -> str:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade_database(url)
    return url


def test_a_flood_ends_where_a_clean_delivery_ends(flood_database, own_app) -> None:  # type: ignore[no-untyped-def]
    scenario = floods.build_scenario(floods.instant(), sendgrid_events=1500, stripe_events=150, seed=3)
    keys = floods.Keys()
    ordered, flooded = floods.ordered_posts(scenario), floods.flooded_posts(scenario, seed=4)
    assert floods.count_events(flooded) == round(1650 * 1.1)

    states = []
    for posts in (ordered, flooded):
        app = own_app(_wiped(flood_database), **floods.config_overrides(keys))
        states.append(floods.run(app, scenario, posts, keys)[1])
        assert db.engine is not None
        db.engine.dispose()
    clean, flood = states

    counts = floods.row_counts(clean)
    assert counts["email_events"] == 1500  # every event stored once, repeats included
    assert counts["billing_events"] == 150
    assert counts["billing_subscriptions"] > 5 and counts["billing_invoices"] > 20
    assert {s for row in clean["subscribers"] for c, s in row if c == "status"} > {"active"}
    assert floods.differences(floods.strict(clean), floods.strict(flood)) == []
