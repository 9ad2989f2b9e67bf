"""Commands of the content domain: send-due, a part of the tick."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from growth.db import commit, db, utcnow


def send_due_work(session: Session, now: dt.datetime) -> dict[str, int]:
    """Publish due posts, start due sends, resume stopped ones (the tick runs it every minute)."""
    from content.send_control import send_due

    figures = send_due(session, now)
    commit()
    return figures


@click.command("send-due")
@with_appcontext
def send_due_command() -> None:
    """Publish due posts, start due sends, resume stopped ones (part of `tick`)."""
    figures = send_due_work(db.session, utcnow())
    click.echo(
        "published {published} posts, started {started} sends, resumed {resumed}, "
        "{unknown} batches now unknown".format(**figures)
    )


@click.command("send-rate")
@click.argument("newsletter")
@click.argument("per_hour", required=False)
@with_appcontext
def send_rate_command(newsletter: str, per_hour: str | None) -> None:
    """Show or set a newsletter's cap on post emails per hour (`off`: no cap)."""
    from sqlalchemy import select

    from content import pacing
    from growth.errors import DomainError
    from growth.fields import parse_int
    from growth.models import Newsletter

    row = db.session.scalars(select(Newsletter).where(Newsletter.slug == newsletter)).first()
    if row is None:
        raise click.ClickException(f"no newsletter {newsletter!r}")
    if per_hour is not None:
        try:
            rate = None if per_hour == "off" else parse_int(per_hour, "PER_HOUR", 1, pacing.MAX_PER_HOUR)
            pacing.set_rate(db.session, row.id, rate, utcnow())
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        commit()
    current = pacing.rate_of(db.session, row.id)
    click.echo(f"{row.slug}: " + (f"at most {current:,} post emails per hour" if current else "no cap"))


commands = [send_due_command, send_rate_command]
