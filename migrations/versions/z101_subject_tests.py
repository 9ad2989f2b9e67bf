"""content: subject-line tests on sends

Revision ID: z101
Revises: w101
Create Date: 2026-12-02 13:50:00
"""
from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'z101'
down_revision = 'w101'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('subject_tests',
    sa.Column('send_id', sa.Integer(), nullable=False),
    sa.Column('subjects', sa.JSON(), nullable=False),
    sa.Column('share', sa.Double(), nullable=False),
    sa.Column('metric', sa.String(length=16), nullable=False),
    sa.Column('wait_minutes', sa.Integer(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=True),
    sa.Column('per_variant', sa.Integer(), nullable=True),
    sa.Column('started_at', growth.db.UTCDateTime(), nullable=True),
    sa.Column('decide_at', growth.db.UTCDateTime(), nullable=True),
    sa.Column('decided_at', growth.db.UTCDateTime(), nullable=True),
    sa.Column('chosen', sa.Integer(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['send_id'], ['sends.id'], name=op.f('fk_subject_tests_send_id_sends'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('send_id', name=op.f('pk_subject_tests'))
    )


def downgrade() -> None:
    op.drop_table('subject_tests')
