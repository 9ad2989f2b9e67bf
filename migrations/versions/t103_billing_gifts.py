"""billing: gifts, a paid period bought for someone else and redeemed by a link

Revision ID: t103
Revises: t102
Create Date: 2026-12-02 14:00:00
"""

from alembic import op
import sqlalchemy as sa
import growth.db


revision = 't103'
down_revision = 't102'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_gifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_checkout_session_id', sa.String(length=255), nullable=False),
    sa.Column('tier_id', sa.Integer(), nullable=True),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=True),
    sa.Column('giver_email', sa.String(length=320), nullable=True),
    sa.Column('paid_at', growth.db.UTCDateTime(), nullable=False),
    sa.Column('redeemed_at', growth.db.UTCDateTime(), nullable=True),
    sa.Column('grant_id', sa.Integer(), nullable=True),
    sa.Column('invited_at', growth.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['grant_id'], ['billing_grants.id'], name=op.f('fk_billing_gifts_grant_id_billing_grants'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recipient_id'], ['subscribers.id'], name=op.f('fk_billing_gifts_recipient_id_subscribers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tier_id'], ['billing_tiers.id'], name=op.f('fk_billing_gifts_tier_id_billing_tiers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_gifts')),
    sa.UniqueConstraint('stripe_checkout_session_id', name=op.f('uq_billing_gifts_stripe_checkout_session_id'))
    )
    with op.batch_alter_table('billing_gifts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_gifts_recipient_id'), ['recipient_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('billing_gifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_gifts_recipient_id'))
    op.drop_table('billing_gifts')
