"""`flask --app wsgi newsletters ...`: list, create, update, archive, restore."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from growth import newsletters
from growth.db import commit, db, utcnow
from growth.errors import DomainError
from growth.models import Newsletter


@click.group("newsletters")
def group() -> None:
    """The publication's newsletters."""


def _by_slug(slug: str) -> Newsletter:
    found = db.session.scalars(select(Newsletter).where(Newsletter.slug == slug)).first()
    if found is None:
        raise click.ClickException(f"no newsletter with the slug {slug!r}")
    return found


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@group.command("list")
@with_appcontext
def list_command() -> None:
    """One line per newsletter: slug, name, members, state."""
    for f in newsletters.all_newsletters(db.session):
        n = f.newsletter
        state = f"archived {n.archived_at:%Y-%m-%d}" if n.archived_at else "offered"
        flag = " (default)" if n.is_default else ""
        click.echo(f"{n.slug}\t{n.name}{flag}\t{f.active} active, {f.pending} pending\t{state}")
    commit()


def _run(action: Any) -> Newsletter:
    try:
        newsletter: Newsletter = action()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    commit()
    return newsletter


@group.command("create")
@click.argument("name")
@click.option("--slug")
@click.option("--description")
@click.option("--sender-name")
@click.option("--reply-to")
@with_appcontext
def create_command(
    name: str, slug: str | None, description: str | None, sender_name: str | None, reply_to: str | None
) -> None:
    """A new newsletter, offered at signup at once."""
    values = _given(name=name, slug=slug, description=description, sender_name=sender_name, reply_to=reply_to)
    n = _run(lambda: newsletters.create_newsletter(db.session, values, utcnow()))
    click.echo(f"newsletter {n.slug} created (id {n.id})")


@group.command("update")
@click.argument("slug")
@click.option("--name")
@click.option("--description")
@click.option("--sender-name", help="empty text clears it")
@click.option("--reply-to", help="empty text clears it")
@with_appcontext
def update_command(
    slug: str, name: str | None, description: str | None, sender_name: str | None, reply_to: str | None
) -> None:
    """Rename, describe, set the sender name or reply-to."""
    values = _given(name=name, description=description, sender_name=sender_name, reply_to=reply_to)
    if not values:
        raise click.UsageError("nothing to change: give --name, --description, --sender-name or --reply-to")
    n = _run(lambda: newsletters.update_newsletter(db.session, _by_slug(slug), values))
    click.echo(f"newsletter {n.slug} updated")


@group.command("archive")
@click.argument("slug")
@with_appcontext
def archive_command(slug: str) -> None:
    """Offer it to nobody from now on."""
    n = _run(lambda: newsletters.archive_newsletter(db.session, _by_slug(slug), utcnow()))
    click.echo(f"newsletter {n.slug} archived")


@group.command("restore")
@click.argument("slug")
@with_appcontext
def restore_command(slug: str) -> None:
    """Offer an archived newsletter again."""
    n = _run(lambda: newsletters.restore_newsletter(db.session, _by_slug(slug)))
    click.echo(f"newsletter {n.slug} offered again")
