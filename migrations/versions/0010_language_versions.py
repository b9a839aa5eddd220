"""Language versions of a revision; the language of comments and amendments.

``revision_versions`` holds one row per language version of a revision (its BCP 47 tag, canonical text,
SHA-256 and whether it is the authoritative one); it is append-only, like ``revisions``. A revision
without rows (every revision saved before this migration) is one authoritative version in English, its
own ``text`` — the code reads it so, and no row is written for it, so nothing already signed changes.
Comments and amendments name the language version they are about (``en`` for the existing ones).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 19:10:00

"""
from alembic import op
import sqlalchemy as sa

from signing.db_triggers import create_append_only, drop_append_only


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('revision_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=35), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('authoritative', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_revision_versions_revision_id_revisions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revision_versions')),
    sa.UniqueConstraint('revision_id', 'tag', name='uq_revision_versions_revision_tag')
    )
    with op.batch_alter_table('revision_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revision_versions_revision_id'), ['revision_id'], unique=False)
    create_append_only(op, 'revision_versions')
    for table in ('comments', 'amendments'):
        op.add_column(table, sa.Column('language', sa.String(length=35), server_default='en', nullable=False))


def downgrade():
    for table in ('comments', 'amendments'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('language')
    drop_append_only(op, 'revision_versions')
    with op.batch_alter_table('revision_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revision_versions_revision_id'))
    op.drop_table('revision_versions')
