"""Benchmark: webhook floods end where a clean delivery ends.

10,000 SendGrid events and 1,000 Stripe events (tests/floods.py builds them as each provider
sends them) are delivered twice through the real webhook endpoints with valid signatures: once
clean (each event once, in time order, SendGrid's in batches of 100) into one database, once as a
flood (10% of them twice, everything shuffled, SendGrid's in batches of 1 to 100) into another,
both seeded identically and run at the same simulated instant. Then every table is compared row
for row (tests/floods.py: snapshot) and events per second are printed.

Against fresh SQLite files, or the database in BENCH_DATABASE_URL (wiped before each delivery).

    .venv/bin/python bench/floods.py [--sendgrid 10000] [--stripe 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.send import fresh_database  # noqa: E402


def one_delivery(name: str, scenario, posts, keys, tmp: Path):  # type: ignore[no-untyped-def]
    """A fresh database, the posts delivered into it; (seconds, snapshot)."""
    from growth.app import create_app
    from growth.config import Config
    from growth.db import db
    from tests import floods

    folder = tmp / name
    folder.mkdir()
    url = fresh_database(folder)
    config = Config.from_env(
        {},
        database_url=url,
        instance_path=folder,
        outbox_dir=folder / "outbox",
        secret_key="bench" * 8,
        base_url="http://masthead.bench",
        extra={"ratelimit": "off"},
        **floods.config_overrides(keys),
    )
    app = create_app(config)
    seconds, state = floods.run(app, scenario, posts, keys)
    assert db.engine is not None
    db.engine.dispose()
    return seconds, state, url.split(":")[0]


def main() -> None:
    import logging

    from tests import floods

    logging.disable(logging.INFO)  # one line per suppression and dunning email otherwise

    parser = argparse.ArgumentParser()
    parser.add_argument("--sendgrid", type=int, default=10_000)
    parser.add_argument("--stripe", type=int, default=1_000)
    parser.add_argument("--examples", type=int, default=3, help="differing rows shown per table")
    args = parser.parse_args()

    scenario = floods.build_scenario(
        floods.instant(), sendgrid_events=args.sendgrid, stripe_events=args.stripe
    )
    keys = floods.Keys()
    ordered, flooded = floods.ordered_posts(scenario), floods.flooded_posts(scenario)
    with tempfile.TemporaryDirectory(prefix="masthead-bench-floods-") as tmp:
        clean_s, clean_state, database = one_delivery("ordered", scenario, ordered, keys, Path(tmp))
        flood_s, flood_state, _ = one_delivery("flooded", scenario, flooded, keys, Path(tmp))
    n_clean, n_flood = floods.count_events(ordered), floods.count_events(flooded)
    print(
        f"{len(scenario.sendgrid):,} SendGrid + {len(scenario.stripe):,} Stripe events, "
        f"{scenario.subscribers:,} subscribers, {len(scenario.deliveries):,} messages; database {database}"
    )
    print(
        f"clean:   {n_clean:,} events in {len(ordered):,} requests, "
        f"{clean_s:.1f} s ({n_clean / clean_s:.0f} events/s)"
    )
    print(
        f"flooded: {n_flood:,} events ({n_flood - n_clean:,} repeats) in {len(flooded):,} requests, "
        f"{flood_s:.1f} s ({n_flood / flood_s:.0f} events/s)"
    )
    counts = floods.row_counts(clean_state)
    print("rows compared: " + ", ".join(f"{t} {n:,}" for t, n in sorted(counts.items())))
    sensitive = floods.differences(clean_state, flood_state, examples=args.examples)
    problems = floods.differences(
        floods.strict(clean_state), floods.strict(flood_state), examples=args.examples
    )
    if problems:
        print("DIFFERENT end states:")
        for line in problems:
            print("  " + line)
        raise SystemExit(1)
    print(
        f"same end state: {len(counts)} tables, {sum(counts.values()):,} rows equal "
        f"(outside the order-sensitive columns of tests/floods.py)"
    )
    if sensitive:
        print("order-sensitive parts (expected; see ORDER_SENSITIVE):")
        for line in sensitive:
            print("  " + line)


if __name__ == "__main__":
    main()
