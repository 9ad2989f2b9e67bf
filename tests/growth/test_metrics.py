"""/metrics: what it counts, and who may read it (loopback, allowed networks, the token; else 403)."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from growth.config import Config, ConfigError
from growth.telemetry import may_read_metrics
from tests.conftest import REDIS_URL
from tests.growth.conftest import closed_port
from tests.growth.helpers import signup, signup_and_confirm

OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}


def samples(client, **kw) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:  # type: ignore[no-untyped-def]
    response = client.get("/metrics", **kw)
    assert response.status_code == 200, response.text
    assert response.content_type.startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(found, name: str, **labels: str) -> float:  # type: ignore[no-untyped-def]
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def metrics_client(app_factory, outbox):  # type: ignore[no-untyped-def]
    built = app_factory(
        outbox_dir=outbox,
        extra={"metrics_cache_seconds": "0", "ratelimit": "off", "ratelimit_prefix": uuid.uuid4().hex[:8]},
    )
    return built.test_client()


def test_a_signup_and_a_confirmation_are_counted(metrics_client, outbox):  # type: ignore[no-untyped-def]
    before = samples(metrics_client)
    assert signup_and_confirm(metrics_client, outbox, "counted@example.com").status_code == 200
    after = samples(metrics_client)
    assert value(after, "masthead_signups_total") - value(before, "masthead_signups_total") == 1
    assert value(after, "masthead_confirmations_total") - value(before, "masthead_confirmations_total") == 1
    route = {"method": "POST", "route": "/api/v1/subscribers", "status": "202"}
    assert (
        value(after, "masthead_http_requests_total", **route)
        - value(before, "masthead_http_requests_total", **route)
        == 1
    )
    confirm = {"method": "GET", "route": "/confirm/<token>", "status": "200"}
    assert value(after, "masthead_http_requests_total", **confirm) >= 1
    # The confirmation and the welcome are deliveries, read from the database at scrape time.
    assert sum(v for (name, _), v in after.items() if name == "masthead_deliveries") >= 2
    assert value(after, "masthead_scrape_error", store="database") == 0


def test_a_second_signup_of_the_same_address_is_not_a_new_one(metrics_client):  # type: ignore[no-untyped-def]
    signup(metrics_client, "twice@example.com")
    before = value(samples(metrics_client), "masthead_signups_total")
    signup(metrics_client, "twice@example.com")
    assert value(samples(metrics_client), "masthead_signups_total") == before


def test_unknown_paths_share_one_label(metrics_client):  # type: ignore[no-untyped-def]
    metrics_client.get(f"/no-such-page-{uuid.uuid4().hex}")
    found = samples(metrics_client)
    assert value(found, "masthead_http_requests_total", method="GET", route="unmatched", status="404") >= 1
    assert not any("no-such-page" in str(labels) for _, labels in found)


def test_queue_figures_with_redis(metrics_client):  # type: ignore[no-untyped-def]
    found = samples(metrics_client)
    for name in ("masthead_queue_depth", "masthead_queue_oldest_age_seconds", "masthead_queue_failed"):
        assert ((name, (("queue", "masthead"),)) in found) == bool(REDIS_URL)


def test_metrics_answer_while_the_database_is_down(own_app):  # type: ignore[no-untyped-def]
    app = own_app(
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/masthead",
        redis_url=None,
        extra={"metrics_cache_seconds": "0"},
    )
    found = samples(app.test_client())
    assert value(found, "masthead_scrape_error", store="database") == 1
    assert not any(name == "masthead_deliveries" for name, _ in found)


def test_others_get_403(client):  # type: ignore[no-untyped-def]
    refused = client.get("/metrics", environ_base=OUTSIDE)
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "forbidden"
    # A proxy on this host relaying someone else's request, without TRUSTED_PROXY_COUNT.
    relayed = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.2"})
    assert relayed.status_code == 403


def test_allowed_networks_and_the_token(app_factory):  # type: ignore[no-untyped-def]
    client = app_factory(metrics_allow_from=("10.0.0.0/8",), metrics_token="s3cret-token").test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 403
    bearer = {"Authorization": "Bearer s3cret-token"}
    assert client.get("/metrics", environ_base=OUTSIDE, headers=bearer).status_code == 200
    wrong = {"Authorization": "Bearer s3cret-tokeN"}
    assert client.get("/metrics", environ_base=OUTSIDE, headers=wrong).status_code == 403


def test_behind_a_trusted_proxy_the_client_address_counts(app_factory):  # type: ignore[no-untyped-def]
    client = app_factory(trusted_proxy_count=1).test_client()
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200


def test_may_read_metrics_rules():
    assert may_read_metrics("127.0.0.1", False, None, (), None)
    assert may_read_metrics("::1", False, None, (), None)
    assert not may_read_metrics("127.0.0.1", True, None, (), None)
    assert not may_read_metrics(None, False, None, (), None)
    assert may_read_metrics("192.168.4.4", False, None, ("192.168.0.0/16",), None)
    assert not may_read_metrics("192.169.4.4", False, None, ("192.168.0.0/16",), None)
    assert may_read_metrics(None, False, "bearer tok", (), "tok")
    assert not may_read_metrics("203.0.113.1", False, "Bearer tok", (), None)  # no token configured
    assert not may_read_metrics("203.0.113.1", False, "Basic tok", (), "tok")


def test_metrics_settings_from_the_environment():
    config = Config.from_env(
        {"METRICS_ALLOW_FROM": "10.0.0.0/8, 192.168.1.7", "METRICS_TOKEN": "t", "SECRET_KEY": "x"}
    )
    assert config.metrics_allow_from == ("10.0.0.0/8", "192.168.1.7/32")
    assert config.metrics_token == "t"
    with pytest.raises(ConfigError, match="METRICS_ALLOW_FROM"):
        Config.from_env({"METRICS_ALLOW_FROM": "not-a-network", "SECRET_KEY": "x"})
