"""Schemathesis against /api/v1/openapi.json: no 5xx, and every answer is the one documented.

Runs on the SQLite run only (PostgreSQL runs the same code; the 2-core budget allows one pass):
each operation, with an operator's bearer token and without one, derandomized, at most 25
examples, valid and invalid inputs.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from billing import service
from content import posts, sending
from growth import auth
from growth.app import create_app
from growth.db import utcnow
from referrals import service as referrals_service
from tests.conftest import USING_POSTGRES, make_config
from tests.fakes.engagement_data import make_subscriber

pytestmark = pytest.mark.skipif(USING_POSTGRES, reason="schemathesis runs on the SQLite run only")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def bearer(session) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """An admin's API token, made as `flask create-token` makes it."""
    operator = auth.create_operator(session, f"fuzz-{uuid.uuid4().hex[:6]}@example.com", "a-long-password")
    token = auth.create_token(session, operator)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def _document_app() -> Flask:
    """An app built only to serve the document at collection time (no database is touched)."""
    folder = Path(tempfile.mkdtemp(prefix="masthead-openapi-"))
    return create_app(make_config(f"sqlite:///{folder / 'unused.db'}", folder))


# One pytest item per operation (schemathesis' fixture-based loader runs them all in one test,
# and does not work with pytest 9.2); each call goes to the test's app and transaction.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _document_app())


@pytest.fixture
def api(app: Flask, connection, outbox) -> Flask:  # type: ignore[no-untyped-def]
    from growth.extensions import limiter

    limiter.reset()
    return app


@pytest.fixture
def api_rows(session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """One stored row of each kind an id in a path names, so calls reach more than a 404."""
    now = utcnow()
    subscriber = make_subscriber(session, "fuzz-reader@example.com")
    post = posts.create_post(
        session,
        posts.PostInput(title="Fuzz", body_markdown="Hello **there**.", status="published"),
        now,
        None,
    )
    send = sending.create_send(session, post, "all", now, scheduled_at=now + dt.timedelta(days=30))
    tier = service.create_tier(
        session,
        service.TierInput(name="Fuzz", monthly_price_cents=500, yearly_price_cents=5000, currency="usd"),
        now,
    )
    milestone = referrals_service.save_milestone(session, {"referrals_required": 3, "reward_name": "Pin"})
    session.commit()
    return {
        "subscriber_id": subscriber.id,
        "post_id": post.id,
        "send_id": send.id,
        "tier_id": tier.id,
        "milestone_id": milestone.id,
    }


def _name_stored_rows(case, rows: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    """Odd generated ids are replaced by a stored row's: half the cases reach the handler's body."""
    for name, value in (case.path_parameters or {}).items():
        if name in rows and isinstance(value, int) and value % 2:
            case.path_parameters[name] = rows[name]


@schema.parametrize()
@FUZZ
def test_api_with_a_token(case, api, bearer, api_rows):  # type: ignore[no-untyped-def]
    _name_stored_rows(case, api_rows)
    case.call_and_validate(app=api, headers=bearer, checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_api_without_a_token(case, api):  # type: ignore[no-untyped-def]
    case.call_and_validate(app=api, checks=CHECKS)
