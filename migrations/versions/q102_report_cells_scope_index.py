"""core: report_cells indexed by (kind, newsletter, source, day), the way the reports read them

Revision ID: q102
Revises: q101
Create Date: 2026-12-02 14:05:00
"""
from alembic import op


revision = 'q102'
down_revision = 'q101'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('report_cells', schema=None) as batch_op:
        batch_op.create_index('ix_report_cells_scope', ['kind', 'newsletter_id', 'source', 'day'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ANALYZE report_cells')  # q101's new rows: without it the planner sorts them


def downgrade() -> None:
    with op.batch_alter_table('report_cells', schema=None) as batch_op:
        batch_op.drop_index('ix_report_cells_scope')
