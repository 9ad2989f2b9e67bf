"""For operators' machines, not people: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, redirect, url_for

from growth import health, telemetry
from growth.errors import error_body

bp = Blueprint("ops", __name__)

# The probes and the scrape keep no session and ask for no login; /metrics checks its callers.
ROLES = {
    "ops.healthz": "public",
    "ops.readyz": "public",
    "ops.metrics": "public",
    "ops.favicon": "public",
}


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """Liveness: the process answers (nothing else is asked, so a lost database is not a restart)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    """Readiness: 200 when every check holds, else 503 naming what is wrong."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    checks = health.readiness(app)
    failing = [f"{name}: {c['error']}" for name, c in checks.items() if not c["ok"]]
    if not failing:
        return jsonify({"status": "ready", "checks": checks})
    body = {"status": "unavailable", "checks": checks, **error_body("unavailable", "; ".join(failing))}
    return jsonify(body), 503, {"Retry-After": "5", "Cache-Control": "no-store"}


@bp.get("/metrics")
def metrics():  # type: ignore[no-untyped-def]
    """Prometheus exposition; loopback, METRICS_ALLOW_FROM or the METRICS_TOKEN bearer, else 403."""
    if not telemetry.metrics_request_allowed():
        message = "Metrics are answered to loopback, METRICS_ALLOW_FROM or the METRICS_TOKEN bearer only."
        return jsonify(error_body("forbidden", message)), 403
    body, content_type = telemetry.render_metrics(current_app._get_current_object())  # type: ignore[attr-defined]
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


@bp.get("/favicon.ico")
def favicon():  # type: ignore[no-untyped-def]
    """Browsers and feed readers ask for /favicon.ico whatever the page says: point them at the icon."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)
