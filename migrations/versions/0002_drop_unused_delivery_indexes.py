"""deliveries: drop the indexes on state and provider_message_id

No query looks deliveries up by state alone (eight values; the queries that filter on it
reach rows by id, by send or by subscriber first) or by provider message id (events map back
through custom_args). Each index cost every insert and every state change of a bulk send.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 18:00:00
"""
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = ('core',)
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_deliveries_state', table_name='deliveries')
    op.drop_index('ix_deliveries_provider_message_id', table_name='deliveries')


def downgrade() -> None:
    op.create_index('ix_deliveries_provider_message_id', 'deliveries', ['provider_message_id'], unique=False)
    op.create_index('ix_deliveries_state', 'deliveries', ['state'], unique=False)
