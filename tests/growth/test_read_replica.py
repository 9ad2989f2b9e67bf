"""REPORTS_DATABASE_URL: the reports read through a read-only engine, the request's writes stay
on the primary.

PostgreSQL only: a "replica" here is the same database reached through connections whose
transactions are READ ONLY, so a write through it fails, and what it reads must be committed.
The module makes a database of its own (committed rows, dropped at the end), so the rolled-back
transaction of the other tests is not touched.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, event, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from content.models import Post
from growth import auth, rollups
from growth.app import create_app
from growth.cli import upgrade_database
from growth.config import normalise_database_url
from growth.db import REPORTS_FACTORY, db, make_engine, reports_session, simulated_clock
from growth.models import ApiToken
from growth.rollup_models import ReportSeries
from tests.conftest import USING_POSTGRES, hold_webhooks, make_config
from tests.growth.report_history import NOW
from tests.growth.report_rows import add_readers, arriving_events

pytestmark = pytest.mark.skipif(
    not USING_POSTGRES, reason="a read-only replica needs PostgreSQL (TEST_DATABASE_URL)"
)

REPORTS = [
    "/api/v1/reports/funnel",
    "/api/v1/reports/funnel?format=csv",
    "/api/v1/reports/cohorts",
    "/api/v1/reports/growth",
    "/api/v1/reports/value-pitch",
    "/api/v1/reports/acquisition",
    "/api/v1/reports/partners",
    "/api/v1/reports/posts",
    "/api/v1/reports/sponsors",
    "/api/v1/reports/referrals",
    "/api/v1/reports/revenue",
    "/api/v1/reports/revenue/ledger",
    "/api/v1/reports/revenue/ledger?format=csv",
    "/api/v1/reports/cancellations",
]
DESK = ["headline", "panels"]  # the desk's kept copies (report_series)
PAGES = [
    "/admin/acquisition",
    "/admin/partners",
    "/admin/revenue",
    "/admin/referral-report",
]


class Replica:
    """The two apps over one database: `primary` without the setting, `replica` with it."""

    def __init__(self, primary: Flask, replica: Flask, url: str, token: str, post_id: int) -> None:
        self.primary, self.replica, self.url, self.post_id = primary, replica, url, post_id
        self.headers = {"Authorization": f"Bearer {token}"}
        self.statements = 0
        engine = self.reports_engine()
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.statements += 1

    def reports_engine(self) -> Engine:
        """The engine of the replica app's reports sessions."""
        bind = self.replica.extensions[REPORTS_FACTORY].kw["bind"]
        assert isinstance(bind, Engine)
        return bind

    def get(self, app: Flask, path: str) -> Any:
        """GET `path` with the admin's token; the number of statements the replica ran for it."""
        before = self.statements
        with simulated_clock(lambda: NOW):  # both answers at one instant: their `at` agree
            response = app.test_client().get(path, headers=self.headers)
            response.get_data()  # a streamed CSV reads as it is sent
        assert response.status_code == 200, (
            path,
            response.status_code,
            response.get_data(as_text=True)[:500],
        )
        return response, self.statements - before


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replica]:
    base = normalise_database_url(os.environ["TEST_DATABASE_URL"])
    name = f"masthead_replica_{uuid.uuid4().hex[:8]}"
    server = make_engine(base, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    saved = (db.engine, db.session_factory)
    apps: list[Flask] = []
    try:
        upgrade_database(url)
        instance: Path = tmp_path_factory.mktemp("replica")
        primary = create_app(make_config(url, instance / "primary"))
        replica_app = create_app(make_config(url, instance / "replica", reports_database_url=url))
        apps += [primary, replica_app]
        for app in apps:
            app.config["TESTING"] = True
            hold_webhooks(app)
        with primary.app_context():
            session = db.session
            people = add_readers(session)
            for _, insert in arriving_events(people):
                insert(session)
            rollups.rebuild(session, NOW)
            post_id = session.scalars(select(Post.id)).one()
            operator = auth.create_operator(
                session, "admin@example.com", "correct horse battery", role="admin"
            )
            token = auth.create_token(session, operator)
            session.commit()
        yield Replica(primary, replica_app, url, token, post_id)
    finally:
        for app in apps:
            factory = app.extensions.get(REPORTS_FACTORY)
            if factory is not None:
                factory.kw["bind"].dispose()
        if db.engine is not None and db.engine is not saved[0]:
            db.engine.dispose()
        db.engine, db.session_factory = saved
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def test_every_report_endpoint_answers_the_same_through_the_replica(replica: Replica) -> None:
    for path in REPORTS:
        direct, ran_on_replica = replica.get(replica.primary, path)
        assert ran_on_replica == 0, path  # without the setting nothing reads there
        through, ran_on_replica = replica.get(replica.replica, path)
        assert ran_on_replica > 0, path  # the report's queries ran on the reports engine
        if direct.mimetype == "application/json":
            assert through.get_json() == direct.get_json(), path
        else:
            assert through.get_data(as_text=True) == direct.get_data(as_text=True), path
    funnel, _ = replica.get(replica.replica, "/api/v1/reports/funnel")
    assert [s["count"] for s in funnel.get_json()["steps"]] == [5, 4, 3, 2, 2]  # not an empty report


def test_the_admin_report_pages_read_through_the_replica(replica: Replica) -> None:
    for path in [*PAGES, f"/admin/posts/{replica.post_id}/report"]:
        _, ran_on_replica = replica.get(replica.replica, path)
        assert ran_on_replica > 0, path


def test_the_desk_computes_on_the_replica_and_keeps_its_copy_on_the_primary(replica: Replica) -> None:
    with replica.primary.app_context():
        db.session.execute(
            ReportSeries.__table__.delete().where(ReportSeries.name.in_(["headline", "panels"]))
        )
        db.session.commit()
    page, ran_on_replica = replica.get(replica.replica, "/admin/")
    assert ran_on_replica > 0
    assert "Masthead" in page.get_data(as_text=True)
    with replica.primary.app_context():
        kept = set(
            db.session.scalars(select(ReportSeries.name).where(ReportSeries.name.in_(["headline", "panels"])))
        )
        panel_id = db.session.get(ReportSeries, "panels").payload["panels"][0]["id"]  # type: ignore[union-attr]
    assert kept == {"headline", "panels"}  # written through the primary: the replica takes no write
    _, ran_on_replica = replica.get(replica.replica, f"/admin/panels/{panel_id}.csv")
    assert ran_on_replica == 0  # the kept copy, read on the primary


def test_a_write_through_the_reports_session_fails(replica: Replica) -> None:
    with replica.replica.test_request_context():
        session: Session = reports_session()
        assert session is not db.session
        assert session.scalar(text("SHOW transaction_read_only")) == "on"
        with pytest.raises(DBAPIError, match="read-only transaction"):
            session.execute(update(ApiToken).values(last_used_at=None))
    with replica.primary.test_request_context():
        assert reports_session() is db.session  # without the setting: the request's own session


def test_the_token_use_is_recorded_on_the_primary(replica: Replica) -> None:
    with replica.primary.app_context():
        db.session.execute(update(ApiToken).values(last_used_at=None))
        db.session.commit()
    replica.get(replica.replica, "/api/v1/reports/cohorts")
    engine = make_engine(replica.url)
    try:
        with engine.connect() as conn:
            used = conn.scalar(select(ApiToken.last_used_at))
    finally:
        engine.dispose()
    assert used is not None
