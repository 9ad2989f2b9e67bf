"""Operators: passwords (argon2), bearer tokens (stored hashed), session login.

Who may open what is in growth.roles.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import request, session
from sqlalchemy import select
from sqlalchemy.orm import Session

from growth.db import db, utcnow
from growth.errors import Conflict, ValidationFailed
from growth.models import ApiToken, Operator

ROLES = ("admin", "creator")
TOKEN_PREFIX = "mh_"
_hasher = PasswordHasher()


def create_operator(session: Session, email: str, password: str, role: str = "admin") -> Operator:
    """A new operator with an argon2id password hash."""
    from growth.subscribers import normalize_email

    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", code="invalid_role")
    if len(password) < 10:
        raise ValidationFailed("password must have at least 10 characters", code="weak_password")
    _, key = normalize_email(email)
    if session.scalars(select(Operator).where(Operator.email == key)).first():
        raise Conflict(f"operator {key} exists", code="operator_exists")
    operator = Operator(email=key, password_hash=_hasher.hash(password), role=role)
    session.add(operator)
    session.flush()
    return operator


def authenticate(session: Session, email: str, password: str) -> Operator | None:
    """The operator with these credentials, or None (same work either way)."""
    operator = session.scalars(select(Operator).where(Operator.email == email.strip().lower())).first()
    if operator is None:
        _hasher.hash(password)  # spend the same time as a real check
        return None
    try:
        _hasher.verify(operator.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(operator.password_hash):
        operator.password_hash = _hasher.hash(password)
    operator.last_login_at = utcnow()
    return operator


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, operator: Operator) -> str:
    """A new bearer token; only its hash is stored, the token itself is shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(operator_id=operator.id, token_hash=_digest(token), prefix=token[:10]))
    session.flush()
    return token


def operator_for_token(session: Session, token: str) -> Operator | None:
    """The operator a live bearer token belongs to."""
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    row.last_used_at = utcnow()
    return row.operator


_CACHE = "masthead.operator"


def current_operator() -> Operator | None:
    """The operator of this request: bearer token first, then the login session."""
    if _CACHE in request.environ:
        return request.environ[_CACHE][0]  # type: ignore[no-any-return]
    operator, how = None, None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        operator, how = operator_for_token(db.session, header[7:].strip()), "token"
    elif session.get("operator_id"):
        operator, how = db.session.get(Operator, session["operator_id"]), "session"
    request.environ[_CACHE] = (operator, how if operator else None)
    return operator


def authenticated_by() -> str | None:
    """How this request's operator proved who they are: "token", "session" or None."""
    current_operator()
    return request.environ[_CACHE][1]  # type: ignore[no-any-return]
