"""The content domain."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the content domain's blueprints, signal handlers and commands."""
    from content import views

    app.register_blueprint(views.bp)
