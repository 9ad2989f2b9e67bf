"""The application factory: a short list of named steps."""

from __future__ import annotations

import gc
import importlib
from pathlib import Path

from flask import Flask
from werkzeug.local import LocalProxy
from werkzeug.middleware.proxy_fix import ProxyFix

from growth import branding, jobs, logs, mailer, roles, security, throttle
from growth.config import Config
from growth.db import db
from growth.errors import register_errorhandlers
from growth.extensions import csrf, limiter
from growth.params import IdConverter

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = ("referrals", "billing", "content")


def freeze_startup_heap() -> None:
    """Leave what start-up built (modules, the app, its metadata) out of cyclic collections.

    A process serving requests or sending batches keeps these objects until it exits, yet every
    full collection walks all of them again: about a fifth of the time of a 100,000-reader send.
    Called once the app is built (wsgi.py, which the server and the worker load); what becomes
    garbage later is collected as usual.
    """
    gc.collect()
    gc.freeze()


def create_app(config: Config | None = None) -> Flask:
    """Build the Masthead app from a Config (the environment's when None)."""
    config = config or Config.from_env()
    config.validate()
    app = Flask(
        "masthead",
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(config.instance_path),
    )
    configure(app, config)
    register_converters(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_webhooks(app)
    register_domains(app)
    register_scheduled_work(app)
    register_observability(app)
    return app


def configure(app: Flask, config: Config) -> None:
    """Flask settings derived from our Config; proxies trusted only as configured."""
    app.config["MASTHEAD"] = config
    app.config["SECRET_KEY"] = config.secret_key
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = config.base_url.startswith("https://")
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    app.config["RATELIMIT_STORAGE_URI"] = config.redis_url or "memory://"
    app.config["RATELIMIT_KEY_PREFIX"] = config.extra.get("ratelimit_prefix", "masthead")
    app.config["RATELIMIT_HEADERS_ENABLED"] = True
    app.config["RATELIMIT_ENABLED"] = config.extra.get("ratelimit", "on") != "off"
    # Redis down: the same limits, counted in this process's memory until Redis answers again
    # (flask-limiter checks it with backoff); never an error page because of the counter.
    app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True
    app.config["RATELIMIT_SWALLOW_ERRORS"] = True
    if config.redis_url:
        app.config["RATELIMIT_STORAGE_OPTIONS"] = {"socket_connect_timeout": 2, "socket_timeout": 2}
    app.json.sort_keys = False  # type: ignore[attr-defined]
    logs.configure_logging(config.is_production)
    if config.trusted_proxy_count > 0:
        n = config.trusted_proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]


def register_converters(app: Flask) -> None:
    """`<id:...>` in routes: ids bounded to the database's integer range (growth.params)."""
    app.url_map.converters["id"] = IdConverter


def register_extensions(app: Flask) -> None:
    """Security headers, database, roles (before CSRF), CSRF, rate limits, login throttle, jobs, mail."""
    security.init_app(app)
    db.init_app(app)
    roles.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    throttle.init_app(app)
    jobs.init_app(app)
    mailer.init_app(app)
    # Pages read the stored branding only when they show it (LocalProxy: at first attribute).
    app.context_processor(lambda: {"branding": LocalProxy(branding.current)})


def register_blueprints(app: Flask) -> None:
    """The growth core's pages and API; public JSON and one-click endpoints skip CSRF."""
    from growth.views import (
        account,
        acquisition,
        admin,
        api,
        desk,
        field_admin,
        field_api,
        newsletter_api,
        partner_api,
        partners,
        people,
        privacy,
        public,
        reports,
        webhooks,
    )

    app.register_blueprint(public.bp)
    app.register_blueprint(privacy.bp)  # not exempt: the reader's erase form carries a CSRF token
    app.register_blueprint(api.bp)
    app.register_blueprint(newsletter_api.bp)
    app.register_blueprint(field_api.bp)
    app.register_blueprint(field_admin.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(desk.bp)
    app.register_blueprint(people.bp)
    csrf.exempt(public.bp)
    csrf.exempt(api.bp)
    app.register_blueprint(reports.bp)  # GET only
    csrf.exempt(newsletter_api.bp)  # growth.roles asks a session for its CSRF token
    csrf.exempt(field_api.bp)
    app.register_blueprint(webhooks.bp)
    csrf.exempt(webhooks.bp)
    app.register_blueprint(partner_api.bp)
    csrf.exempt(partner_api.bp)
    app.register_blueprint(partners.bp)
    roles.register(app, {**partner_api.ROLES, **partners.ROLES})
    app.register_blueprint(acquisition.bp)  # the admins' forms carry CSRF tokens
    app.register_blueprint(acquisition.api_bp)
    csrf.exempt(acquisition.api_bp)  # growth.roles asks a session for its CSRF token
    roles.register(app, acquisition.ROLES)
    acquisition.register_panels()


def register_commands(app: Flask) -> None:
    """flask --app wsgi <command>."""
    from growth.cli import commands

    for command in commands:
        app.cli.add_command(command)


def register_webhooks(app: Flask) -> None:
    """Outgoing webhooks, before the domains: they register their event types with it."""
    from growth import outgoing

    outgoing.init_app(app)


def register_domains(app: Flask) -> None:
    """Each domain plugs in through its own init_app (blueprints, signals, commands)."""
    for name in DOMAINS:
        importlib.import_module(name).init_app(app)


def register_scheduled_work(app: Flask) -> None:
    """The core's own periodic work in the tick (domains add theirs in their init_app)."""
    import datetime as dt

    from growth import redelivery, rollup_series, rollups, scheduler, signals, signup_setup, sunset

    # The report rollups hear of every change to a subscriber and refresh them in the tick.
    for signal in (
        signals.subscriber_signed_up,
        signals.subscriber_confirmed,
        signals.subscriber_changed,
        signals.subscriber_upgraded,
        signals.subscriber_churned,
    ):
        signal.connect(rollups.on_subscriber_signal, weak=False)

    scheduler.register_scheduled("engagement", sunset.run_engagement, dt.timedelta(days=1))
    scheduler.register_scheduled("transactional-retry", redelivery.retry_queued_transactional)
    scheduler.register_scheduled("unfinished-signups", signup_setup.sweep_unfinished_signups)
    scheduler.register_scheduled("report-rollups", rollups.rollup_work, dt.timedelta(0))  # every tick
    scheduler.register_scheduled("report-rollups-daily", rollups.daily_work, dt.timedelta(days=1))
    scheduler.register_scheduled("report-billing", rollup_series.billing_series_work, dt.timedelta(minutes=5))


def register_observability(app: Flask) -> None:
    """Logs with a request id (JSON lines in production), /healthz, /readyz and /metrics."""
    from growth import telemetry
    from growth.views import ops

    logs.init_app(app, observers=[telemetry.observe_request])
    telemetry.init_app(app)
    app.register_blueprint(ops.bp)
    roles.register(app, ops.ROLES)
