"""content: polls, poll_clicks and poll_votes, one-click polls in posts and sequence steps

Revision ID: s103
Revises: n002
Create Date: 2026-12-02 14:10:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 's103'
down_revision = 'n002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('polls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('question', sa.String(length=300), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('field_name', sa.String(length=40), nullable=True),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('step_id', sa.Integer(), nullable=True),
    sa.Column('created_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_polls_post_id_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['sequence_steps.id'], name=op.f('fk_polls_step_id_sequence_steps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_polls')),
    sa.UniqueConstraint('post_id', 'key', name=op.f('uq_polls_post_id_key')),
    sa.UniqueConstraint('step_id', 'key', name=op.f('uq_polls_step_id_key'))
    )
    op.create_table('poll_clicks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('answer', sa.Integer(), nullable=False),
    sa.Column('at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('is_scanner', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_poll_clicks_delivery_id_deliveries'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_clicks_poll_id_polls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_poll_clicks_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_poll_clicks'))
    )
    op.create_index('ix_poll_clicks_poll_subscriber', 'poll_clicks', ['poll_id', 'subscriber_id'], unique=False)
    op.create_table('poll_votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('answer', sa.Integer(), nullable=False),
    sa.Column('answer_text', sa.String(length=200), nullable=False),
    sa.Column('first_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_votes_poll_id_polls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_poll_votes_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_poll_votes')),
    sa.UniqueConstraint('poll_id', 'subscriber_id', name=op.f('uq_poll_votes_poll_id_subscriber_id'))
    )
    op.create_index(op.f('ix_poll_votes_subscriber_id'), 'poll_votes', ['subscriber_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_poll_votes_subscriber_id'), table_name='poll_votes')
    op.drop_table('poll_votes')
    op.drop_index('ix_poll_clicks_poll_subscriber', table_name='poll_clicks')
    op.drop_table('poll_clicks')
    op.drop_table('polls')
