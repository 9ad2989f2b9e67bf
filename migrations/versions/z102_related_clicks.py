"""content: clicks on "more like this" links

Revision ID: z102
Revises: z101
Create Date: 2026-12-02 14:20:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'z102'
down_revision = 'z101'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('related_clicks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('from_post_id', sa.Integer(), nullable=False),
    sa.Column('to_post_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('at', growth.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['from_post_id'], ['posts.id'], name=op.f('fk_related_clicks_from_post_id_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_post_id'], ['posts.id'], name=op.f('fk_related_clicks_to_post_id_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_related_clicks'))
    )
    with op.batch_alter_table('related_clicks', schema=None) as batch_op:
        batch_op.create_index('ix_related_clicks_from_post', ['from_post_id', 'channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_related_clicks_to_post_id'), ['to_post_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('related_clicks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_related_clicks_to_post_id'))
        batch_op.drop_index('ix_related_clicks_from_post')
    op.drop_table('related_clicks')
