"""A label for each language version, e.g. "demonstration translation" (shown by the pages, never signed).

Added after 0010 created ``revision_versions``; existing rows get the empty label. The table stays
append-only (its triggers reject UPDATE and DELETE; adding a column with a default updates no row).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 20:05:00

"""
from alembic import op
import sqlalchemy as sa

from signing.db_triggers import create_append_only, drop_append_only


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('revision_versions', sa.Column('label', sa.String(length=100), server_default='', nullable=False))


def downgrade():
    drop_append_only(op, 'revision_versions')  # SQLite's batch mode recreates the table: triggers again after
    with op.batch_alter_table('revision_versions', schema=None) as batch_op:
        batch_op.drop_column('label')
    create_append_only(op, 'revision_versions')
