"""The billing domain."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the billing domain's blueprints, signal handlers and commands."""
    from billing import views

    app.register_blueprint(views.bp)
