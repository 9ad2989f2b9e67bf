"""The content domain: posts, the web archive and its paywall, newsletter sends, sequences."""

import datetime as dt

from flask import Flask

# Creators write, schedule and send; a subscriber-by-subscriber view is personal data (admins).
ROLES = {
    "content.home": "public",
    "content.post_page": "public",
    "content.feed": "public",
    "content.image": "public",
    "content.poll_answer": "public",  # behind its signed token
    "content.poll_preview": "public",
    "content_admin.poll_list": "creator",
    "content_admin.poll_page": "creator",
    "content_desk.preview_web": "creator",
    "content_desk.preview_email": "creator",
    "content_desk.upload_image": "creator",
    "content_reports.post_report_api": "creator",  # creators get it without the revenue columns
    "content_reports.post_report_page": "creator",
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
    "content_admin.send_decide": "creator",
    "content_admin.send_rate": "creator",  # who sends warms the domain up
    "content_admin.value_to_pitch": "admin",
    "content_admin.complaints": "creator",  # who sends sees why a send is held
    "content_admin.complaint_confirm": "admin",  # lifting a pause is the admins' call
    "content_api.list_posts": "creator",
    "content_api.create_post": "creator",
    "content_api.get_post": "creator",
    "content_api.update_post": "creator",
    "content_api.send_preview": "creator",
    "content_api.create_send": "creator",
    "content_api.test_send": "creator",
    "content_api.get_send": "creator",
    "content_api.cancel_send": "creator",
    "content_api.decide_send": "creator",
    "content_api.resend_batch": "creator",
    "content_api.send_to_skipped": "creator",
    "content_api.value_to_pitch": "admin",
    "sequence_admin.sequence_list": "creator",
    "sequence_admin.sequence_create": "creator",
    "sequence_admin.sequence_page": "creator",
    "sequence_admin.sequence_state": "creator",
    "sequence_admin.step_new": "creator",
    "sequence_admin.step_edit": "creator",
    "sequence_admin.step_move": "creator",
    "sequence_api.list_sequences": "creator",
    "sequence_api.create_sequence": "creator",
    "sequence_api.get_sequence": "creator",
    "sequence_api.update_sequence": "creator",
    # Sponsorships are money: the admins'. The sponsor's report opens from its signed link.
    "content.sponsor_report": "public",
    "content.media_kit_page": "public",
    "sponsor_admin.rate_set": "admin",
    "sponsor_admin.rate_delete": "admin",
    "sponsor_admin.sponsorships_page": "admin",
    "sponsor_admin.sponsor_create": "admin",
    "sponsor_admin.booking_create": "admin",
    "sponsor_admin.calendar_page": "admin",
    "sponsor_admin.booking_page": "admin",
    "sponsor_admin.booking_cancel": "admin",
    "sponsor_api.cancel_booking": "admin",
    "sponsor_api.list_sponsors": "admin",
    "sponsor_api.create_sponsor": "admin",
    "sponsor_api.list_bookings": "admin",
    "sponsor_api.create_booking": "admin",
    "sponsor_api.get_booking": "admin",
    "sponsor_api.calendar": "admin",
    "sponsor_api.sponsors_report": "admin",
}


def init_app(app: Flask) -> None:
    """Register the content domain's blueprints, tasks, signal handlers, scheduled work, commands."""
    from content import (  # noqa: F401  (sending, sequence_engine and complaint_guard define tasks)
        admin,
        api,
        cli,
        complaint_guard,
        desk,
        image_store,
        poll_syntax,
        privacy,
        report_series,
        report_views,
        sending,
        sequence_admin,
        sequence_api,
        sequence_engine,
        sequences,
        sponsor_admin,
        sponsor_api,
        sponsor_models,
        sponsorships,
        touches,
        views,
        webhook_events,
    )
    from content import demo as content_demo
    from growth import attribution_touches, demo, emails, notices, reports, roles, scheduler, signals
    from growth import sponsorships as growth_sponsorships
    from growth.extensions import csrf

    app.register_blueprint(views.bp)
    app.add_template_filter(poll_syntax.for_web, "web_polls")
    app.register_blueprint(admin.bp)
    app.register_blueprint(desk.bp)
    app.register_blueprint(report_views.bp)
    csrf.exempt(report_views.bp)  # GET only
    image_store.init_app(app)
    app.register_blueprint(sequence_admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(sequence_api.bp)
    app.register_blueprint(sponsor_admin.bp)
    app.register_blueprint(sponsor_api.bp)
    csrf.exempt(sponsor_api.bp)
    csrf.exempt(api.bp)
    csrf.exempt(sequence_api.bp)
    roles.register(app, ROLES)
    webhook_events.register()
    for command in cli.commands:
        app.cli.add_command(command)
    emails.register_welcome_provider(sequences.welcome_content)
    reports.register_series("landing_posts", report_series.landing_posts)
    attribution_touches.register_touches("content", touches.post_touches)
    attribution_touches.register_post_titles(touches.post_titles)
    privacy.register()
    growth_sponsorships.register_charge(sponsorships.charge_lookup)
    for signal, handler in (
        (signals.welcome_queued, sequences.on_welcome_queued),
        (signals.subscriber_confirmed, sequences.on_confirmed),
        (signals.subscriber_imported, sequences.on_imported),
        (signals.subscriber_changed, sequences.on_changed),
        (signals.subscriber_paused, sequences.on_paused),
        (signals.subscriber_upgraded, sequences.on_upgraded),
        (signals.subscriber_cancel_scheduled, sequences.on_cancel_scheduled),
        (signals.subscriber_churned, sequences.on_churned),
        (signals.field_value_set, sequences.on_field_set),
        (signals.subscriber_kept, sequences.on_kept),
    ):
        signal.connect(handler, weak=False)
    scheduler.register_scheduled("send-due", cli.send_due_work, dt.timedelta(0))  # every tick
    scheduler.register_scheduled("sequences", sequence_engine.run_sequences, dt.timedelta(0))  # every tick
    scheduler.register_scheduled("complaint-guard", complaint_guard.run_guard, complaint_guard.EVERY)
    notices.register_admin_notice(complaint_guard.admin_notices)
    demo.register_demo_contributor(content_demo.ContentDemo)
