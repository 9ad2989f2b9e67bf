"""Attribution read by the other reports: computed once per request, and on one hand-built
history the referral report, acquisition economics, partners and the desk agree with it."""

from __future__ import annotations

import datetime as dt

import pytest

from billing import attribution_report
from growth import access
from growth.db import db, utcnow


@pytest.fixture
def computations(monkeypatch):  # type: ignore[no-untyped-def]
    """Count the full computations of the attribution."""
    calls: list[dt.datetime] = []
    real = attribution_report.compute

    def counting(session, now):  # type: ignore[no-untyped-def]
        calls.append(now)
        return real(session, now)

    monkeypatch.setattr(attribution_report, "compute", counting)
    return calls


def test_views_asked_in_one_request_compute_once_and_a_new_request_recomputes(
    billing_app, bsession, computations
):
    with billing_app.test_request_context("/admin/desk"):
        for by in access.ATTRIBUTION_VIEWS:
            assert access.attribution(db.session, by, utcnow()) is not None
        attribution_report.post_figures(db.session, [1, 2])
    assert len(computations) == 1
    with billing_app.test_request_context("/admin/desk"):
        access.attribution(db.session, "post", utcnow())
        access.attribution(db.session, "source", utcnow())
    assert len(computations) == 2
    # outside a request (the CLI, the worker) each call computes afresh
    access.attribution(db.session, "post", utcnow())
    access.attribution(db.session, "post", utcnow())
    assert len(computations) == 4
