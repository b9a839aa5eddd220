"""Freezing: bundles, task outbox; frozen data immutable in the database.

Triggers reject UPDATE/DELETE of a frozen declaration, its signatures and withdrawals,
and of any bundle (TRUNCATE too, on PostgreSQL). Revisions were immutable already.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 23:19:38.743477

"""
from alembic import op
import sqlalchemy as sa

from signing.db_triggers import create_append_only, create_frozen_guard, drop_append_only, drop_frozen_guard

GUARDED = ('declarations', 'signatures', 'issued_payloads')


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('arguments', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_tasks')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_tasks_dedupe_key'))
    )
    with op.batch_alter_table('outbox_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_tasks_status'), ['status'], unique=False)

    op.create_table('bundles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('declaration_id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('frozen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('manifest', sa.LargeBinary(), nullable=False),
    sa.Column('archive', sa.LargeBinary(), nullable=False),
    sa.Column('archive_sha256', sa.String(length=64), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('platform_key_fingerprint', sa.String(length=71), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_bundles_declaration_id_declarations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_bundles_revision_id_revisions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bundles')),
    sa.UniqueConstraint('declaration_id', name=op.f('uq_bundles_declaration_id'))
    )
    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('frozen_at', sa.DateTime(timezone=True), nullable=True))
    create_append_only(op, 'bundles')
    for table in GUARDED:
        create_frozen_guard(op, table)


def downgrade():
    for table in GUARDED:
        drop_frozen_guard(op, table)
    drop_append_only(op, 'bundles')
    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.drop_column('frozen_at')

    op.drop_table('bundles')
    with op.batch_alter_table('outbox_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_tasks_status'))

    op.drop_table('outbox_tasks')
