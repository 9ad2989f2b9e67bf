"""core: the publication's branding in the database; newsletters can be archived

Revision ID: d101
Revises: n001
Create Date: 2026-12-02 06:10:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'd101'
down_revision = 'n001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('publication_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('logo_url', sa.String(length=2000), nullable=False),
    sa.Column('brand_color', sa.String(length=7), nullable=False),
    sa.Column('postal_address', sa.String(length=500), nullable=False),
    sa.Column('default_sender', sa.String(length=320), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('updated_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publication_settings'))
    )
    with op.batch_alter_table('newsletters') as batch:
        batch.add_column(sa.Column('archived_at', growth.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('newsletters') as batch:
        batch.drop_column('archived_at')
    op.drop_table('publication_settings')
