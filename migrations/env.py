"""Alembic environment: every domain's models on one metadata."""

from __future__ import annotations

import importlib

from alembic import context

from growth.config import Config
from growth.db import Base, make_engine

for module in (
    "growth.models",
    "growth.acquisition_models",
    "growth.partner_models",
    "growth.outgoing.models",
    "growth.rollup_models",
    "referrals.models",
    "billing.models",
    "billing.sponsorship_models",
    "content.models",
    "content.sequence_models",
    "content.sponsor_models",
):
    importlib.import_module(module)

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    return config.attributes.get("database_url") or Config.from_env().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(database_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
