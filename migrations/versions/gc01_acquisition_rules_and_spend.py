"""growth: acquisition rules (paid, owned, earned) with their defaults, and ad spend by campaign and month

Revision ID: gc01
Revises: z102
Create Date: 2026-12-03 10:00:00
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'gc01'
down_revision = 'z102'
branch_labels = None
depends_on = None

# The defaults of growth.acquisition_metrics.DEFAULT_RULES when this revision was written.
DEFAULTS = [
    *[("utm_medium", v, "paid") for v in (
        "cpc", "ppc", "cpm", "paid", "paid_social", "paidsocial", "paid_search", "display", "ads",
    )],
    *[("utm_medium", v, "owned") for v in ("email", "newsletter")],
    *[("utm_medium", v, "earned") for v in ("referral", "press", "pr")],
    *[("source", v, "paid") for v in ("paid_recommendation",)],
    *[("source", v, "earned") for v in ("referral", "share", "press", "recommendation", "other_site")],
    *[("source", v, "owned") for v in (
        "website", "form", "post", "embed", "newsletter", "direct", "none", "api", "checkout",
    )],
]


def upgrade() -> None:
    rules = op.create_table('acquisition_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('media_class', sa.String(length=8), nullable=False),
    sa.Column('updated_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acquisition_rules')),
    sa.UniqueConstraint('field', 'value', name=op.f('uq_acquisition_rules_field_value'))
    )
    op.create_table('ad_spend',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign', sa.String(length=200), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ad_spend')),
    sa.UniqueConstraint('campaign', 'month', 'currency', name=op.f('uq_ad_spend_campaign_month_currency'))
    )
    now = dt.datetime.now(dt.UTC)
    op.bulk_insert(rules, [
        {"field": f, "value": v, "media_class": c, "updated_at": now} for f, v, c in DEFAULTS
    ])


def downgrade() -> None:
    op.drop_table('ad_spend')
    op.drop_table('acquisition_rules')
