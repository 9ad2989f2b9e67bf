"""The referrals domain: links, attribution, fraud rules, milestone rewards, the referral graph."""

import datetime as dt

from flask import Flask

# Approvals, milestones and rewards are the admins'; creators see the report without revenue.
ROLES = {
    "referrals.referral_landing": "public",
    "referrals.hub": "public",
    "referrals.share_click": "public",
    "referrals.share_copy": "public",
    "referrals.admin": "admin",
    "referrals.report_page": "creator",  # the top referrers' names and emails for admins only
    "referrals.report_csv": "creator",
    "referrals_api.list_held": "admin",
    "referrals_api.list_rings": "admin",
    "referrals_api.approve": "admin",
    "referrals_api.reject": "admin",
    "referrals_api.list_milestones": "admin",
    "referrals_api.create_milestone": "admin",
    "referrals_api.update_milestone": "admin",
    "referrals_api.grant_existing": "admin",
    "referrals_api.list_grants": "admin",
    "referrals_api.list_ladders": "admin",
    "referrals_api.create_ladder": "admin",
    "referrals_api.update_ladder": "admin",
    "referrals_api.fulfil": "admin",
    "referrals_api.referral_report": "creator",
    "referrals_api.referral_graph": "creator",
}


def init_app(app: Flask) -> None:
    """Register the referrals domain's blueprints, signal handlers, email block and commands."""
    from growth import (
        demo,
        emails,
        headline,
        panels,
        post_figures,
        referral_asks,
        reports,
        roles,
        scheduler,
        signals,
        timeline,
    )
    from growth.extensions import csrf
    from referrals import api, asks, cli, ladders, privacy, rewards, service, views, webhook_events  # noqa: F401 - rewards: its job
    from referrals import timeline as referral_timeline
    from referrals.demo import ReferralsDemo
    from referrals.headline import headline_figures
    from referrals.panels import desk_panels
    from referrals.post_figures import referral_post_figures

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)
    csrf.exempt(views.share_copy)  # a beacon from the Copy button: the signed token is its proof
    roles.register(app, ROLES)
    # weak=False: the handlers are module functions, but say plainly they live as long as the app.
    signals.subscriber_signed_up.connect(service.on_signed_up, weak=False)
    signals.subscriber_signed_up.connect(ladders.on_signed_up, weak=False)
    signals.subscriber_confirmed.connect(service.on_confirmed, weak=False)
    signals.subscriber_changed.connect(service.on_changed, weak=False)
    signals.referral_link_visit.connect(service.on_link_visit, weak=False)
    webhook_events.register()
    referral_asks.register_ask_provider(asks.render_ask)
    emails.register_context_provider(service.email_context, prefetch=service.prefetch_progress)
    reports.register_series("referred", service.referred_lookup)
    privacy.register()
    timeline.register_timeline_source(referral_timeline.referral_entries)
    post_figures.register_post_figures("referrals", referral_post_figures)
    headline.register_headline_figures("referrals", headline_figures)
    panels.register_panels("referrals", desk_panels)
    for command in cli.commands:
        app.cli.add_command(command)
    scheduler.register_scheduled("referrals-release", cli.release_work, dt.timedelta(hours=1))
    demo.register_demo_contributor(ReferralsDemo)
