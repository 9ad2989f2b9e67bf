"""growth: partners (recommendations between publications), their inbound signups and outbound ticks

Revision ID: v103
Revises: 0002
Create Date: 2026-12-02 15:00:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'v103'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('partners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('website', sa.String(length=500), nullable=False),
    sa.Column('recommended', sa.Boolean(), nullable=False),
    sa.Column('signup_api_url', sa.String(length=500), nullable=True),
    sa.Column('page_url', sa.String(length=500), nullable=True),
    sa.Column('their_code', sa.String(length=100), nullable=True),
    sa.Column('price_per_subscriber_cents', sa.Integer(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partners')),
    sa.UniqueConstraint('code', name=op.f('uq_partners_code'))
    )
    op.create_table('partner_signups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('signed_up_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_partner_signups_partner_id_partners'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_partner_signups_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_signups')),
    sa.UniqueConstraint('subscriber_id', name=op.f('uq_partner_signups_subscriber_id'))
    )
    op.create_index(op.f('ix_partner_signups_partner_id'), 'partner_signups', ['partner_id'], unique=False)
    op.create_table('partner_recommendations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('via', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('clicked_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('subscribed_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_partner_recommendations_partner_id_partners'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_partner_recommendations_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_recommendations')),
    sa.UniqueConstraint('partner_id', 'subscriber_id', name=op.f('uq_partner_recommendations_partner_id_subscriber_id'))
    )
    op.create_index(op.f('ix_partner_recommendations_partner_id'), 'partner_recommendations', ['partner_id'], unique=False)
    op.create_index(op.f('ix_partner_recommendations_subscriber_id'), 'partner_recommendations', ['subscriber_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_partner_recommendations_subscriber_id'), table_name='partner_recommendations')
    op.drop_index(op.f('ix_partner_recommendations_partner_id'), table_name='partner_recommendations')
    op.drop_table('partner_recommendations')
    op.drop_index(op.f('ix_partner_signups_partner_id'), table_name='partner_signups')
    op.drop_table('partner_signups')
    op.drop_table('partners')
