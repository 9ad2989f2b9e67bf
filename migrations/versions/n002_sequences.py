"""content: sequences, steps, enrolments and step claims

Revision ID: n002
Revises: c001
Create Date: 2026-12-02 03:20:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'n002'
down_revision = 'c001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sequences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('newsletter_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('trigger', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('archived_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('repeatable', sa.Boolean(), nullable=False),
    sa.Column('holdout_percent', sa.Integer(), nullable=False),
    sa.Column('pitch_wait_days', sa.Integer(), nullable=False),
    sa.Column('welcome_newsletter_id', sa.Integer(), nullable=True),
    sa.Column('created_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['newsletter_id'], ['newsletters.id'], name=op.f('fk_sequences_newsletter_id_newsletters'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['welcome_newsletter_id'], ['newsletters.id'], name=op.f('fk_sequences_welcome_newsletter_id_newsletters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sequences')),
    sa.UniqueConstraint('welcome_newsletter_id', name=op.f('uq_sequences_welcome_newsletter_id'))
    )
    with op.batch_alter_table('sequences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sequences_newsletter_id'), ['newsletter_id'], unique=False)

    op.create_table('sequence_enrolments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sequence_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('holdout', sa.Boolean(), nullable=False),
    sa.Column('trigger', sa.String(length=64), nullable=False),
    sa.Column('enrolled_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_step_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_due_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('waiting_reason', sa.String(length=64), nullable=True),
    sa.Column('waiting_since', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('left_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('left_reason', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['sequence_id'], ['sequences.id'], name=op.f('fk_sequence_enrolments_sequence_id_sequences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_sequence_enrolments_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sequence_enrolments')),
    sa.UniqueConstraint('sequence_id', 'subscriber_id', 'number', name=op.f('uq_sequence_enrolments_sequence_id_subscriber_id_number'))
    )
    with op.batch_alter_table('sequence_enrolments', schema=None) as batch_op:
        batch_op.create_index('ix_sequence_enrolments_next_due_at', ['next_due_at'], unique=False)
        batch_op.create_index('ix_sequence_enrolments_subscriber_state', ['subscriber_id', 'state'], unique=False)

    op.create_table('sequence_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sequence_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('preview', sa.String(length=300), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('delay_minutes', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('window_days', sa.JSON(), nullable=True),
    sa.Column('window_start_hour', sa.Integer(), nullable=True),
    sa.Column('window_end_hour', sa.Integer(), nullable=True),
    sa.Column('condition', sa.String(length=120), nullable=True),
    sa.Column('removed_at', growth.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sequence_id'], ['sequences.id'], name=op.f('fk_sequence_steps_sequence_id_sequences'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sequence_steps'))
    )
    with op.batch_alter_table('sequence_steps', schema=None) as batch_op:
        batch_op.create_index('ix_sequence_steps_sequence_position', ['sequence_id', 'position'], unique=False)

    op.create_table('sequence_step_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('at', growth.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_sequence_step_claims_delivery_id_deliveries'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enrolment_id'], ['sequence_enrolments.id'], name=op.f('fk_sequence_step_claims_enrolment_id_sequence_enrolments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['sequence_steps.id'], name=op.f('fk_sequence_step_claims_step_id_sequence_steps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_sequence_step_claims_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sequence_step_claims')),
    sa.UniqueConstraint('enrolment_id', 'step_id', name=op.f('uq_sequence_step_claims_enrolment_id_step_id'))
    )
    with op.batch_alter_table('sequence_step_claims', schema=None) as batch_op:
        batch_op.create_index('ix_sequence_step_claims_delivery_id', ['delivery_id'], unique=False)
        batch_op.create_index('ix_sequence_step_claims_step_state', ['step_id', 'state'], unique=False)
        batch_op.create_index('ix_sequence_step_claims_subscriber_at', ['subscriber_id', 'at'], unique=False)

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_sequence_open', ['created_at'], unique=False, postgresql_where=sa.text("template = 'sequence' AND state IN ('queued', 'sending')"), sqlite_where=sa.text("template = 'sequence' AND state IN ('queued', 'sending')"))


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_sequence_open', postgresql_where=sa.text("template = 'sequence' AND state IN ('queued', 'sending')"), sqlite_where=sa.text("template = 'sequence' AND state IN ('queued', 'sending')"))

    with op.batch_alter_table('sequence_step_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_sequence_step_claims_subscriber_at')
        batch_op.drop_index('ix_sequence_step_claims_step_state')
        batch_op.drop_index('ix_sequence_step_claims_delivery_id')

    op.drop_table('sequence_step_claims')
    with op.batch_alter_table('sequence_steps', schema=None) as batch_op:
        batch_op.drop_index('ix_sequence_steps_sequence_position')

    op.drop_table('sequence_steps')
    with op.batch_alter_table('sequence_enrolments', schema=None) as batch_op:
        batch_op.drop_index('ix_sequence_enrolments_subscriber_state')
        batch_op.drop_index('ix_sequence_enrolments_next_due_at')

    op.drop_table('sequence_enrolments')
    with op.batch_alter_table('sequences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sequences_newsletter_id'))

    op.drop_table('sequences')
