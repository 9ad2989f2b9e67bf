"""Outgoing webhooks: endpoints, an outbox of events, signed deliveries with retries, their log.

Events are written in the unit of work of the change that caused them (`events.emit`), handed
to a worker after commit (RQ with Redis, a short-lived thread without), retried from the tick.
Domains register their event types and payload schemas (`registry.register_event_type`) and
emit them from their own code or signals; this package never imports a domain.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask


def init_app(app: Flask) -> None:
    """Event types, the delivery runtime, the worker task, the tick's retries, API and admin pages."""
    from growth import roles, scheduler
    from growth.extensions import csrf
    from growth.outgoing import core_events, models, outbox, views, workers  # noqa: F401 - models: tables

    core_events.register()
    app.extensions[outbox.KEY] = outbox.Runtime(dispatch=workers.default_dispatch)
    app.register_blueprint(views.api_bp)
    app.register_blueprint(views.admin_bp)
    csrf.exempt(views.api_bp)
    roles.register(app, views.ROLES)
    scheduler.register_scheduled("webhooks", workers.run_due, dt.timedelta(0))  # every tick
