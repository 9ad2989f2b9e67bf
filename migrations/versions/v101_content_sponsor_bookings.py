"""content: sponsors, their bookings of a slot in a newsletter's send on a day, the rate card

Revision ID: v101
Revises: p101
Create Date: 2026-12-02 14:00:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'v101'
down_revision = 'p101'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sponsors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('contact_email', sa.String(length=320), nullable=False),
    sa.Column('website', sa.String(length=500), nullable=False),
    sa.Column('created_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sponsors')),
    sa.UniqueConstraint('name', name=op.f('uq_sponsors_name'))
    )
    op.create_table('sponsor_bookings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sponsor_id', sa.Integer(), nullable=False),
    sa.Column('newsletter_id', sa.Integer(), nullable=False),
    sa.Column('run_on', sa.Date(), nullable=False),
    sa.Column('slot', sa.String(length=16), nullable=False),
    sa.Column('creative_markdown', sa.Text(), nullable=False),
    sa.Column('creative_html', sa.Text(), nullable=False),
    sa.Column('pricing', sa.String(length=16), nullable=False),
    sa.Column('price_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('send_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['operators.id'], name=op.f('fk_sponsor_bookings_created_by_operators'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['newsletter_id'], ['newsletters.id'], name=op.f('fk_sponsor_bookings_newsletter_id_newsletters'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['send_id'], ['sends.id'], name=op.f('fk_sponsor_bookings_send_id_sends'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sponsor_id'], ['sponsors.id'], name=op.f('fk_sponsor_bookings_sponsor_id_sponsors'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sponsor_bookings')),
    sa.UniqueConstraint('newsletter_id', 'run_on', 'slot', name=op.f('uq_sponsor_bookings_newsletter_id_run_on_slot'))
    )
    op.create_index('ix_sponsor_bookings_send_id', 'sponsor_bookings', ['send_id'], unique=False)
    op.create_table('sponsor_rates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slot', sa.String(length=16), nullable=False),
    sa.Column('pricing', sa.String(length=16), nullable=False),
    sa.Column('price_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('updated_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sponsor_rates')),
    sa.UniqueConstraint('slot', 'pricing', 'currency', name=op.f('uq_sponsor_rates_slot_pricing_currency'))
    )
    op.create_index(op.f('ix_sponsor_bookings_sponsor_id'), 'sponsor_bookings', ['sponsor_id'], unique=False)


def downgrade() -> None:
    op.drop_table('sponsor_rates')
    op.drop_index(op.f('ix_sponsor_bookings_sponsor_id'), table_name='sponsor_bookings')
    op.drop_index('ix_sponsor_bookings_send_id', table_name='sponsor_bookings')
    op.drop_table('sponsor_bookings')
    op.drop_table('sponsors')
