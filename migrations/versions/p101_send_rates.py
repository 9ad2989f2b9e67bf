"""content: send_rates, a newsletter's cap on post emails per hour

Revision ID: p101
Revises: n002
Create Date: 2026-12-02 06:30:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'p101'
down_revision = 'n002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('send_rates',
    sa.Column('newsletter_id', sa.Integer(), nullable=False),
    sa.Column('per_hour', sa.Integer(), nullable=False),
    sa.Column('updated_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['newsletter_id'], ['newsletters.id'], name=op.f('fk_send_rates_newsletter_id_newsletters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('newsletter_id', name=op.f('pk_send_rates'))
    )


def downgrade() -> None:
    op.drop_table('send_rates')
