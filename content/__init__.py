"""The content domain: posts, the web archive and its paywall, newsletter sends, sequences."""

import datetime as dt

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the content domain's blueprints, tasks, signal handlers, scheduled work, commands."""
    from content import (  # noqa: F401  (sending and sequence_engine define tasks)
        admin,
        api,
        cli,
        sending,
        sequence_admin,
        sequence_api,
        sequence_engine,
        sequences,
        views,
    )
    from growth import emails, scheduler, signals
    from growth.extensions import csrf

    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(sequence_admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(sequence_api.bp)
    csrf.exempt(api.bp)
    csrf.exempt(sequence_api.bp)
    for command in cli.commands:
        app.cli.add_command(command)
    emails.register_welcome_provider(sequences.welcome_content)
    for signal, handler in (
        (signals.welcome_queued, sequences.on_welcome_queued),
        (signals.subscriber_confirmed, sequences.on_confirmed),
        (signals.subscriber_imported, sequences.on_imported),
        (signals.subscriber_changed, sequences.on_changed),
        (signals.subscriber_paused, sequences.on_paused),
        (signals.subscriber_upgraded, sequences.on_upgraded),
        (signals.subscriber_cancel_scheduled, sequences.on_cancel_scheduled),
        (signals.subscriber_churned, sequences.on_churned),
    ):
        signal.connect(handler, weak=False)
    scheduler.register_scheduled("send-due", cli.send_due_work, dt.timedelta(minutes=1))
    scheduler.register_scheduled("sequences", sequence_engine.run_sequences, dt.timedelta(minutes=1))
