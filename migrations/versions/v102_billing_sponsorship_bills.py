"""billing: the Stripe invoice or payment link of each sponsorship booking

Revision ID: v102
Revises: b001
Create Date: 2026-12-02 14:30:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'v102'
down_revision = 'b001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_sponsorship_bills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('stripe_object_id', sa.String(length=255), nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('paid_cents', sa.Integer(), nullable=True),
    sa.Column('paid_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paid_by_event', sa.String(length=255), nullable=True),
    sa.Column('created_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_sponsorship_bills')),
    sa.UniqueConstraint('booking_id', name=op.f('uq_billing_sponsorship_bills_booking_id')),
    sa.UniqueConstraint('stripe_object_id', name=op.f('uq_billing_sponsorship_bills_stripe_object_id'))
    )


def downgrade() -> None:
    op.drop_table('billing_sponsorship_bills')
