"""referrals: reward ladder variants, readers' assignments, milestones per ladder with a cost

Revision ID: hb01l
Revises: u101
Create Date: 2026-12-03 13:30:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'hb01l'
down_revision = 'u101'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('referral_ladder_variants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('share', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', growth.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_ladder_variants')),
    sa.UniqueConstraint('name', name=op.f('uq_referral_ladder_variants_name'))
    )
    op.create_table('referral_ladder_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('assigned_at', growth.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_referral_ladder_assignments_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['referral_ladder_variants.id'], name=op.f('fk_referral_ladder_assignments_variant_id_referral_ladder_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_ladder_assignments')),
    sa.UniqueConstraint('subscriber_id', name=op.f('uq_referral_ladder_assignments_subscriber_id'))
    )
    with op.batch_alter_table('referral_ladder_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_referral_ladder_assignments_variant_assigned', ['variant_id', 'assigned_at'], unique=False)
    # Existing milestones are the default ladder (no variant) and cost nothing until priced.
    with op.batch_alter_table('referral_milestones', schema=None) as batch_op:
        batch_op.add_column(sa.Column('variant_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cost_cents', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('currency', sa.String(length=3), nullable=False, server_default='usd'))
        batch_op.drop_constraint('uq_referral_milestones_referrals_required', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_referral_milestones_variant_id_referrals_required'), ['variant_id', 'referrals_required'])
        batch_op.create_index(batch_op.f('ix_referral_milestones_variant_id'), ['variant_id'], unique=False)
        batch_op.create_index('uq_referral_milestones_default_required', ['referrals_required'], unique=True, sqlite_where=sa.text('variant_id IS NULL'), postgresql_where=sa.text('variant_id IS NULL'))
        batch_op.create_foreign_key(batch_op.f('fk_referral_milestones_variant_id_referral_ladder_variants'), 'referral_ladder_variants', ['variant_id'], ['id'], ondelete='CASCADE')
    with op.batch_alter_table('referral_milestones', schema=None) as batch_op:
        batch_op.alter_column('cost_cents', server_default=None)
        batch_op.alter_column('currency', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('referral_milestones', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_referral_milestones_variant_id_referral_ladder_variants'), type_='foreignkey')
        batch_op.drop_index('uq_referral_milestones_default_required')
        batch_op.drop_index(batch_op.f('ix_referral_milestones_variant_id'))
        batch_op.drop_constraint(batch_op.f('uq_referral_milestones_variant_id_referrals_required'), type_='unique')
        batch_op.create_unique_constraint('uq_referral_milestones_referrals_required', ['referrals_required'])
        batch_op.drop_column('currency')
        batch_op.drop_column('cost_cents')
        batch_op.drop_column('variant_id')
    with op.batch_alter_table('referral_ladder_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_ladder_assignments_variant_assigned')
    op.drop_table('referral_ladder_assignments')
    op.drop_table('referral_ladder_variants')
