"""core: hashes of erased addresses (never imported or mailed again)

Revision ID: o201
Revises: n001
Create Date: 2026-12-02 06:15:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'o201'
down_revision = 'n001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('erased_addresses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('erased_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erased_addresses')),
    sa.UniqueConstraint('address_hash', name=op.f('uq_erased_addresses_address_hash'))
    )


def downgrade() -> None:
    op.drop_table('erased_addresses')
