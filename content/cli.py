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


commands = [send_due_command]
