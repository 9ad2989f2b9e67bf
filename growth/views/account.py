"""The operator's own account (password, sessions) and the admins' API token page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField
from wtforms.validators import DataRequired

from growth import auth
from growth.db import commit, db, utcnow
from growth.errors import DomainError
from growth.models import Operator
from growth.views.admin import log_in

bp = Blueprint("account", __name__, url_prefix="/admin")


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField("New password (at least 10 characters)", validators=[DataRequired()])
    repeated = PasswordField("New password again", validators=[DataRequired()])


class TokenForm(FlaskForm):
    operator = SelectField("For", coerce=int)


def _me() -> Operator:
    operator = auth.current_operator()
    assert operator is not None  # growth.roles let only operators in
    return operator


def _account_page(form: PasswordForm, error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    me = _me()
    return render_template(
        "admin/account.html",
        operator=me,
        form=form,
        error=error,
        sessions=auth.sessions_of(db.session, me),
        current=auth.session_id(db.session, session.get(auth.SESSION_KEY)),
    ), status


@bp.get("/account")
def account():  # type: ignore[no-untyped-def]
    """Change your password, see your open sessions, sign out everywhere."""
    return _account_page(PasswordForm())


@bp.post("/account/password")
def change_password():  # type: ignore[no-untyped-def]
    """A new password ends every session; this browser is logged in again with a fresh one."""
    form = PasswordForm()
    if not form.validate_on_submit():
        return _account_page(form, "Fill in all three fields.", 422)
    me = _me()
    try:
        auth.change_password(
            db.session, me, form.current.data or "", form.new.data or "", form.repeated.data or ""
        )
    except DomainError as exc:
        db.session.rollback()
        return _account_page(form, exc.message, exc.status)
    log_in(me)
    commit()
    flash("Password changed. Every other session has ended; API tokens are unchanged.")
    return redirect(url_for("account.account"), code=303)


@bp.post("/account/sign-out-everywhere")
def sign_out_everywhere():  # type: ignore[no-untyped-def]
    """End all of your sessions, this one included."""
    auth.end_all_sessions(db.session, _me())
    commit()
    session.clear()
    return redirect(url_for("admin.login"), code=303)


def _token_form() -> TokenForm:
    form = TokenForm()
    form.operator.choices = [(o.id, f"{o.email} ({o.role})") for o in auth.list_operators(db.session)]
    return form


def _tokens_page(form: TokenForm, new_token: str | None = None, error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template(
        "admin/tokens.html",
        tokens=auth.list_tokens(db.session),
        form=form,
        new_token=new_token,
        error=error,
    ), status


@bp.get("/tokens")
def tokens():  # type: ignore[no-untyped-def]
    """Every API token: whose, when made, last used, revoked."""
    return _tokens_page(_token_form())


@bp.post("/tokens")
def create_token():  # type: ignore[no-untyped-def]
    """A new token for an operator, shown once."""
    form = _token_form()
    if not form.validate_on_submit():
        return _tokens_page(form, error="Choose an operator.", status=422)
    operator = db.session.get(Operator, form.operator.data)
    assert operator is not None  # the choices are the operators
    token = auth.create_token(db.session, operator)
    commit()
    return _tokens_page(_token_form(), new_token=token, status=201)


@bp.post("/tokens/<id:token_id>/revoke")
def revoke_token(token_id: int):  # type: ignore[no-untyped-def]
    """Revoke a token at once (the row stays, so its history does)."""
    row = auth.revoke_token(db.session, str(token_id), utcnow())
    commit()
    flash(f"Token {row.prefix}… revoked.")
    return redirect(url_for("account.tokens"), code=303)
