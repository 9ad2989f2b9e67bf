"""The referrals domain."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the referrals domain's blueprints, signal handlers and commands."""
    from referrals import views

    app.register_blueprint(views.bp)
