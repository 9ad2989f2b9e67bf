"""core: funnel cells also summed over all time (kind "f:a", "fc:a", "fp:a", day 1970-01-01)

The funnel over all time (the report's default) reads one cell per key instead of one per month
(growth.report_metrics.ALL_TIME). Cells are sums, so the new rows are the month cells summed.

Revision ID: q103
Revises: q102
Create Date: 2026-12-02 14:30:00
"""
from alembic import op


revision = 'q103'
down_revision = 'q102'
branch_labels = None
depends_on = None

KEYS = "newsletter_id, source, campaign, post, metric, bucket, currency"


def upgrade() -> None:
    day = "DATE '1970-01-01'" if op.get_bind().dialect.name == 'postgresql' else "'1970-01-01'"
    op.execute(
        f"INSERT INTO report_cells (kind, day, {KEYS}, n) "
        "SELECT CASE kind WHEN 'f:m' THEN 'f:a' WHEN 'fc:m' THEN 'fc:a' ELSE 'fp:a' END, "
        f"{day}, {KEYS}, sum(n) FROM report_cells "
        f"WHERE kind IN ('f:m', 'fc:m', 'fp:m') GROUP BY kind, {KEYS} HAVING sum(n) <> 0"
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ANALYZE report_cells')


def downgrade() -> None:
    op.execute("DELETE FROM report_cells WHERE kind IN ('f:a', 'fc:a', 'fp:a')")
