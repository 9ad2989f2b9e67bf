"""billing: the post whose paywall or upgrade link started a subscription's Checkout

Revision ID: ha01
Revises: v102
Create Date: 2026-12-03 13:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'ha01'
down_revision = 'v102'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('billing_subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkout_post_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('billing_subscriptions', schema=None) as batch_op:
        batch_op.drop_column('checkout_post_id')
