"""Who may open each endpoint: one table, checked before every request, closed by default.

`public` needs nobody; `creator` needs a logged-in operator (creators and admins); `admin` needs
an admin. The core's endpoints are below; each domain adds its own with `register` in its
init_app (the core cannot import the domains). An endpoint missing from the table is refused
at run time, and a test walks the URL map so none goes missing.

A session may change state only with a CSRF token (the admin pages' forms, or an X-CSRFToken
header on the JSON API); a bearer token needs none, since no browser sends it by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, current_app, redirect, request, url_for

from growth.auth import authenticated_by, current_operator
from growth.errors import Forbidden, Unauthorized, wants_json
from growth.extensions import csrf
from growth.models import Operator

log = logging.getLogger(__name__)

PUBLIC, CREATOR, ADMIN = "public", "creator", "admin"
RANK = {PUBLIC: 0, CREATOR: 1, ADMIN: 2}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
KEY = "masthead_roles"

CORE = {
    "static": PUBLIC,
    # the reader's side: signup, confirm, unsubscribe, their own page (each behind a signed link)
    "public.subscribe_form": PUBLIC,
    "public.subscribe": PUBLIC,
    "public.embed_snippet": PUBLIC,
    "public.confirm": PUBLIC,
    "public.unsubscribe_page": PUBLIC,
    "public.unsubscribe": PUBLIC,
    "public.manage": PUBLIC,
    "privacy.reader_data": PUBLIC,  # the reader's own data and "erase me", behind /me's signed link
    "privacy.reader_erase": PUBLIC,
    "engagement.keep_me": PUBLIC,
    "engagement.sendgrid_events": PUBLIC,  # signed by SendGrid
    "api.signup_preflight": PUBLIC,
    "api.create_subscriber": PUBLIC,
    "api.openapi": PUBLIC,
    # operators
    "admin.login": PUBLIC,
    "admin.logout": PUBLIC,
    "admin.dashboard": CREATOR,  # the headline and panels for everyone; revenue for admins
    "admin.panel_csv": CREATOR,  # a revenue panel's answers 403 to creators
    "account.account": CREATOR,  # each operator's own password and sessions
    "account.change_password": CREATOR,
    "account.sign_out_everywhere": CREATOR,
    # subscriber personal data, the outbox (which holds every reader's links), API tokens
    "admin.outbox": ADMIN,
    "admin.outbox_message": ADMIN,
    "account.tokens": ADMIN,
    "account.create_token": ADMIN,
    "account.revoke_token": ADMIN,
    "api.list_subscribers": ADMIN,
    "api.get_subscriber": ADMIN,
    "api.erase_subscriber": ADMIN,
    "api.erase_subscriber_post": ADMIN,
    "api.subscriber_data": ADMIN,
    "privacy.subscribers_csv": ADMIN,
    "privacy.admin_subscriber_data": ADMIN,
    "privacy.admin_erase_subscriber": ADMIN,
    "api.lift_suppression": ADMIN,
    "api.import_csv": ADMIN,
    "api.import_members": ADMIN,
    "people.import_members_page": ADMIN,
    "people.import_members": ADMIN,
    "engagement.subscriber_engagement": ADMIN,
    # reports: the funnel is counts; cohorts and growth carry revenue
    "reports.funnel": CREATOR,
    "reports.cohorts": ADMIN,
    "reports.growth": ADMIN,
    "reports.value_pitch": CREATOR,  # counts, no revenue
    "people.subscriber_list": ADMIN,
    "people.subscriber_page": ADMIN,
    "people.resend_confirmation": ADMIN,
    "people.change_newsletters": ADMIN,
    # the publication itself: branding, newsletters
    "desk.branding_page": ADMIN,
    "desk.branding_save": ADMIN,
    "desk.newsletter_list": ADMIN,
    "desk.newsletter_create": ADMIN,
    "desk.newsletter_page": ADMIN,
    "desk.newsletter_daily_csv": ADMIN,
    "desk.newsletter_save": ADMIN,
    "desk.newsletter_archive": ADMIN,
    "newsletter_api.list_newsletters": ADMIN,
    "newsletter_api.create_newsletter": ADMIN,
    "newsletter_api.get_newsletter": ADMIN,
    "newsletter_api.update_newsletter": ADMIN,
    "newsletter_api.archive_newsletter": ADMIN,
    "newsletter_api.restore_newsletter": ADMIN,
    "field_admin.field_list": ADMIN,
    "field_admin.field_create": ADMIN,
    "field_admin.field_save": ADMIN,
    "field_api.list_fields": ADMIN,
    "field_api.create_field": ADMIN,
    "field_api.update_field": ADMIN,
    "field_api.set_subscriber_fields": ADMIN,
}


def init_app(app: Flask) -> None:
    """Start the app's table with the core's endpoints and check every request against it."""
    app.extensions[KEY] = dict(CORE)
    app.before_request(enforce)
    app.context_processor(lambda: {"may_open": may_open})


def register(app: Flask, roles: Mapping[str, str]) -> None:
    """A domain names the role of each of its endpoints (called from its init_app)."""
    table: dict[str, str] = app.extensions[KEY]
    for endpoint, role in roles.items():
        if role not in RANK:
            raise ValueError(f"{endpoint}: unknown role {role!r}")
        if table.get(endpoint, role) != role:
            raise ValueError(f"{endpoint} already has the role {table[endpoint]!r}")
        table[endpoint] = role


def role_of(endpoint: str, app: Flask | None = None) -> str | None:
    """The role an endpoint needs, or None when the table does not name it."""
    return (app or current_app).extensions[KEY].get(endpoint)  # type: ignore[no-any-return]


def has_role(operator: Operator | None, role: str) -> bool:
    """Whether this operator (None: nobody) may open what needs `role`."""
    if role == PUBLIC:
        return True
    return operator is not None and RANK.get(operator.role, 0) >= RANK[role]


def may_open(endpoint: str) -> bool:
    """For templates: show a link only to those who may follow it."""
    role = role_of(endpoint)
    return role is not None and has_role(current_operator(), role)


def enforce():  # type: ignore[no-untyped-def]
    """before_request: refuse what the table does not allow (routing errors pass through)."""
    endpoint = request.endpoint
    if endpoint is None:
        return None
    role = role_of(endpoint)
    if role is None:
        log.error("endpoint %s has no role in growth.roles: refused", endpoint)
        raise Forbidden("This endpoint is closed.", code="no_role")
    if role == PUBLIC:
        return None
    operator = current_operator()
    if operator is None:
        if wants_json():
            raise Unauthorized("A valid bearer token (or an operator's session) is required.")
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    if not has_role(operator, role):
        raise Forbidden(f"This needs the {role} role.")
    if authenticated_by() == "session" and request.method not in SAFE_METHODS:
        csrf.protect()  # also on the JSON API, which is exempt for bearer tokens
    return None
