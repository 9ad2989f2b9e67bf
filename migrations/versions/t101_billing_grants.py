"""billing: grants (comps, redeemed gifts) open a tier without a Stripe subscription

Revision ID: t101
Revises: hb01
Create Date: 2026-12-02 13:40:00
"""

from alembic import op
import sqlalchemy as sa
import growth.db


revision = 't101'
down_revision = 'hb01'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('tier_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('starts_at', growth.db.UTCDateTime(), nullable=False),
    sa.Column('ends_at', growth.db.UTCDateTime(), nullable=True),
    sa.Column('granted_by', sa.String(length=320), nullable=True),
    sa.Column('revoked_at', growth.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', growth.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_billing_grants_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tier_id'], ['billing_tiers.id'], name=op.f('fk_billing_grants_tier_id_billing_tiers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_grants'))
    )
    with op.batch_alter_table('billing_grants', schema=None) as batch_op:
        batch_op.create_index('ix_billing_grants_subscriber_ends', ['subscriber_id', 'ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_grants_tier_id'), ['tier_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('billing_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_grants_tier_id'))
        batch_op.drop_index('ix_billing_grants_subscriber_ends')
    op.drop_table('billing_grants')
