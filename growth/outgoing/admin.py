"""/admin/webhooks: endpoints, their events and secrets, the delivery log, resend and test."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from growth.db import commit, db, utcnow
from growth.errors import DomainError
from growth.outgoing import registry, service
from growth.params import query_int

bp = Blueprint("webhooks_admin", __name__, url_prefix="/admin/webhooks")


def _form_data(with_active: bool) -> dict[str, Any]:
    form = request.form
    data: dict[str, Any] = {
        "url": form.get("url", ""),
        "description": form.get("description", ""),
        "events": form.getlist("events"),
    }
    if with_active:
        data["active"] = form.get("active") == "on"
    return data


def _list_page(error: str | None = None, new_secret: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template(
        "admin/webhooks.html",
        endpoints=service.list_endpoints(db.session),
        event_types=registry.event_types(),
        error=error,
        new_secret=new_secret,
        form=request.form if error else {},
    ), status


@bp.get("")
def endpoints():  # type: ignore[no-untyped-def]
    """Every endpoint, and a form to add one."""
    return _list_page()


@bp.post("")
def create():  # type: ignore[no-untyped-def]
    """Register an endpoint; its secret is shown once on the page that follows."""
    try:
        endpoint = service.create_endpoint(db.session, _form_data(False), utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _list_page(exc.message, status=422)
    commit()
    return _endpoint_page(endpoint.id, new_secret=endpoint.secret, status=201)


def _endpoint_page(
    endpoint_id: int, *, error: str | None = None, new_secret: str | None = None, status: int = 200
):  # type: ignore[no-untyped-def]
    endpoint = service.get_endpoint(db.session, endpoint_id)
    before = query_int(request.args, "before", None)
    log = service.delivery_log(db.session, endpoint, before)
    return render_template(
        "admin/webhook.html",
        endpoint=endpoint,
        event_types=registry.event_types(),
        log=log,
        next_before=log[-1][0].id if len(log) == service.LOG_PAGE else None,
        pending=service.pending_count(db.session, endpoint),
        error=error,
        new_secret=new_secret,
    ), status


@bp.get("/<id:endpoint_id>")
def endpoint(endpoint_id: int):  # type: ignore[no-untyped-def]
    """One endpoint: its settings, secret rotation, test event and delivery log."""
    return _endpoint_page(endpoint_id)


@bp.post("/<id:endpoint_id>")
def update(endpoint_id: int):  # type: ignore[no-untyped-def]
    """Save url, description, events and active."""
    endpoint = service.get_endpoint(db.session, endpoint_id)
    try:
        service.update_endpoint(db.session, endpoint, _form_data(True), utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _endpoint_page(endpoint_id, error=exc.message, status=422)
    commit()
    flash("Saved.")
    return redirect(url_for(".endpoint", endpoint_id=endpoint_id))


@bp.post("/<id:endpoint_id>/rotate")
def rotate(endpoint_id: int):  # type: ignore[no-untyped-def]
    """A new secret, shown once; the old one signs beside it for 24 hours."""
    endpoint = service.get_endpoint(db.session, endpoint_id)
    secret = service.rotate_secret(db.session, endpoint, utcnow())
    commit()
    return _endpoint_page(endpoint_id, new_secret=secret)


@bp.post("/<id:endpoint_id>/delete")
def delete(endpoint_id: int):  # type: ignore[no-untyped-def]
    """Remove the endpoint and its log."""
    service.delete_endpoint(db.session, service.get_endpoint(db.session, endpoint_id))
    commit()
    flash("Endpoint deleted.")
    return redirect(url_for(".endpoints"))


@bp.post("/<id:endpoint_id>/test")
def test(endpoint_id: int):  # type: ignore[no-untyped-def]
    """Send a webhook.test event now."""
    endpoint = service.get_endpoint(db.session, endpoint_id)
    try:
        service.send_test(db.session, endpoint, utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _endpoint_page(endpoint_id, error=exc.message, status=422)
    commit()
    flash("Test event sent: its attempt shows below within a few seconds (reload).")
    return redirect(url_for(".endpoint", endpoint_id=endpoint_id))


@bp.post("/<id:endpoint_id>/deliveries/<id:delivery_id>/resend")
def resend(endpoint_id: int, delivery_id: int):  # type: ignore[no-untyped-def]
    """Send a past event again, same webhook-id."""
    endpoint = service.get_endpoint(db.session, endpoint_id)
    try:
        service.resend(db.session, endpoint, delivery_id, utcnow())
    except DomainError as exc:
        db.session.rollback()
        if exc.status == 404:
            raise
        return _endpoint_page(endpoint_id, error=exc.message, status=422)
    commit()
    flash("Queued again.")
    return redirect(url_for(".endpoint", endpoint_id=endpoint_id))
