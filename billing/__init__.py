"""The billing domain: tiers, Stripe checkout, portal, webhooks, subscription mirror, revenue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from growth.models import Subscriber


# Tiers may be read by creators (a post's audience); managing them and revenue is the admins'.
ROLES = {
    "billing.pricing": "public",
    "billing.upgrade": "public",
    "billing.upgrade_for": "public",
    "billing.billing_page": "public",
    "billing.checkout": "public",
    "billing.gift_checkout": "public",
    "billing.gift_page": "public",
    "billing.redeem_gift": "public",
    "billing.portal": "public",
    "billing.cancel": "public",
    "billing.pause": "public",
    "billing.switch_to_yearly": "public",
    "billing_api.cancellations": "admin",
    "billing_webhooks.stripe_webhook": "public",  # signed by Stripe
    "billing_admin.tiers": "admin",
    "billing_admin.tier": "admin",
    "billing_admin.revenue": "admin",
    "billing_api.list_tiers": "creator",
    "billing_api.get_tier": "creator",
    "billing_api.create_tier": "admin",
    "billing_api.update_tier": "admin",
    "billing_api.revenue": "admin",
    "billing_api.attribution_view": "admin",
    "billing_api.ledger": "admin",
    "billing_admin.bill_booking": "admin",
    "billing_api.bill_booking": "admin",
    "billing_api.give_comp": "admin",
    "billing_api.list_offers": "admin",
    "billing_api.create_offer": "admin",
    "billing_api.end_offer": "admin",
    "billing_admin.give_comp": "admin",
    "billing_admin.offers_page": "admin",
    "billing_admin.end_offer": "admin",
    "billing_admin.end_grant": "admin",
}


def init_app(app: Flask) -> None:
    """Register the billing domain's gateway, blueprints, commands and lookups."""
    from billing import (  # noqa: F401  (webhooks: tasks; attribution_api: routes on api.bp)
        admin,
        api,
        attribution_api,
        attribution_panels,
        attribution_report,
        cli,
        gateway,
        gifts,
        grants,
        moving_in,
        privacy,
        report_series,
        service,
        sponsorship_models,
        sponsorships,
        views,
        webhook_events,
        webhooks,
    )
    from billing import reports as billing_reports
    from billing import timeline as billing_timeline
    from billing.demo import BillingDemo
    from growth import (
        access,
        attribution_touches,
        demo,
        emails,
        paid_members,
        panels,
        post_figures,
        reports,
        roles,
        scheduler,
        timeline,
    )
    from growth import sponsorships as growth_sponsorships
    from growth.extensions import csrf

    gateway.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(views.webhooks_bp)
    app.register_blueprint(api.bp, name="billing_api")
    app.register_blueprint(admin.bp)
    # Stripe signs webhooks; the API authenticates with bearer tokens like the core API.
    csrf.exempt(views.webhooks_bp)
    csrf.exempt(api.bp)
    roles.register(app, ROLES)
    for command in cli.commands:
        app.cli.add_command(command)
    emails.register_context_provider(email_links)
    access.register_tier_lookup(service.paying_tier_lookup)
    access.register_grant_lookup(grants.granted_tier_lookup)
    access.register_grants_of(grants.grant_summaries)
    access.register_revenue_lookup(service.revenue_lookup)
    access.register_cash_lookup(billing_reports.cash_lookup)
    attribution_touches.register_touches("billing", attribution_report.paywall_starts)
    access.register_attribution(attribution_report.report)
    post_figures.register_post_figures("billing", attribution_report.post_figures)
    panels.register_panels("attribution", attribution_panels.desk_panels)
    webhook_events.register()
    reports.register_series("paid_history", report_series.paid_history)
    reports.register_series("mrr", report_series.mrr_at)
    reports.register_series("mrr_movements", report_series.mrr_movements)
    privacy.register()
    growth_sponsorships.register_payments(sponsorships.payments_lookup)
    access.register_tier_names(billing_timeline.tier_names)
    timeline.register_timeline_source(billing_timeline.payments)
    access.register_tiers_on_offer(service.tier_names)
    scheduler.register_scheduled(
        "process-stripe-events", cli.process_stripe_events_work, dt.timedelta(minutes=5)
    )
    scheduler.register_scheduled("gift-invitations", gifts.invitations_work, dt.timedelta(hours=1))
    demo.register_demo_contributor(BillingDemo)
    paid_members.register(
        paid_members.PaidMembers(
            owners=moving_in.customer_owners,
            untiered=moving_in.untiered_customers,
            link=moving_in.link_imported_customer,
            assign_tier=moving_in.assign_tier,
            problem=moving_in.payments_problem,
        )
    )


def email_links(_session: Session, _subscriber: Subscriber, context: Mapping[str, Any]) -> dict[str, str]:
    """Every email may link to the subscriber's pricing and billing pages (under /me/<token>)."""
    manage_url = context["manage_url"]
    return {"upgrade_url": f"{manage_url}/upgrade", "billing_url": f"{manage_url}/billing"}
