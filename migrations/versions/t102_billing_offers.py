"""billing: offers (percent or amount off, free trials) and their redemptions

Revision ID: t102
Revises: t101
Create Date: 2026-12-02 13:50:00
"""

from alembic import op
import sqlalchemy as sa
import growth.db


revision = 't102'
down_revision = 't101'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('tier_id', sa.Integer(), nullable=False),
    sa.Column('interval', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('percent_off', sa.Integer(), nullable=True),
    sa.Column('amount_off_cents', sa.Integer(), nullable=True),
    sa.Column('duration', sa.String(length=16), nullable=True),
    sa.Column('duration_in_months', sa.Integer(), nullable=True),
    sa.Column('trial_days', sa.Integer(), nullable=True),
    sa.Column('starts_at', growth.db.UTCDateTime(), nullable=False),
    sa.Column('ends_at', growth.db.UTCDateTime(), nullable=True),
    sa.Column('max_redemptions', sa.Integer(), nullable=True),
    sa.Column('featured', sa.Boolean(), nullable=False),
    sa.Column('stripe_coupon_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_promotion_code_id', sa.String(length=255), nullable=True),
    sa.Column('ended_at', growth.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', growth.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tier_id'], ['billing_tiers.id'], name=op.f('fk_billing_offers_tier_id_billing_tiers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_offers')),
    sa.UniqueConstraint('code', name=op.f('uq_billing_offers_code')),
    sa.UniqueConstraint('stripe_coupon_id', name=op.f('uq_billing_offers_stripe_coupon_id')),
    sa.UniqueConstraint('stripe_promotion_code_id', name=op.f('uq_billing_offers_stripe_promotion_code_id'))
    )
    with op.batch_alter_table('billing_offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_offers_tier_id'), ['tier_id'], unique=False)
    op.create_table('billing_offer_redemptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('stripe_checkout_session_id', sa.String(length=255), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('at', growth.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['offer_id'], ['billing_offers.id'], name=op.f('fk_billing_offer_redemptions_offer_id_billing_offers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_billing_offer_redemptions_subscriber_id_subscribers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_offer_redemptions')),
    sa.UniqueConstraint('stripe_checkout_session_id', name=op.f('uq_billing_offer_redemptions_stripe_checkout_session_id'))
    )
    with op.batch_alter_table('billing_offer_redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_offer_redemptions_offer_id'), ['offer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('billing_offer_redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_offer_redemptions_offer_id'))
    op.drop_table('billing_offer_redemptions')
    with op.batch_alter_table('billing_offers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_offers_tier_id'))
    op.drop_table('billing_offers')
