"""Commands of the content domain: the scheduler's tick."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from growth.db import commit, db, utcnow


@click.command("send-due")
@with_appcontext
def send_due_command() -> None:
    """Publish due posts, start due sends, resume stopped ones (run from cron every minute)."""
    from content.send_control import send_due

    figures = send_due(db.session, utcnow())
    commit()
    click.echo(
        "published {published} posts, started {started} sends, resumed {resumed}, "
        "{unknown} batches now unknown".format(**figures)
    )


commands = [send_due_command]
