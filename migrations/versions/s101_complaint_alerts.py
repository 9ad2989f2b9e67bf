"""content: complaint_alerts, the complaint guard's warnings and pauses

Revision ID: s101
Revises: n002
Create Date: 2026-12-02 13:40:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 's101'
down_revision = 'n002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('complaint_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('scope_id', sa.Integer(), nullable=False),
    sa.Column('measure', sa.String(length=16), nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('numerator', sa.Integer(), nullable=False),
    sa.Column('denominator', sa.Integer(), nullable=False),
    sa.Column('too_few', sa.Boolean(), nullable=False),
    sa.Column('created_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('notified_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['confirmed_by'], ['operators.id'], name=op.f('fk_complaint_alerts_confirmed_by_operators'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_alerts')),
    sa.UniqueConstraint('key', name=op.f('uq_complaint_alerts_key'))
    )
    op.create_index(op.f('ix_complaint_alerts_confirmed_at'), 'complaint_alerts', ['confirmed_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_complaint_alerts_confirmed_at'), table_name='complaint_alerts')
    op.drop_table('complaint_alerts')
