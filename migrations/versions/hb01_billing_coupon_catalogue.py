"""billing: the coupon catalogue; discounts name their coupon

Revision ID: hb01
Revises: b001
Create Date: 2026-12-02 03:20:00
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'hb01'
down_revision = 'b001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_coupons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_coupon_id', sa.String(length=255), nullable=False),
    sa.Column('percent_off', sa.String(length=32), nullable=True),
    sa.Column('amount_off_cents', sa.Integer(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('currency_options', sa.JSON(), nullable=False),
    sa.Column('duration', sa.String(length=16), nullable=True),
    sa.Column('duration_in_months', sa.Integer(), nullable=True),
    sa.Column('deleted_at', growth.db.UTCDateTime(), nullable=True),
    sa.Column('missing_at', growth.db.UTCDateTime(), nullable=True),
    sa.Column('state_at', growth.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_coupons')),
    sa.UniqueConstraint('stripe_coupon_id', name=op.f('uq_billing_coupons_stripe_coupon_id'))
    )
    with op.batch_alter_table('billing_discounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_coupon_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('missing_at', growth.db.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_billing_discounts_stripe_coupon_id'), ['stripe_coupon_id'], unique=False)
    _note_discounts_known_only_by_id()
    _coupons_from_stored_events()


def _note_discounts_known_only_by_id() -> None:
    """Subscriptions already mirrored name discounts by id: note each once, to be fetched."""
    bind = op.get_bind()
    snapshots = sa.table(
        'billing_subscription_snapshots',
        sa.column('id', sa.Integer()),
        sa.column('stripe_subscription_id', sa.String()),
        sa.column('stripe_customer_id', sa.String()),
        sa.column('discounts', sa.JSON()),
        sa.column('at', growth.db.UTCDateTime()),
    )
    discounts = sa.table(
        'billing_discounts',
        sa.column('stripe_discount_id', sa.String()),
        sa.column('stripe_customer_id', sa.String()),
        sa.column('stripe_subscription_id', sa.String()),
        sa.column('state_at', growth.db.UTCDateTime()),
    )
    known = {row[0] for row in bind.execute(sa.select(discounts.c.stripe_discount_id))}
    new: dict[str, dict] = {}
    for sub_id, customer_id, raw, at in bind.execute(
        sa.select(snapshots.c.stripe_subscription_id, snapshots.c.stripe_customer_id, snapshots.c.discounts, snapshots.c.at)
        .order_by(snapshots.c.id)
    ):
        for item in raw or []:
            if isinstance(item, dict) and item.get('unresolved') and item.get('id'):
                discount_id = str(item['id'])
                if discount_id not in known and discount_id not in new:
                    new[discount_id] = {
                        'stripe_discount_id': discount_id,
                        'stripe_customer_id': customer_id,
                        'stripe_subscription_id': sub_id,
                        'state_at': at or dt.datetime.now(dt.UTC),
                    }
    if new:
        op.bulk_insert(discounts, list(new.values()))


def _coupons_from_stored_events() -> None:
    """Stored events already say more than was kept: each discount's coupon id, and coupon.*
    events that arrived before they were handled (ignored then: applied again by
    process-stripe-events)."""
    bind = op.get_bind()
    events = sa.table(
        'billing_events',
        sa.column('id', sa.Integer()),
        sa.column('type', sa.String()),
        sa.column('payload', sa.JSON()),
        sa.column('processed_at', growth.db.UTCDateTime()),
        sa.column('outcome', sa.String()),
    )
    discounts = sa.table(
        'billing_discounts',
        sa.column('stripe_discount_id', sa.String()),
        sa.column('stripe_coupon_id', sa.String()),
    )
    coupon_of: dict[str, str] = {}
    for (payload,) in bind.execute(
        sa.select(events.c.payload).where(events.c.type.like('customer.discount.%')).order_by(events.c.id)
    ):
        obj = ((payload or {}).get('data') or {}).get('object') or {}
        source = obj.get('source') if isinstance(obj.get('source'), dict) else {}
        coupon = (source or {}).get('coupon') or obj.get('coupon')
        coupon_id = coupon.get('id') if isinstance(coupon, dict) else coupon
        if obj.get('id') and isinstance(coupon_id, str):
            coupon_of[str(obj['id'])] = coupon_id
    for discount_id, coupon_id in coupon_of.items():
        bind.execute(
            discounts.update()
            .where(discounts.c.stripe_discount_id == discount_id, discounts.c.stripe_coupon_id.is_(None))
            .values(stripe_coupon_id=coupon_id)
        )
    bind.execute(
        events.update()
        .where(events.c.type.like('coupon.%'), events.c.outcome == 'ignored')
        .values(processed_at=None, outcome=None)
    )


def downgrade() -> None:
    with op.batch_alter_table('billing_discounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_discounts_stripe_coupon_id'))
        batch_op.drop_column('missing_at')
        batch_op.drop_column('stripe_coupon_id')
    op.drop_table('billing_coupons')
