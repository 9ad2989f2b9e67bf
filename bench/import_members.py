"""Benchmark: importing another platform's member export (Ghost's format) at N rows.

A Ghost members CSV of N readers (9 in 10 subscribed, 1 in 10 not, 1 in 100 paying through a
Stripe customer held by the local Stripe fake, with one subscription each) is imported into a
fresh SQLite file (or BENCH_DATABASE_URL, which is WIPED): first a dry run, then the import,
then the same file again. Prints wall time and rows per second of each, and how many Stripe
requests each made (the dry run and the re-run make none). Asserts nothing about speed.

    .venv/bin/python bench/import_members.py [10000 100000 ...]      # default: 10,000 and 100,000
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.send import fresh_database  # noqa: E402

HEADER = (  # Ghost's members export, as tests/growth/platform_exports.py has it
    "id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,"
    "created_at,deleted_at,labels,tiers"
)


def export_file(n: int, fake) -> str:  # type: ignore[no-untyped-def]
    """A Ghost members export of n readers; every hundredth pays through a customer in `fake`."""
    from tests.fakes.stripe import subscription

    lines = [HEADER]
    for i in range(n):
        customer = ""
        if i % 100 == 0:
            customer = fake.add_customer(f"reader{i}@example.com")["id"]
            fake.add_subscription(subscription(customer=customer, price_id="price_bench", unit_amount=800))
        subscribed = "false" if i % 10 == 9 else "true"
        lines.append(
            f"{i:024x},reader{i}@example.com,Reader {i},,{subscribed},false,{customer},"
            "2024-01-01T00:00:00.000Z,,,"
        )
    return "\n".join(lines) + "\n"


def one_size(n: int) -> dict[str, float]:
    from growth import member_imports, platforms
    from growth.app import create_app
    from growth.config import Config
    from growth.db import commit, db, utcnow
    from tests.fakes.stripe import FakeStripe

    fake = FakeStripe().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = fresh_database(Path(tmp))
            config = Config.from_env(
                {},
                database_url=url,
                instance_path=Path(tmp),
                secret_key="bench",
                redis_url=None,
                stripe_secret_key="sk_test_bench",
                stripe_api_base=fake.url,
            )
            app = create_app(config)
            logging.getLogger().setLevel(logging.WARNING)
            text = export_file(n, fake)
            figures: dict[str, float] = {}
            with app.app_context():
                for name, dry_run in (("dry run", True), ("import", False), ("again", False)):
                    fake.requests.clear()
                    started = time.perf_counter()
                    report = member_imports.import_members(
                        db.session, "ghost", platforms.parse_export("ghost", text), utcnow(), dry_run=dry_run
                    )
                    if dry_run:
                        db.session.rollback()
                    else:
                        commit()
                    figures[name] = time.perf_counter() - started
                    figures[f"{name} stripe"] = len(fake.requests)
                    figures[f"{name} new"] = report.new
                    figures[f"{name} linked"] = report.paid_linked
                db.session.close()
            db.engine.dispose()
            figures["database"] = 0 if url.startswith("sqlite") else 1
            return figures
    finally:
        fake.stop()


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    print(
        f"{'rows':>9} {'dry run s':>9} {'rows/s':>8} {'import s':>8} {'rows/s':>8} {'linked':>6} "
        f"{'stripe req':>10} {'again s':>7} {'rows/s':>8} {'req':>4}  database"
    )
    for n in sizes:
        f = one_size(n)
        assert f["dry run new"] == n and f["import new"] == n and f["again new"] == 0, f
        print(
            f"{n:>9,} {f['dry run']:>9.1f} {n / f['dry run']:>8,.0f} {f['import']:>8.1f} "
            f"{n / f['import']:>8,.0f} {f['import linked']:>6.0f} {f['import stripe']:>10.0f} "
            f"{f['again']:>7.1f} {n / f['again']:>8,.0f} {f['again stripe'] + f['dry run stripe']:>4.0f}  "
            f"{'sqlite' if not f['database'] else 'postgresql'}"
        )


if __name__ == "__main__":
    main()
