"""billing: charges, refunds (cumulative steps) and disputes, for net cash and LTV

Revision ID: ga01
Revises: z102
Create Date: 2026-12-03 10:00:00
"""

from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'ga01'
down_revision = 'z102'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_charges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_charge_id', sa.String(length=255), nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('created', growth.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_billing_charges_subscriber_id_subscribers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_charges')),
    sa.UniqueConstraint('stripe_charge_id', name=op.f('uq_billing_charges_stripe_charge_id'))
    )
    with op.batch_alter_table('billing_charges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_charges_stripe_customer_id'), ['stripe_customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_charges_subscriber_id'), ['subscriber_id'], unique=False)
    op.create_table('billing_refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_charge_id', sa.String(length=255), nullable=False),
    sa.Column('amount_refunded_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('refunded_at', growth.db.UTCDateTime(), nullable=False),
    sa.Column('stripe_event_id', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_refunds')),
    sa.UniqueConstraint('stripe_charge_id', 'amount_refunded_cents', name=op.f('uq_billing_refunds_stripe_charge_id_amount_refunded_cents'))
    )
    op.create_table('billing_disputes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_dispute_id', sa.String(length=255), nullable=False),
    sa.Column('stripe_charge_id', sa.String(length=255), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('created', growth.db.UTCDateTime(), nullable=False),
    sa.Column('withdrawn_at', growth.db.UTCDateTime(), nullable=True),
    sa.Column('reinstated_at', growth.db.UTCDateTime(), nullable=True),
    sa.Column('state_at', growth.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_disputes')),
    sa.UniqueConstraint('stripe_dispute_id', name=op.f('uq_billing_disputes_stripe_dispute_id'))
    )
    with op.batch_alter_table('billing_disputes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_disputes_stripe_charge_id'), ['stripe_charge_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('billing_disputes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_disputes_stripe_charge_id'))
    op.drop_table('billing_disputes')
    op.drop_table('billing_refunds')
    with op.batch_alter_table('billing_charges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_charges_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_billing_charges_stripe_customer_id'))
    op.drop_table('billing_charges')
