"""core: scheduled tasks and the tick's lease

Revision ID: n001
Revises: 0002
Create Date: 2026-12-02 03:20:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'n001'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scheduled_tasks',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('lease_holder', sa.String(length=100), nullable=True),
    sa.Column('lease_until', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_started_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_finished_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_outcome', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduled_tasks'))
    )


def downgrade() -> None:
    op.drop_table('scheduled_tasks')
