"""core: subscribers.setup_pending, what a deferred signup's finishing job needs, and its partial index

Revision ID: hc01
Revises: v103
Create Date: 2026-12-03 13:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'hc01'
down_revision = 'v103'
branch_labels = None
depends_on = None

WHERE = "setup_pending IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('setup_pending', sa.JSON(), nullable=True))
        batch_op.create_index(
            'ix_subscribers_setup_pending', ['created_at'], unique=False,
            postgresql_where=sa.text(WHERE), sqlite_where=sa.text(WHERE),
        )


def downgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_index(
            'ix_subscribers_setup_pending', postgresql_where=sa.text(WHERE), sqlite_where=sa.text(WHERE)
        )
        batch_op.drop_column('setup_pending')
