"""The typed config built from the environment."""

from __future__ import annotations

import pytest

from growth.config import Config, ConfigError


def test_defaults_are_the_embedded_ones(tmp_path):
    config = Config.from_env({"MASTHEAD_INSTANCE": str(tmp_path)})
    assert config.database_url == f"sqlite:///{tmp_path / 'masthead.db'}"
    assert config.redis_url is None and config.mail_backend == "outbox"
    assert config.outbox_dir == tmp_path / "outbox"
    assert config.signup_rate_limit == "10/minute" and config.trusted_proxy_count == 0
    assert config.base_url == "http://127.0.0.1:5000"


def test_secret_key_is_generated_once_for_local_runs(tmp_path):
    first = Config.from_env({"MASTHEAD_INSTANCE": str(tmp_path)})
    second = Config.from_env({"MASTHEAD_INSTANCE": str(tmp_path)})
    assert first.secret_key and first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_requires_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Config.from_env({"MASTHEAD_INSTANCE": str(tmp_path), "MASTHEAD_ENV": "production"})
    config = Config.from_env(
        {"MASTHEAD_ENV": "production", "SECRET_KEY": "k" * 32, "BASE_URL": "https://news.example"}
    )
    config.validate()


PRODUCTION = {"MASTHEAD_ENV": "production", "SECRET_KEY": "k" * 32, "BASE_URL": "https://news.example"}


def test_production_refuses_a_short_secret_key(tmp_path):
    config = Config.from_env({**PRODUCTION, "SECRET_KEY": "k" * 31})
    with pytest.raises(ConfigError, match="^SECRET_KEY must be at least 32 bytes in production, got 31$"):
        config.validate()
    # Bytes, not characters: 16 two-byte characters are 32 bytes.
    Config.from_env({**PRODUCTION, "SECRET_KEY": "é" * 16}).validate()


def test_production_refuses_an_http_base_url(tmp_path):
    config = Config.from_env({**PRODUCTION, "BASE_URL": "http://news.example"})
    with pytest.raises(
        ConfigError, match="^BASE_URL must start with https:// in production, got http://news"
    ):
        config.validate()


def test_production_says_when_base_url_is_unset(tmp_path):
    env = {k: v for k, v in PRODUCTION.items() if k != "BASE_URL"}
    with pytest.raises(ConfigError, match="^BASE_URL must be set in production$"):
        Config.from_env(env).validate()
    # Set to the development default on purpose: then it is an http:// URL, and said so.
    with pytest.raises(ConfigError, match="must start with https://"):
        Config.from_env({**PRODUCTION, "BASE_URL": "http://127.0.0.1:5000"}).validate()


def test_postgresql_url_uses_psycopg3_and_env_is_read(tmp_path):
    config = Config.from_env(
        {
            "MASTHEAD_INSTANCE": str(tmp_path),
            "DATABASE_URL": "postgresql://u@db/x",
            "PORT": "8080",
            "CORS_ORIGINS": "https://a.example/, https://b.example",
            "TRUSTED_PROXY_COUNT": "2",
            "SIGNUP_RATE_LIMIT": "5/hour",
            "REDIS_URL": "redis://r:6379/0",
        }
    )
    assert config.database_url == "postgresql+psycopg://u@db/x"
    assert config.base_url == "http://127.0.0.1:8080"
    assert config.cors_origins == ("https://a.example", "https://b.example")
    assert (config.trusted_proxy_count, config.signup_rate_limit, config.redis_url) == (
        2,
        "5/hour",
        "redis://r:6379/0",
    )


def test_bad_values_fail_loudly(tmp_path):
    with pytest.raises(ConfigError):
        Config.from_env({"MASTHEAD_INSTANCE": str(tmp_path), "TRUSTED_PROXY_COUNT": "x"})
    with pytest.raises(ConfigError):
        Config.from_env({"MASTHEAD_INSTANCE": str(tmp_path), "MAIL_BACKEND": "sendgrid"}).validate()


def test_sender_defaults_to_the_publication(tmp_path):
    env = {"MASTHEAD_INSTANCE": str(tmp_path), "PUBLICATION_NAME": "The Daily Sprout"}
    assert Config.from_env(env).mail_from == "The Daily Sprout <newsletter@localhost>"
    env["MAIL_FROM"] = "Ed <ed@sprout.example>"
    assert Config.from_env(env).mail_from == "Ed <ed@sprout.example>"


def test_reports_database_url_is_optional_and_a_replica_of_the_same_kind(tmp_path):
    assert Config.from_env({"MASTHEAD_INSTANCE": str(tmp_path)}).reports_database_url is None
    config = Config.from_env(
        {
            "DATABASE_URL": "postgres://app@primary/masthead",
            "REPORTS_DATABASE_URL": "postgres://ro@replica/masthead",
        }
    )
    assert config.reports_database_url == "postgresql+psycopg://ro@replica/masthead"
    config.validate()
    mixed = Config.from_env(
        {"MASTHEAD_INSTANCE": str(tmp_path), "REPORTS_DATABASE_URL": "postgresql://ro@replica/masthead"}
    )
    with pytest.raises(ConfigError, match="REPORTS_DATABASE_URL must be a replica of DATABASE_URL's kind"):
        mixed.validate()


def test_the_reports_engine_reads_and_refuses_writes_on_sqlite(tmp_path):
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from growth.db import make_engine, make_read_only_engine

    url = f"sqlite:///{tmp_path / 'r.db'}"
    with make_engine(url).begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (7)"))
    reader = make_read_only_engine(url)
    with reader.connect() as conn:
        assert conn.scalar(text("SELECT n FROM t")) == 7
        with pytest.raises(OperationalError, match="readonly"):
            conn.execute(text("INSERT INTO t VALUES (8)"))
    reader.dispose()
