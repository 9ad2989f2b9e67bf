"""A lost database answers 503 (JSON envelope with Retry-After, or a friendly page), never 500,
and the pool recovers by itself once the database is back."""

from __future__ import annotations

import itertools
import uuid

from tests.services import free_port, wait_for

_emails = (f"reader{n}-{uuid.uuid4().hex[:6]}@example.com" for n in itertools.count())


def signup(client):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/subscribers", json={"email": next(_emails)})


def test_a_database_that_refuses_connections_is_a_503_with_retry_after(own_app):  # type: ignore[no-untyped-def]
    app = own_app(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing")
    client = app.test_client()

    api = signup(client)
    assert api.status_code == 503
    assert api.get_json()["error"]["code"] == "unavailable"
    assert int(api.headers["Retry-After"]) > 0

    listed = client.get("/api/v1/subscribers", headers={"Authorization": "Bearer mh_whatever"})
    assert listed.status_code == 503 and listed.get_json()["error"]["code"] == "unavailable"

    page = client.get("/")  # the archive reads posts
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert "Back in a moment" in page.get_data(as_text=True) and "Retry-After" in page.headers


def test_requests_during_a_restart_get_503_and_the_pool_recovers_without_a_restart(own_app, private_postgres):  # type: ignore[no-untyped-def]
    cluster = private_postgres
    app = own_app(cluster.url)
    client = app.test_client()
    # Warm the pool: these connections die with the server and must be replaced, not reused.
    assert all(signup(client).status_code == 202 for _ in range(3))
    assert client.get("/").status_code == 200

    cluster.stop()
    during = [signup(client).status_code for _ in range(5)] + [client.get("/").status_code for _ in range(5)]
    assert set(during) == {503}, during

    cluster.start()
    # Same app, same pool: the first request on each stale connection must not fail.
    wait_for(lambda: signup(client).status_code == 202, 30, "signups to be accepted again")
    after = [signup(client).status_code for _ in range(5)] + [client.get("/").status_code for _ in range(5)]
    assert after == [202] * 5 + [200] * 5
