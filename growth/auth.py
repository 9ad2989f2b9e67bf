"""Operators: passwords (argon2), bearer tokens (stored hashed), session login.

Who may open what is in growth.roles.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import request, session
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from growth.db import db, utcnow
from growth.errors import Conflict, NotFound, ValidationFailed
from growth.fields import column_length, single_line
from growth.models import ApiToken, Operator, OperatorSession

ROLES = ("admin", "creator")
TOKEN_PREFIX = "mh_"
SESSION_KEY = "sid"  # in Flask's signed cookie: the secret of an operator_sessions row
SESSION_MAX_AGE = dt.timedelta(days=14)
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
    address = email.strip().lower()
    operator = None
    if single_line(address) and len(address) <= column_length(Operator.email):  # else no such operator
        operator = session.scalars(select(Operator).where(Operator.email == address)).first()
    if operator is None:
        _hasher.hash(password)  # spend the same time as a real check
        return None
    if not check_password(operator, password):
        return None
    if _hasher.check_needs_rehash(operator.password_hash):
        operator.password_hash = _hasher.hash(password)
    operator.last_login_at = utcnow()
    return operator


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(operator: Operator, password: str) -> bool:
    """Whether this is the operator's password."""
    try:
        return bool(_hasher.verify(operator.password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def set_password(session: Session, operator: Operator, password: str) -> int:
    """A new password; every session of the operator ends (API tokens stay: revoke them apart)."""
    if len(password) < 10:
        raise ValidationFailed("password must have at least 10 characters", code="weak_password")
    operator.password_hash = _hasher.hash(password)
    return end_all_sessions(session, operator)


def change_password(session: Session, operator: Operator, current: str, new: str, repeated: str) -> int:
    """The operator's own change: the current password first, the new one twice."""
    if not check_password(operator, current):
        raise ValidationFailed("The current password is not right.", code="wrong_password")
    if new != repeated:
        raise ValidationFailed("The new passwords differ.", code="passwords_differ")
    return set_password(session, operator, new)


def start_session(session: Session, operator: Operator, ip: str | None, user_agent: str | None) -> str:
    """A new login session; returns the secret the cookie carries (only its hash is stored)."""
    secret = secrets.token_urlsafe(32)
    session.add(
        OperatorSession(
            operator_id=operator.id,
            secret_hash=_digest(secret),
            ip=ip,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    session.flush()
    return secret


def operator_for_session(session: Session, secret: str, now: dt.datetime) -> Operator | None:
    """The operator of a live login session (one started less than SESSION_MAX_AGE ago)."""
    row = session.scalars(
        select(OperatorSession).where(OperatorSession.secret_hash == _digest(secret))
    ).first()
    if row is None or now - row.created_at > SESSION_MAX_AGE:
        return None
    return row.operator


def session_id(session: Session, secret: object) -> int | None:
    """The id of the session row this cookie secret names."""
    if not isinstance(secret, str):
        return None
    return session.scalar(select(OperatorSession.id).where(OperatorSession.secret_hash == _digest(secret)))


def end_session(session: Session, secret: str) -> None:
    """Log one session out for good."""
    session.execute(delete(OperatorSession).where(OperatorSession.secret_hash == _digest(secret)))


def end_all_sessions(session: Session, operator: Operator) -> int:
    """Sign the operator out everywhere; returns how many sessions ended."""
    result = session.execute(delete(OperatorSession).where(OperatorSession.operator_id == operator.id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def sessions_of(session: Session, operator: Operator) -> list[OperatorSession]:
    """The operator's open sessions, newest first."""
    query = select(OperatorSession).where(OperatorSession.operator_id == operator.id)
    return list(session.scalars(query.order_by(OperatorSession.id.desc())))


def create_token(session: Session, operator: Operator) -> str:
    """A new bearer token; only its hash is stored, the token itself is shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(operator_id=operator.id, token_hash=_digest(token), prefix=token[:10]))
    session.flush()
    return token


def list_operators(session: Session) -> list[Operator]:
    """Every operator, by email."""
    return list(session.scalars(select(Operator).order_by(Operator.email)))


def list_tokens(session: Session) -> list[ApiToken]:
    """Every API token with its operator, live ones first, newest first."""
    query = select(ApiToken).options(joinedload(ApiToken.operator))
    return list(session.scalars(query.order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())))


def find_token(session: Session, ref: str) -> ApiToken:
    """A token by its number, its shown prefix (mh_ and 7 more) or the whole token."""
    ref = ref.strip()
    if ref.isdigit():
        row = session.get(ApiToken, int(ref))
        if row is None:
            raise NotFound(f"no token {ref}", code="token_not_found")
        return row
    if len(ref) > 10:
        query = select(ApiToken).where(ApiToken.token_hash == _digest(ref))
    else:
        query = select(ApiToken).where(ApiToken.prefix == ref)
    rows = list(session.scalars(query.limit(2)))
    if not rows:
        raise NotFound(f"no token {ref}", code="token_not_found")
    if len(rows) > 1:
        raise Conflict(f"more than one token starts {ref}: give its number", code="ambiguous_token")
    return rows[0]


def revoke_token(session: Session, ref: str, now: dt.datetime) -> ApiToken:
    """Revoke a token from now on (again is harmless: the first revocation time stays)."""
    row = find_token(session, ref)
    if row.revoked_at is None:
        row.revoked_at = now
        session.flush()
    return row


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
    elif isinstance(session.get(SESSION_KEY), str):
        operator, how = operator_for_session(db.session, session[SESSION_KEY], utcnow()), "session"
    request.environ[_CACHE] = (operator, how if operator else None)
    return operator


def authenticated_by() -> str | None:
    """How this request's operator proved who they are: "token", "session" or None."""
    current_operator()
    return request.environ[_CACHE][1]  # type: ignore[no-any-return]
