"""referrals: referral asks per placement (views and share clicks; the placement of visits and referrals)

Revision ID: gd01
Revises: z102
Create Date: 2026-12-03 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'gd01'
down_revision = 'z102'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('referral_ask_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('placement', sa.String(length=16), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('at', growth.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_referral_ask_events_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_ask_events')),
    sa.UniqueConstraint('kind', 'placement', 'subscriber_id', 'post_id', 'target', 'day', name=op.f('uq_referral_ask_events_kind_placement_subscriber_id_post_id_target_day'))
    )
    with op.batch_alter_table('referral_ask_events', schema=None) as batch_op:
        batch_op.create_index('ix_referral_ask_events_day', ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_ask_events_subscriber_id'), ['subscriber_id'], unique=False)
    with op.batch_alter_table('referral_visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('placement', sa.String(length=16), nullable=True))
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('placement', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_column('placement')
    with op.batch_alter_table('referral_visits', schema=None) as batch_op:
        batch_op.drop_column('placement')
    with op.batch_alter_table('referral_ask_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_ask_events_subscriber_id'))
        batch_op.drop_index('ix_referral_ask_events_day')
    op.drop_table('referral_ask_events')
