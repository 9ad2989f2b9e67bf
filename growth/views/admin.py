"""Operator pages: login, the dashboard, subscribers, the local outbox."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from growth import branding, csvout, headline, headline_metrics, jobs, notices, panels
from growth.auth import SESSION_KEY, authenticate, current_operator, end_session, start_session
from growth.db import commit, db, reports_session, utcnow
from growth.errors import Forbidden
from growth.extensions import client_ip
from growth.models import Operator
from growth.roles import ADMIN, has_role
from growth.throttle import login_throttle

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Browsers drop tabs and newlines from a URL and read "\\" as "/", so "/\t/evil.example" goes
# off-site; any control character, space or backslash makes a `next` unfit to follow.
_UNSAFE_IN_PATH = re.compile(r"[\x00-\x20\x7f\\]")


def same_site_path(target: str | None) -> str | None:
    """`target` when it is a path on this site (no scheme, host or tricks), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or _UNSAFE_IN_PATH.search(target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.app_context_processor
def worker_status() -> dict[str, object]:
    """admin/base.html asks, when it renders: do emails wait for a worker, does the branding lack anything?"""
    return {
        "worker_warning": jobs.worker_warning,
        "branding_warning": lambda: branding.warning(branding.current()),
        "admin_notices": lambda: notices.admin_notices(db.session),
    }


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    """Session login (CSRF-protected, throttled per account and IP)."""
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("admin/login.html", form=form, error=None)
    email, password, ip = form.email.data or "", form.password.data or "", client_ip()
    throttle = login_throttle()
    wait = throttle.retry_after(email, ip)
    if wait is not None:
        page = render_template("admin/login.html", form=form, error="Too many attempts, try again later.")
        return page, 429, {"Retry-After": str(wait)}
    operator = authenticate(db.session, email, password)
    if operator is None:
        throttle.failed(email, ip)
        return render_template("admin/login.html", form=form, error="Wrong email or password."), 401
    throttle.succeeded(email, ip)
    log_in(operator)
    commit()
    return redirect(same_site_path(request.args.get("next")) or url_for("admin.dashboard"))


def log_in(operator: Operator) -> None:
    """A fresh login session for this browser (nothing of an earlier session carries over)."""
    session.clear()
    session[SESSION_KEY] = start_session(db.session, operator, client_ip(), request.headers.get("User-Agent"))


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    """End this session for good: a copy of the cookie no longer logs anyone in."""
    secret = session.get(SESSION_KEY)
    if isinstance(secret, str):
        end_session(db.session, secret)
        commit()
    session.clear()
    return redirect(url_for("admin.login"))


@bp.get("/")
def dashboard():  # type: ignore[no-untyped-def]
    """The headline: what the business lives on, each figure against the previous period."""
    config = current_app.config["MASTHEAD"]
    now, admin = utcnow(), has_role(current_operator(), ADMIN)
    read = reports_session()
    figures, computed_at = headline.current_headline(db.session, now, config.engaged_window_days, read)
    charts = panels.current_panels(db.session, now, config.engaged_window_days, read)
    if not admin:  # revenue is the admins'
        figures = [f for f in figures if not f.revenue]
        charts = [p for p in charts if not p.revenue]
    commit()  # what was computed is kept for the next few minutes
    return render_template(
        "admin/dashboard.html",
        operator=current_operator(),
        figures=figures,
        computed_at=computed_at,
        panels=charts,
        period_days=headline_metrics.PERIOD_DAYS,
        total=headline.total_subscribers(read),
        fmt=headline_metrics.format_value,
        fmt_change=headline_metrics.format_change,
        base_url=config.base_url,
    )


@bp.get("/panels/<panel_id>.csv")
def panel_csv(panel_id: str):  # type: ignore[no-untyped-def]
    """One desk panel's numbers as CSV (revenue panels: admins only)."""
    config = current_app.config["MASTHEAD"]
    charts = panels.current_panels(db.session, utcnow(), config.engaged_window_days, reports_session())
    commit()
    found = next((p for p in charts if p.id == panel_id), None)
    if found is None:
        abort(404)
    if found.revenue and not has_role(current_operator(), ADMIN):
        raise Forbidden("This needs the admin role.")
    return csvout.csv_response(f"{found.id}.csv", [found.label, *found.series.columns], found.series.rows())


def _outbox_files() -> list[Path]:
    directory = Path(current_app.config["MASTHEAD"].outbox_dir)
    if not directory.exists():
        return []
    return sorted(directory.glob("*.eml"), reverse=True)


@bp.get("/outbox")
def outbox():  # type: ignore[no-untyped-def]
    """The local outbox: every message the outbox backend wrote."""
    items = []
    for path in _outbox_files()[:200]:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        items.append(
            {
                "name": path.name,
                "to": msg["To"],
                "subject": msg["Subject"],
                "kind": msg["X-Masthead-Kind"],
                "date": msg["Date"],
            }
        )
    return render_template(
        "admin/outbox.html", items=items, backend=current_app.config["MASTHEAD"].mail_backend
    )


@bp.get("/outbox/<name>")
def outbox_message(name: str):  # type: ignore[no-untyped-def]
    """One message of the outbox, headers and text."""
    match = next((p for p in _outbox_files() if p.name == name), None)
    if match is None:
        abort(404)
    msg = email.message_from_bytes(match.read_bytes(), policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain",))
    return render_template(
        "admin/outbox_message.html",
        name=name,
        headers=list(msg.items()),
        text=body.get_content() if body else "",
    )
