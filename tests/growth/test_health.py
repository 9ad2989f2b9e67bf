"""/healthz and /readyz: the probes with each dependency down (a closed port), and behind."""

from __future__ import annotations

from growth.cli import upgrade_database
from tests.conftest import REDIS_URL
from tests.growth.conftest import closed_port


def test_healthz_and_readyz_answer_when_all_is_well(client):  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["status"] == "ready"
    assert ready.json["checks"]["database"] == {"ok": True}
    assert ready.json["checks"]["migrations"] == {"ok": True}
    assert ("redis" in ready.json["checks"]) == bool(REDIS_URL)


def test_database_down(own_app):  # type: ignore[no-untyped-def]
    app = own_app(database_url=f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/masthead")
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # alive: restarting it would not help
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["Retry-After"]
    assert ready.json["checks"]["database"]["ok"] is False
    assert "cannot be reached" in ready.json["checks"]["database"]["error"]
    assert ready.json["checks"]["migrations"]["ok"] is False
    assert ready.json["error"]["code"] == "unavailable"
    assert "database" in ready.json["error"]["message"]


def test_redis_down(own_app, database_url):  # type: ignore[no-untyped-def]
    app = own_app(database_url=database_url, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert ready.json["checks"]["redis"] == {
        "ok": False,
        "error": "Redis cannot be reached (ConnectionError)",
    }
    assert ready.json["checks"]["database"] == {"ok": True}


def test_migrations_behind(own_app, tmp_path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_database(url, "0002")
    ready = own_app(database_url=url, redis_url=None).test_client().get("/readyz")
    assert ready.status_code == 503
    error = ready.json["checks"]["migrations"]["error"]
    assert error.startswith("the database is at 0002, the code expects ") and "db-upgrade" in error
    assert ready.json["checks"]["database"] == {"ok": True}


def test_probes_need_no_login_and_keep_no_session(client):  # type: ignore[no-untyped-def]
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert "Set-Cookie" not in response.headers
        assert response.status_code == 200


def test_favicon_points_at_the_shipped_icon(client):  # type: ignore[no-untyped-def]
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    icon = client.get(response.headers["Location"])
    assert icon.status_code == 200
    assert icon.mimetype == "image/svg+xml"
    assert b'rel="icon"' in client.get("/subscribe").data
