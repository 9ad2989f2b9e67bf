"""Command-line tools for tiers: create, change, list, and sync them to Stripe."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from billing import gateway, retention, service
from growth import links
from growth.db import commit, db, utcnow
from growth.errors import DomainError


def _fail(exc: DomainError) -> click.ClickException:
    return click.ClickException(exc.message)


def _show(tier) -> str:  # type: ignore[no-untyped-def]
    state = "active" if tier.active else "inactive"
    return (
        f"{tier.id}\t{tier.name}\t{tier.monthly_price_cents}/month\t{tier.yearly_price_cents}/year\t"
        f"{tier.currency}\ttrial {tier.trial_days}d\t{state}\t"
        f"{tier.stripe_product_id or 'not synced'}"
    )


@click.group("tiers")
def tiers() -> None:
    """Define paid tiers (prices in integer cents)."""


@tiers.command("list")
@with_appcontext
def list_tiers() -> None:
    """Print every tier."""
    for tier in service.list_tiers(db.session):
        click.echo(_show(tier))


@tiers.command("create")
@click.argument("name")
@click.option("--monthly", "monthly", type=int, required=True, help="Monthly price in cents.")
@click.option("--yearly", "yearly", type=int, required=True, help="Yearly price in cents.")
@click.option("--currency", default="usd", show_default=True)
@click.option("--trial-days", type=int, default=0, show_default=True)
@click.option("--description", default="")
@click.option("--inactive", is_flag=True, help="Define it without offering it yet.")
@with_appcontext
def create_tier(
    name: str,
    monthly: int,
    yearly: int,
    currency: str,
    trial_days: int,
    description: str,
    inactive: bool,
) -> None:
    """Create a tier."""
    data = service.TierInput(
        name=name,
        description=description,
        monthly_price_cents=monthly,
        yearly_price_cents=yearly,
        currency=currency,
        trial_days=trial_days,
        active=not inactive,
    )
    try:
        tier = service.create_tier(db.session, data, utcnow())
    except DomainError as exc:
        raise _fail(exc) from exc
    commit()
    click.echo(_show(tier))


@tiers.command("update")
@click.argument("tier_id", type=int)
@click.option("--name")
@click.option("--monthly", type=int)
@click.option("--yearly", type=int)
@click.option("--currency")
@click.option("--trial-days", type=int)
@click.option("--description")
@click.option("--active/--inactive", default=None)
@with_appcontext
def update_tier(
    tier_id: int,
    name: str | None,
    monthly: int | None,
    yearly: int | None,
    currency: str | None,
    trial_days: int | None,
    description: str | None,
    active: bool | None,
) -> None:
    """Change a tier; run sync-tiers afterwards."""
    data = service.TierInput(
        name=name,
        description=description,
        monthly_price_cents=monthly,
        yearly_price_cents=yearly,
        currency=currency,
        trial_days=trial_days,
        active=active,
    )
    try:
        tier = service.update_tier(db.session, service.get_tier(db.session, tier_id), data, utcnow())
    except DomainError as exc:
        raise _fail(exc) from exc
    commit()
    click.echo(_show(tier))


@click.command("sync-tiers")
@with_appcontext
def sync_tiers() -> None:
    """Create or update each tier's Stripe Product, Prices and retention coupon, and the
    customer portal's configuration (cancellation reasons, cancel at period end)."""
    try:
        stripe_gateway = gateway.get_gateway()
    except DomainError as exc:
        raise _fail(exc) from exc
    failed = 0
    for tier in service.list_tiers(db.session):
        try:
            changes = service.sync_tier(db.session, stripe_gateway, tier, utcnow())
        except DomainError as exc:
            db.session.rollback()
            failed += 1
            click.echo(f"{tier.name}: {exc.message}", err=True)
            continue
        commit()  # one tier at a time: a later failure keeps the ids already stored
        click.echo(f"{tier.name}: {'; '.join(changes)}")
        try:
            made = retention.sync_retention_coupon(db.session, stripe_gateway, tier, utcnow())
        except DomainError as exc:
            db.session.rollback()
            failed += 1
            click.echo(f"{tier.name}: retention coupon: {exc.message}", err=True)
            continue
        commit()
        if made:
            click.echo(f"{tier.name}: {made}")
    try:  # the portal's cancel flow: Stripe's reasons, at period end
        click.echo(retention.sync_portal(db.session, stripe_gateway, links.absolute("/pricing"), utcnow()))
        commit()
    except DomainError as exc:
        db.session.rollback()
        failed += 1
        click.echo(f"portal configuration: {exc.message}", err=True)
    if failed:
        raise click.ClickException(f"{failed} tier(s) failed to sync")


def process_stripe_events_work(session, now, echo=None):  # type: ignore[no-untyped-def]
    """Apply stored Stripe events whose processing never finished, then fetch from Stripe the
    discounts and coupons the catalogue does not know yet (the tick runs it). Commits."""
    from billing import catalogue, webhooks

    def say(message: str, err: bool = False) -> None:
        if echo is not None:
            echo(message, err=err)

    ids = webhooks.unprocessed_event_ids(session)
    for event_row_id in ids:
        outcome = webhooks.process_event(session, event_row_id, utcnow())
        commit()
        say(f"event {event_row_id}: {outcome}")
    say(f"{len(ids)} event(s) processed")
    done: dict[str, int] = {"processed": len(ids)}
    if not gateway.is_configured():
        if catalogue.has_unknown(session):
            say("discounts or coupons wait to be fetched: STRIPE_SECRET_KEY is not set", err=True)
        return done
    subs, coupons = catalogue.fetch_unknown(session, gateway.get_gateway(), utcnow(), commit)
    say(f"catalogue: {subs} subscription(s) and {coupons} coupon(s) fetched from Stripe")
    done.update(subscriptions_fetched=subs, coupons_fetched=coupons)
    return done


@click.command("process-stripe-events")
@with_appcontext
def process_stripe_events() -> None:
    """Apply stored Stripe events whose processing never finished (e.g. a crash mid-way), then
    fetch from Stripe the discounts and coupons the catalogue does not know yet."""
    try:
        process_stripe_events_work(db.session, utcnow(), click.echo)
    except DomainError as exc:
        db.session.rollback()
        raise _fail(exc) from exc


commands = [tiers, sync_tiers, process_stripe_events]
