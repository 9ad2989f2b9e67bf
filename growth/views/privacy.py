"""A reader's data: their own download and "erase me" on /me, the admin's export and erasure.

Not exempt from CSRF: the reader's erase form carries a token like the admin's forms do.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, redirect, render_template, request, url_for

from growth import exports, links, privacy, subscribers
from growth.csvout import csv_response
from growth.db import commit, db, lock_row, utcnow
from growth.errors import DomainError, NotFound
from growth.models import Subscriber
from growth.tokens import read_token

bp = Blueprint("privacy", __name__)


def _download(document: dict, subscriber_id: int) -> Response:
    body = json.dumps(document, ensure_ascii=False, indent=2)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="subscriber-{subscriber_id}-data.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _reader(token: str, *, for_update: bool = False) -> Subscriber:
    payload = read_token("data", token, max_age=links.DATA_LINK_MAX_AGE)
    return subscribers.subscriber_for_token(db.session, payload, for_update=for_update)


def _link_problem(exc: DomainError):  # type: ignore[no-untyped-def]
    return render_template("growth/link_problem.html", message=exc.message, code=exc.code), 400


@bp.get("/me/<token>/data")
def reader_data(token: str):  # type: ignore[no-untyped-def]
    """The reader's own data as a JSON download (a day-long signed link from their /me page)."""
    try:
        subscriber = _reader(token)
    except DomainError as exc:
        return _link_problem(exc)
    return _download(privacy.export_subscriber(db.session, subscriber, utcnow()), subscriber.id)


@bp.route("/me/<token>/erase", methods=["GET", "POST"])
def reader_erase(token: str):  # type: ignore[no-untyped-def]
    """GET asks once more; POST (with the form's CSRF token) erases, and the link dies with it."""
    try:
        subscriber = _reader(token, for_update=request.method == "POST")
    except DomainError as exc:
        return _link_problem(exc)
    if request.method == "GET":
        manage_url = links.manage_url(subscriber)
        return render_template(
            "growth/erase_confirm.html", subscriber=subscriber, token=token, manage_url=manage_url
        )
    privacy.erase_subscriber(db.session, subscriber, utcnow())
    commit()
    return render_template("growth/erased.html")


@bp.get("/admin/subscribers.csv")
def subscribers_csv():  # type: ignore[no-untyped-def]
    """The filtered subscriber list (`status`, `email`, as the API's) as a streamed CSV."""
    where = exports.subscriber_filters(request.args)
    commit()  # the request's own writes first: pages then read each in a short transaction
    rows = exports.iter_subscriber_rows(db.session, where)
    return csv_response("subscribers.csv", exports.HEADER, rows)


def _subscriber(subscriber_id: int, *, for_update: bool = False) -> Subscriber:
    found = (
        lock_row(db.session, Subscriber, subscriber_id)
        if for_update
        else db.session.get(Subscriber, subscriber_id)
    )
    if found is None:
        raise NotFound("No such subscriber.")
    return found


@bp.get("/admin/subscribers/<id:subscriber_id>/data")
def admin_subscriber_data(subscriber_id: int):  # type: ignore[no-untyped-def]
    """One subscriber's data as a JSON download (a data-access request answered by an admin)."""
    subscriber = _subscriber(subscriber_id)
    return _download(privacy.export_subscriber(db.session, subscriber, utcnow()), subscriber.id)


@bp.route("/admin/subscribers/<id:subscriber_id>/erase", methods=["GET", "POST"])
def admin_erase_subscriber(subscriber_id: int):  # type: ignore[no-untyped-def]
    """GET shows what erasure does and asks; POST erases (final)."""
    if request.method == "GET":
        return render_template("admin/erase_subscriber.html", subscriber=_subscriber(subscriber_id))
    subscriber = _subscriber(subscriber_id, for_update=True)
    privacy.erase_subscriber(db.session, subscriber, utcnow())
    commit()
    return redirect(url_for("privacy.admin_erase_subscriber", subscriber_id=subscriber.id))
