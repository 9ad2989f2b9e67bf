"""content: topics on posts, uploaded images, the folded search text of posts

Revision ID: w101
Revises: n002
Create Date: 2026-12-02 06:10:00
"""
import re

from alembic import op
import sqlalchemy as sa
import growth.db


revision = 'w101'
down_revision = 'n002'
branch_labels = None
depends_on = None

_TAGS = re.compile(r"<[^>]+>")


def upgrade() -> None:
    op.create_table('topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('created_at', growth.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topics')),
    sa.UniqueConstraint('slug', name=op.f('uq_topics_slug'))
    )
    op.create_table('post_topics',
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_post_topics_post_id_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_post_topics_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('post_id', 'topic_id', name=op.f('pk_post_topics'))
    )
    with op.batch_alter_table('post_topics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_topics_topic_id'), ['topic_id'], unique=False)
    op.create_table('post_images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('alt', sa.String(length=300), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=True),
    sa.Column('storage_key', sa.String(length=200), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', growth.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['operators.id'], name=op.f('fk_post_images_created_by_operators'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_post_images_post_id_posts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_post_images')),
    sa.UniqueConstraint('token', name=op.f('uq_post_images_token'))
    )
    with op.batch_alter_table('post_images', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_images_post_id'), ['post_id'], unique=False)
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=False, server_default=''))
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.alter_column('search_text', server_default=None)
    # Existing posts become findable: the same folding as content.posts.search_text.
    connection = op.get_bind()
    posts = sa.table('posts', sa.column('id', sa.Integer), sa.column('title', sa.String),
                     sa.column('body_html', sa.Text), sa.column('search_text', sa.Text))
    for post_id, title, body_html in connection.execute(sa.select(posts.c.id, posts.c.title, posts.c.body_html)):
        text = " ".join(f"{title or ''} {_TAGS.sub(' ', body_html or '')}".split()).casefold()
        connection.execute(posts.update().where(posts.c.id == post_id).values(search_text=text))


def downgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('search_text')
    with op.batch_alter_table('post_images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_images_post_id'))
    op.drop_table('post_images')
    with op.batch_alter_table('post_topics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_topics_topic_id'))
    op.drop_table('post_topics')
    op.drop_table('topics')
