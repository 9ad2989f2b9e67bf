"""growth: custom_fields and field_values, what operators learn about readers

Revision ID: s102
Revises: 0002
Create Date: 2026-12-02 13:50:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 's102'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('custom_fields',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('on_signup', sa.Boolean(), nullable=False),
    sa.Column('reader_editable', sa.Boolean(), nullable=False),
    sa.Column('created_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('archived_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custom_fields')),
    sa.UniqueConstraint('name', name=op.f('uq_custom_fields_name'))
    )
    op.create_table('field_values',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('field_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.String(length=500), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('updated_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['field_id'], ['custom_fields.id'], name=op.f('fk_field_values_field_id_custom_fields'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_field_values_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_field_values')),
    sa.UniqueConstraint('subscriber_id', 'field_id', name=op.f('uq_field_values_subscriber_id_field_id'))
    )
    op.create_index('ix_field_values_field_value', 'field_values', ['field_id', 'value'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_field_values_field_value', table_name='field_values')
    op.drop_table('field_values')
    op.drop_table('custom_fields')
