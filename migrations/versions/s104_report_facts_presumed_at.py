"""growth: report_facts.presumed_at, readers presumed nurtured counted apart in the funnel

Revision ID: s104
Revises: o1a1
Create Date: 2026-12-02 14:20:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 's104'
down_revision = 'o1a1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('report_facts', sa.Column('presumed_at', growth.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('report_facts') as batch:
        batch.drop_column('presumed_at')
