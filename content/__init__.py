"""The content domain: posts, the web archive and its paywall, newsletter sends."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the content domain's blueprints, tasks and commands."""
    from content import admin, api, cli, sending, views  # noqa: F401  (sending defines tasks)

    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    from growth.extensions import csrf

    csrf.exempt(api.bp)
    for command in cli.commands:
        app.cli.add_command(command)
