"""core: report rollups (per-subscriber facts, summed daily cells, the refresh queue, cached series)

Revision ID: o1a1
Revises: n001
Create Date: 2026-12-02 06:10:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'o1a1'
down_revision = 'n001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_facts',
    sa.Column('subscriber_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('signed_up_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('newsletter_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('campaign', sa.String(length=200), nullable=False),
    sa.Column('post', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('confirmed_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('engaged_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('nurtured_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paid_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paying_90', sa.Boolean(), nullable=True),
    sa.Column('left_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('engaged_months', sa.BigInteger(), nullable=False),
    sa.Column('paying_months', sa.BigInteger(), nullable=False),
    sa.Column('revenue', sa.JSON(), nullable=False),
    sa.Column('last_human_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_machine_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paying_now', sa.Boolean(), nullable=False),
    sa.Column('refreshed_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('subscriber_id', name=op.f('pk_report_facts'))
    )
    op.create_index('ix_report_facts_status', 'report_facts', ['status'], unique=False)
    op.create_table('report_cells',
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('newsletter_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('campaign', sa.String(length=200), nullable=False),
    sa.Column('post', sa.String(length=300), nullable=False),
    sa.Column('metric', sa.String(length=24), nullable=False),
    sa.Column('bucket', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'day', 'newsletter_id', 'source', 'campaign', 'post', 'metric', 'bucket', 'currency', name=op.f('pk_report_cells'))
    )
    op.create_table('report_dirty',
    sa.Column('subscriber_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('subscriber_id', name=op.f('pk_report_dirty'))
    )
    op.create_table('report_series',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('computed_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_report_series'))
    )


def downgrade() -> None:
    op.drop_table('report_series')
    op.drop_table('report_dirty')
    op.drop_table('report_cells')
    op.drop_index('ix_report_facts_status', table_name='report_facts')
    op.drop_table('report_facts')
