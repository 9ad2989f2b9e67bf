"""The content domain: posts, the web archive and its paywall, newsletter sends."""

from flask import Flask

# Creators write, schedule and send; a subscriber-by-subscriber view is personal data (admins).
ROLES = {
    "content.home": "public",
    "content.post_page": "public",
    "content.feed": "public",
    "content_admin.post_list": "creator",
    "content_admin.post_new": "creator",
    "content_admin.post_edit": "creator",
    "content_admin.post_preview": "creator",
    "content_admin.post_send": "creator",
    "content_admin.post_test": "creator",
    "content_admin.send_page": "creator",
    "content_admin.send_resend_batch": "creator",
    "content_admin.send_skipped": "creator",
    "content_admin.send_cancel": "creator",
    "content_admin.value_to_pitch": "admin",
    "content_api.list_posts": "creator",
    "content_api.create_post": "creator",
    "content_api.get_post": "creator",
    "content_api.update_post": "creator",
    "content_api.send_preview": "creator",
    "content_api.create_send": "creator",
    "content_api.test_send": "creator",
    "content_api.get_send": "creator",
    "content_api.cancel_send": "creator",
    "content_api.resend_batch": "creator",
    "content_api.send_to_skipped": "creator",
    "content_api.value_to_pitch": "admin",
}


def init_app(app: Flask) -> None:
    """Register the content domain's blueprints, tasks and commands."""
    from content import admin, api, cli, sending, views  # noqa: F401  (sending defines tasks)

    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    from growth import roles
    from growth.extensions import csrf

    csrf.exempt(api.bp)
    roles.register(app, ROLES)
    for command in cli.commands:
        app.cli.add_command(command)
