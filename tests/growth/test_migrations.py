"""The migrations build exactly the schema the models describe (no drift either way)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from growth.db import Base, db


def test_models_match_the_migrated_database(app, database_url):
    import billing.models  # noqa: F401 - every domain's tables on the metadata
    import billing.sponsorship_models  # noqa: F401
    import content.models  # noqa: F401
    import content.sequence_models  # noqa: F401
    import content.sponsor_models  # noqa: F401
    import growth.acquisition_models  # noqa: F401
    import growth.partner_models  # noqa: F401
    import growth.rollup_models  # noqa: F401
    import referrals.models  # noqa: F401

    assert db.engine is not None
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
