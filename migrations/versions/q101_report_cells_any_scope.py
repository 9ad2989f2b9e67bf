"""core: campaign and post funnel cells also summed over any newsletter and/or any source

The funnel's campaign and post breakdowns now read cells keyed (newsletter -1: any, source '':
any) when the report is not filtered by them (growth.report_metrics.breakdown_scopes). Cells are
sums, so the new rows are the existing ones summed: no rebuild needed, erased readers included.

Revision ID: q101
Revises: o1a1
Create Date: 2026-12-02 14:00:00
"""

from alembic import op


revision = "q101"
down_revision = "o1a1"
branch_labels = None
depends_on = None

BREAKDOWNS = "kind IN ('fc:d', 'fc:m', 'fp:d', 'fp:m')"
SCOPES = (  # (newsletter, source, the columns they keep)
    ("-1", "source", ", source"),  # one source, any newsletter
    ("newsletter_id", "''", ", newsletter_id"),  # one newsletter, any source
    ("-1", "''", ""),  # any newsletter, any source
)


def upgrade() -> None:
    for newsletter, source, kept in SCOPES:
        op.execute(
            "INSERT INTO report_cells (kind, day, newsletter_id, source, campaign, post, metric, bucket, "
            f"currency, n) SELECT kind, day, {newsletter}, {source}, campaign, post, metric, bucket, "
            f"currency, sum(n) FROM report_cells WHERE {BREAKDOWNS} AND newsletter_id <> -1 "
            f"AND source <> '' GROUP BY kind, day{kept}, campaign, post, metric, bucket, currency "
            "HAVING sum(n) <> 0"
        )


def downgrade() -> None:
    op.execute(f"DELETE FROM report_cells WHERE {BREAKDOWNS} AND (newsletter_id = -1 OR source = '')")
