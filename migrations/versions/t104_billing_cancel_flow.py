"""billing: the cancel flow (retention coupons per tier, the portal configuration, retention facts)

Revision ID: t104
Revises: t103
Create Date: 2026-12-02 14:10:00
"""

from alembic import op
import sqlalchemy as sa
import growth.db


revision = 't104'
down_revision = 't103'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('billing_tiers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retention_percent_off', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('retention_months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('stripe_retention_coupon_id', sa.String(length=255), nullable=True))
    op.create_table('billing_retention_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=True),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('tier_id', sa.Integer(), nullable=True),
    sa.Column('feedback', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('at', growth.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_billing_retention_events_subscriber_id_subscribers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tier_id'], ['billing_tiers.id'], name=op.f('fk_billing_retention_events_tier_id_billing_tiers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_retention_events')),
    sa.UniqueConstraint('source_id', 'kind', name=op.f('uq_billing_retention_events_source_id_kind'))
    )
    with op.batch_alter_table('billing_retention_events', schema=None) as batch_op:
        batch_op.create_index('ix_billing_retention_events_at', ['at'], unique=False)
    op.create_table('billing_portal_configurations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_configuration_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', growth.db.UTCDateTime(), nullable=False),
    sa.Column('synced_at', growth.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_portal_configurations')),
    sa.UniqueConstraint('stripe_configuration_id', name=op.f('uq_billing_portal_configurations_stripe_configuration_id'))
    )


def downgrade() -> None:
    op.drop_table('billing_portal_configurations')
    with op.batch_alter_table('billing_retention_events', schema=None) as batch_op:
        batch_op.drop_index('ix_billing_retention_events_at')
    op.drop_table('billing_retention_events')
    with op.batch_alter_table('billing_tiers', schema=None) as batch_op:
        batch_op.drop_column('stripe_retention_coupon_id')
        batch_op.drop_column('retention_months')
        batch_op.drop_column('retention_percent_off')
