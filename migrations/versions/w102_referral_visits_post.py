"""referrals: the post whose share link brought a visit

Revision ID: w102
Revises: r001
Create Date: 2026-12-02 06:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'w102'
down_revision = 'r001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('referral_visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('post_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_referral_visits_post_id'), ['post_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('referral_visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_visits_post_id'))
        batch_op.drop_column('post_id')
