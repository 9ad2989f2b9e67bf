"""The DomainError family, and the one place that maps errors to HTTP."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the domain was broken; carries an HTTP status and a stable code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status


class InvalidRequest(DomainError):
    """Malformed or incomplete input."""

    status = 400
    code = "invalid_request"


class ValidationFailed(DomainError):
    """Well-formed input with a value we cannot accept."""

    status = 422
    code = "validation_failed"


class NotFound(DomainError):
    """No such thing."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request contradicts what is stored."""

    status = 409
    code = "conflict"


class Unauthorized(DomainError):
    """No valid credentials."""

    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    """Credentials without the right."""

    status = 403
    code = "forbidden"


class NotConfigured(DomainError):
    """A provider is not configured on this installation."""

    status = 503
    code = "not_configured"


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """The error envelope every JSON endpoint answers with."""
    return {"error": {"code": code, "message": message}}


def wants_json() -> bool:
    """API and webhook paths answer JSON; pages answer HTML."""
    path = request.path
    return path.startswith(("/api/", "/webhooks/")) or request.is_json


def _respond(status: int, code: str, message: str):  # type: ignore[no-untyped-def]
    if wants_json():
        return jsonify(error_body(code, message)), status
    return render_template("error.html", status=status, code=code, message=message), status


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


# Seconds a client is asked to wait when the database cannot be reached (a restart takes a few).
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGE = "The service is briefly unavailable; please try again in a few seconds."


def is_database_outage(err: BaseException | None) -> bool:
    """Whether an error means the database cannot be reached now (down, restarting, pool drained).

    OperationalError is what drivers raise for a refused or dropped connection, a server shutting
    down, and also a lock timeout or a deadlock: all of them pass, so a retry is the right answer.
    """
    seen = 0
    while err is not None and seen < 5:  # the outage may be the cause of what reached us
        if isinstance(err, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
            return True
        if isinstance(err, sa_exc.DBAPIError) and err.connection_invalidated:
            return True
        err = err.__cause__ or err.__context__
        seen += 1
    return False


def unavailable_response():  # type: ignore[no-untyped-def]
    """503 with Retry-After: the envelope (code `unavailable`) on the API, a friendly page otherwise."""
    body, status = _respond(503, "unavailable", UNAVAILABLE_MESSAGE)
    return body, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def register_errorhandlers(app: Flask) -> None:
    """Map DomainError and HTTP errors to the envelope (JSON) or the error page (HTML)."""

    @app.errorhandler(DomainError)
    def _domain(err: DomainError):  # type: ignore[no-untyped-def]
        return _respond(err.status, err.code, err.message)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):  # type: ignore[no-untyped-def]
        status = err.code or 500
        if status == 500 and is_database_outage(getattr(err, "original_exception", None)):
            return unavailable_response()  # raised after the view (a response hook), same answer
        code = _HTTP_CODES.get(status, "http_error")
        message = err.description or err.name
        if status == 429:
            message = f"Too many requests: {err.description}. Try again later."
        response = _respond(status, code, message)
        if status == 405 and hasattr(err, "valid_methods") and err.valid_methods:
            body, st = response
            return body, st, {"Allow": ", ".join(err.valid_methods)}
        return response

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):  # type: ignore[no-untyped-def]
        from growth.logs import safe_path

        if is_database_outage(err):
            log.error(
                "database unavailable on %s %s: %s",
                request.method,
                safe_path(request.path, request.view_args),
                err,
            )
            return unavailable_response()
        log.exception("unhandled error on %s %s", request.method, safe_path(request.path, request.view_args))
        return _respond(500, "internal_error", "Something went wrong on our side.")
