"""Commands and scheduled work link to the URL the server runs with, on any PORT."""

from __future__ import annotations

import re

import pytest

from growth.config import Config, ConfigError
from tests.conftest import read_outbox, text_of


def test_without_base_url_commands_use_the_url_the_server_was_started_with(tmp_path):
    env = {"MASTHEAD_INSTANCE": str(tmp_path)}
    assert Config.from_env(env).base_url == "http://127.0.0.1:5000"  # no server yet
    Config.from_env({**env, "PORT": "5105"}).remember_base_url()
    assert Config.from_env(env).base_url == "http://127.0.0.1:5105"
    # What a command is told beats what the server left behind.
    assert Config.from_env({**env, "PORT": "6000"}).base_url == "http://127.0.0.1:6000"
    assert Config.from_env({**env, "BASE_URL": "https://news.example/"}).base_url == "https://news.example"


def test_production_never_reads_the_remembered_url(tmp_path):
    Config.from_env({"MASTHEAD_INSTANCE": str(tmp_path), "PORT": "5105"}).remember_base_url()
    env = {"MASTHEAD_INSTANCE": str(tmp_path), "MASTHEAD_ENV": "production", "SECRET_KEY": "k" * 32}
    with pytest.raises(ConfigError, match="BASE_URL must be set in production"):
        Config.from_env(env)


def test_prepare_server_records_the_url_and_an_import_links_to_it(app_factory, tmp_path):
    server = app_factory(
        base_url=Config.from_env({"MASTHEAD_INSTANCE": str(tmp_path), "PORT": "5105"}).base_url
    )
    instance = server.config["MASTHEAD"].instance_path
    result = server.test_cli_runner().invoke(args=["prepare-server"])
    assert result.exit_code == 0, result.output
    assert "emails link to http://127.0.0.1:5105" in result.output
    # A command in another terminal, without PORT or BASE_URL, on the same instance folder.
    command_url = Config.from_env({"MASTHEAD_INSTANCE": str(instance)}).base_url
    assert command_url == "http://127.0.0.1:5105"
    command = app_factory(base_url=command_url, instance_path=instance, outbox_dir=tmp_path / "outbox")
    csv = tmp_path / "list.csv"
    csv.write_text("email\nnew@example.com\n", encoding="utf-8")
    result = command.test_cli_runner().invoke(args=["import-subscribers", str(csv)])
    assert result.exit_code == 0, result.output
    [confirmation] = read_outbox(tmp_path / "outbox")
    assert re.search(r"http://127\.0\.0\.1:5105/confirm/\S+", text_of(confirmation))
