"""core: a partial index of the transactional deliveries still queued (the tick retries them)

Revision ID: p201
Revises: n001
Create Date: 2026-12-02 06:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'p201'
down_revision = 'n001'
branch_labels = None
depends_on = None

WHERE = "kind = 'transactional' AND state = 'queued'"


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index(
            'ix_deliveries_transactional_queued', ['created_at'], unique=False,
            postgresql_where=sa.text(WHERE), sqlite_where=sa.text(WHERE),
        )


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(
            'ix_deliveries_transactional_queued', postgresql_where=sa.text(WHERE), sqlite_where=sa.text(WHERE)
        )
