"""referrals: ring signals of the referred reader (hashed networks, user agents, address pattern);
an index on referral_nodes.root_id (a cascade's readers, drawn on the admin page)

Revision ID: u101
Revises: w102
Create Date: 2026-12-02 14:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'u101'
down_revision = 'w102'
branch_labels = None
depends_on = None

COLUMNS = (
    'signup_net_hash',
    'signup_agent_hash',
    'address_pattern_hash',
    'confirm_net_hash',
    'confirm_agent_hash',
)


def upgrade() -> None:
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=64), nullable=True))
    with op.batch_alter_table('referral_nodes', schema=None) as batch_op:
        batch_op.create_index('ix_referral_nodes_root', ['root_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('referral_nodes', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_nodes_root')
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
