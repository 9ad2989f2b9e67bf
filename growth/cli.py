"""Command-line tools: migrations, operators, tokens, the worker."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from growth import auth
from growth.db import commit, db
from growth.demo import seed_demo_command
from growth.errors import DomainError

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str):  # type: ignore[no-untyped-def]
    """Alembic's config pointed at our migrations and the given database."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade_database(database_url: str, revision: str = "heads") -> None:
    """Apply every migration to the database."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


@click.command("db-upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply migrations to DATABASE_URL."""
    upgrade_database(current_app.config["MASTHEAD"].database_url)
    from growth import branding
    from growth.db import db, utcnow

    if branding.seed(db.session, current_app.config["MASTHEAD"], utcnow()):
        db.session.commit()
        click.echo("branding stored from PUBLICATION_* (edit it at /admin/branding from now on)")
    click.echo("database is up to date")


@click.command("create-operator")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", type=click.Choice(auth.ROLES), default="admin", show_default=True)
@with_appcontext
def create_operator(email: str, password: str, role: str) -> None:
    """Create an operator who can log in at /admin/login."""
    try:
        operator = auth.create_operator(db.session, email, password, role)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    commit()
    click.echo(f"operator {operator.email} ({operator.role}) created")


def _operator(email: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from growth.models import Operator

    operator = db.session.scalars(select(Operator).where(Operator.email == email.strip().lower())).first()
    if operator is None:
        raise click.ClickException(f"no operator {email}")
    return operator


@click.command("create-token")
@click.argument("email")
@with_appcontext
def create_token(email: str) -> None:
    """Create an API bearer token for an operator; the token is the last line printed."""
    operator = _operator(email)
    token = auth.create_token(db.session, operator)
    commit()
    click.echo(f"token for {operator.email} (shown once, stored hashed):")
    click.echo(token)


@click.command("list-tokens")
@with_appcontext
def list_tokens() -> None:
    """Every API token: number, prefix, operator, created, last used, revoked."""
    for row in auth.list_tokens(db.session):
        used = row.last_used_at.strftime("%Y-%m-%d %H:%M") if row.last_used_at else "never"
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "live"
        click.echo(
            f"{row.id}\t{row.prefix}\t{row.operator.email}\tcreated {row.created_at:%Y-%m-%d %H:%M}"
            f"\tused {used}\t{state}"
        )


@click.command("revoke-token")
@click.argument("token")
@with_appcontext
def revoke_token(token: str) -> None:
    """Revoke an API token by its number, its prefix (as list-tokens shows it) or the token itself."""
    from growth.db import utcnow

    try:
        row = auth.revoke_token(db.session, token, utcnow())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    commit()
    click.echo(
        f"token {row.id} ({row.prefix}) of {row.operator.email} revoked at {row.revoked_at:%Y-%m-%d %H:%M}"
    )


@click.command("set-password")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def set_password(email: str, password: str) -> None:
    """Give an operator a new password; all of their sessions end (API tokens stay)."""
    operator = _operator(email)
    try:
        ended = auth.set_password(db.session, operator, password)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    commit()
    click.echo(f"password of {operator.email} changed; {ended} session(s) ended")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_appcontext
def worker(burst: bool) -> None:
    """Run an RQ worker for email sends and webhook processing (needs REDIS_URL)."""
    queue = current_app.extensions.get("masthead_queue")
    if queue is None:
        raise click.ClickException("REDIS_URL is not set: jobs already run in process")
    from growth import jobs, scheduler, signup_setup

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # The one-minute tick runs beside the worker (the lease makes several workers harmless), and
    # with SIGNUP_FINISH=sweep the signup finisher (each signup's row lock makes them harmless too).
    stops = [] if burst else [scheduler.start_in_background(app), signup_setup.start_finisher(app)]
    try:
        jobs.run_worker(queue, burst=burst)  # survives Redis going away and coming back
    finally:
        for stop in stops:
            if stop is not None:
                stop.set()


@click.command("tick")
@click.option("--only", multiple=True, help="Run just this task now, due or not (repeatable).")
@with_appcontext
def tick_command(only: tuple[str, ...]) -> None:
    """Run every piece of scheduled work that is due, once (cron fallback: every minute)."""
    from growth import scheduler

    known = {t.name for t in scheduler.scheduled()}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise click.ClickException(f"no scheduled task {unknown[0]!r}; known: {', '.join(sorted(known))}")
    report = scheduler.tick(only=list(only) or None)
    if not report.leased:
        click.echo("another tick holds the lease: nothing done")
        return
    for name, outcome in report.ran.items():
        click.echo(f"{name}: {outcome}")
    for name, error in report.failed.items():
        click.echo(f"{name}: FAILED {error}", err=True)
    if not report.ran and not report.failed:
        click.echo("nothing due")


@click.command("scheduler")
@click.option("--interval", default=60.0, show_default=True, help="Seconds between ticks.")
@with_appcontext
def scheduler_command(interval: float) -> None:
    """Tick every minute until stopped (`make scheduler`; with or without Redis)."""
    import signal
    import threading

    from growth import scheduler

    stop = threading.Event()
    # SIGTERM (systemctl stop, docker stop) lets the tick under way finish, then ends the loop;
    # without a handler the process died mid-tick, or as a container's PID 1 ignored it.
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    click.echo(f"ticking every {interval:g}s; Ctrl-C or SIGTERM stops")
    try:
        scheduler.run_loop(current_app._get_current_object(), stop, interval)  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        stop.set()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int) -> None:
    """The development server (`make run`), ticking every minute in its process (not with SCHEDULER=off)."""
    from growth import scheduler

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = scheduler.start_in_background(app)
    from werkzeug.serving import run_simple

    try:
        # run_simple, not app.run: Flask ignores app.run() inside a `flask` command.
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        if stop is not None:
            stop.set()


@click.command("prepare-server")
@with_appcontext
def prepare_server() -> None:
    """Run by `make run` before serving: record the base URL for other commands, say what else runs."""
    config = current_app.config["MASTHEAD"]
    config.remember_base_url()
    click.echo(f"emails link to {config.base_url} (commands without BASE_URL use it too)")
    if config.redis_url:
        click.echo(
            "REDIS_URL is set: every email, confirmations included, waits in the queue "
            "until a worker runs (make worker)"
        )


@click.command("import-subscribers")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--confirmed", is_flag=True, help="They opted in elsewhere: import as active, send nothing.")
@click.option("--newsletter", "newsletters", multiple=True, help="Newsletter slug (repeatable).")
@click.option("--enrol", is_flag=True, help="With --confirmed: start their 'confirmed' sequences.")
@with_appcontext
def import_subscribers(csv_file, confirmed: bool, newsletters: tuple[str, ...], enrol: bool) -> None:  # type: ignore[no-untyped-def]
    """Import subscribers from a CSV file with an email column."""
    from growth import imports
    from growth.db import utcnow

    if enrol and not confirmed:
        raise click.ClickException("--enrol needs --confirmed (pending subscribers enrol when they confirm)")
    try:
        report = imports.import_subscribers(
            db.session,
            imports.parse_csv(csv_file.read()),
            utcnow(),
            confirmed=confirmed,
            newsletter_slugs=list(newsletters),
            label=f"csv:{csv_file.name}",
            enrol=enrol,
            refuse_disposable=current_app.config["MASTHEAD"].disposable_emails == "refuse",
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    commit()
    click.echo(
        f"created {report.created}, already known {report.existing}, erased {report.erased}, "
        f"invalid {len(report.invalid)}, "
        f"confirmations queued {report.confirmations_queued}"
    )
    for row in report.invalid[:50]:
        click.echo(f"  line {row['line']}: {row['email']!r}: {row['reason']}")


@click.command("import-members")
@click.option(
    "--platform",
    required=True,
    type=click.Choice(["substack", "beehiiv", "ghost", "kit"]),
    help="Whose export the file is.",
)
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--newsletter", "newsletters", multiple=True, help="Newsletter slug (repeatable).")
@click.option(
    "--tier",
    "tier_id",
    type=click.IntRange(1, 2147483647),
    help="Tier id for paid members whose Stripe prices no tier knows (the old platform's prices).",
)
@with_appcontext
def import_members(
    csv_file, platform: str, dry_run: bool, newsletters: tuple[str, ...], tier_id: int | None
) -> None:  # type: ignore[no-untyped-def]
    """Import another platform's member export: free and paid members, their standing kept."""
    from growth import member_imports, platforms
    from growth.db import utcnow

    try:
        report = member_imports.import_members(
            db.session,
            platform,
            platforms.parse_export(platform, csv_file.read()),
            utcnow(),
            dry_run=dry_run,
            newsletter_slugs=list(newsletters),
            label=f"{platform}:{Path(csv_file.name).name}"[:100],
            refuse_disposable=current_app.config["MASTHEAD"].disposable_emails == "refuse",
            tier_id=tier_id,
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    except UnicodeDecodeError as exc:
        raise click.ClickException("The file must be UTF-8.") from exc
    if dry_run:
        db.session.rollback()
    else:
        commit()
    for line in member_imports.report_lines(report):
        click.echo(line)


@click.command("rebuild-rollups")
@with_appcontext
def rebuild_rollups() -> None:
    """Recompute the report rollups from the whole history (safe to run at any time)."""
    import json

    from growth import rollups
    from growth.db import utcnow

    result = rollups.rebuild(db.session, utcnow())
    commit()
    click.echo(json.dumps(result))


@click.command("backup")
@click.argument("dump", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(dump: Path) -> None:
    """pg_dump DATABASE_URL to DUMP (custom format), and DUMP.json: row counts, report totals."""
    from growth import backups
    from growth.db import utcnow

    config = current_app.config["MASTHEAD"]
    try:
        manifest = backups.backup(config.database_url, dump, utcnow(), config.engaged_window_days)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    rows = sum(manifest["counts"].values())
    click.echo(f"{dump}: {rows:,} rows in {len(manifest['counts'])} tables; figures in {dump}.json")


@click.command("verify-restore")
@click.argument("dump", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--into", default=None, help="Database to create and restore into (default: <db>_restore_check)."
)
@click.option("--keep", is_flag=True, help="Keep the restored database instead of dropping it.")
@with_appcontext
def verify_restore_command(dump: Path, into: str | None, keep: bool) -> None:
    """Restore DUMP into a fresh database; compare every table's rows and the reports' totals."""
    from growth import backups

    try:
        found, problems = backups.verify_restore(
            current_app.config["MASTHEAD"].database_url, dump, into, keep
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    rows = sum(found["counts"].values())
    for line in problems:
        click.echo(line, err=True)
    if problems:
        raise click.ClickException(f"the restore differs from the backup in {len(problems)} ways")
    click.echo(f"restore verified: {len(found['counts'])} tables, {rows:,} rows and the report totals match")


commands = [
    backup_command,
    verify_restore_command,
    seed_demo_command,
    db_upgrade,
    rebuild_rollups,
    create_operator,
    create_token,
    list_tokens,
    revoke_token,
    set_password,
    worker,
    prepare_server,
    import_subscribers,
    import_members,
    tick_command,
    scheduler_command,
    serve,
]


def _newsletter_group() -> click.Group:
    from growth.newsletter_cli import group

    return group


commands.append(_newsletter_group())
