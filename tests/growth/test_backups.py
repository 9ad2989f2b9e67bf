"""backup and verify-restore: a dump restored into a fresh database holds every row and report total."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from growth import backups
from growth.cli import upgrade_database
from growth.db import make_engine
from tests.conftest import USING_POSTGRES
from tests.growth.helpers import signup_and_confirm

pytestmark = [
    pytest.mark.skipif(not USING_POSTGRES, reason="pg_dump and pg_restore: PostgreSQL leg only"),
    pytest.mark.skipif(shutil.which("pg_restore") is None, reason="no PostgreSQL client tools"),
]


def _drop(admin, name: str) -> None:  # type: ignore[no-untyped-def]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def source_database(database_url: str) -> Iterator[str]:
    """A migrated database beside the test database; it and its restore are dropped afterwards."""
    url = make_url(database_url)
    name = f"{url.database}_backup"
    admin = make_engine(database_url, isolation_level="AUTOCOMMIT")
    for stale in (name, f"{name}_restore_check"):
        _drop(admin, stale)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    source = url.set(database=name).render_as_string(hide_password=False)
    upgrade_database(source)
    try:
        yield source
    finally:
        for stale in (name, f"{name}_restore_check"):
            _drop(admin, stale)
        admin.dispose()


def test_a_restored_dump_holds_every_row_and_report_total(source_database, own_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = own_app(source_database)
    client = app.test_client()
    outbox = Path(app.config["MASTHEAD"].outbox_dir)
    for n in range(3):
        assert signup_and_confirm(client, outbox, f"reader{n}@example.com").status_code == 200
    runner = app.test_cli_runner()
    assert runner.invoke(args=["rebuild-rollups"]).exit_code == 0

    dump = tmp_path / "masthead.dump"
    result = runner.invoke(args=["backup", str(dump)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "masthead.dump.json").read_text())
    assert manifest["counts"]["subscribers"] == 3
    assert manifest["reports"]["subscribers_by_status"] == {"active": 3}
    assert manifest["reports"]["funnel"]["signups"] == 3  # the funnel of those three

    result = runner.invoke(args=["verify-restore", str(dump)])
    assert result.exit_code == 0, result.output
    assert "restore verified" in result.output

    # The comparison is real: a manifest that promises one more subscriber is not met.
    manifest["counts"]["subscribers"] = 4
    manifest["reports"]["subscribers_by_status"] = {"active": 4}
    (tmp_path / "masthead.dump.json").write_text(json.dumps(manifest))
    result = runner.invoke(args=["verify-restore", str(dump)])
    assert result.exit_code == 1
    assert "subscribers: 4 rows in the backup, 3 restored" in result.output
    assert "report subscribers_by_status: the totals differ" in result.output


def test_backups_refuse_sqlite_and_an_existing_target(tmp_path: Path, database_url: str) -> None:
    with pytest.raises(backups.BackupError, match="need PostgreSQL"):
        backups.libpq_url(f"sqlite:///{tmp_path / 'x.db'}")
    dump = tmp_path / "none.dump"
    dump.write_bytes(b"")
    with pytest.raises(backups.BackupError, match="exists"):
        backups.verify_restore(database_url, dump, into="postgres")
