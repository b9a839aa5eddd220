"""Transparency log: pending entries, sequenced entries, tiles, checkpoints and the sequencer's state row.

log_entries, log_tiles and log_checkpoints are append-only (database triggers); log_pending is emptied
by the sequencer in the transaction that sequences its rows.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 15:40:00

"""
from alembic import op
import sqlalchemy as sa

from signing.db_triggers import create_append_only, drop_append_only

APPEND_ONLY = ('log_entries', 'log_tiles', 'log_checkpoints', 'log_cosignatures', 'log_fork_reports')


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('log_pending',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('entry', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_pending')),
    sqlite_autoincrement=True
    )
    op.create_table('log_entries',
    sa.Column('index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('entry', sa.LargeBinary(), nullable=False),
    sa.Column('pending_id', sa.BigInteger(), nullable=False),
    sa.Column('sequenced_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('index', name=op.f('pk_log_entries')),
    sa.UniqueConstraint('pending_id', name=op.f('uq_log_entries_pending_id'))
    )
    with op.batch_alter_table('log_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_entries_kind'), ['kind'], unique=False)
    op.create_table('log_tiles',
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('width', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('level', 'index', 'width', name=op.f('pk_log_tiles'))
    )
    op.create_table('log_checkpoints',
    sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root', sa.LargeBinary(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('size', name=op.f('pk_log_checkpoints'))
    )
    log_state = op.create_table('log_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_state'))
    )
    op.bulk_insert(log_state, [{'id': 1, 'size': 0}])
    op.create_table('witness_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('fingerprint', sa.String(length=71), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('origin', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_witness_keys_city_id_cities'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_witness_keys_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_witness_keys')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_witness_keys_fingerprint')),
    sa.UniqueConstraint('name', name=op.f('uq_witness_keys_name'))
    )
    with op.batch_alter_table('witness_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_witness_keys_city_id'), ['city_id'], unique=False)
    op.create_table('log_cosignatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_size', sa.BigInteger(), nullable=False),
    sa.Column('witness_key_id', sa.Integer(), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_size'], ['log_checkpoints.size'], name=op.f('fk_log_cosignatures_checkpoint_size_log_checkpoints'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['witness_key_id'], ['witness_keys.id'], name=op.f('fk_log_cosignatures_witness_key_id_witness_keys'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_cosignatures')),
    sa.UniqueConstraint('checkpoint_size', 'witness_key_id', name=op.f('uq_log_cosignatures_checkpoint_size'))
    )
    with op.batch_alter_table('log_cosignatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_cosignatures_checkpoint_size'), ['checkpoint_size'], unique=False)
    op.create_table('log_fork_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('witness_key_id', sa.Integer(), nullable=True),
    sa.Column('old_checkpoint', sa.Text(), nullable=False),
    sa.Column('new_checkpoint', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['witness_key_id'], ['witness_keys.id'], name=op.f('fk_log_fork_reports_witness_key_id_witness_keys'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_fork_reports'))
    )
    for table in APPEND_ONLY:
        create_append_only(op, table)


def downgrade():
    for table in APPEND_ONLY:
        drop_append_only(op, table)
    op.drop_table('log_fork_reports')
    with op.batch_alter_table('log_cosignatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_cosignatures_checkpoint_size'))
    op.drop_table('log_cosignatures')
    with op.batch_alter_table('witness_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_witness_keys_city_id'))
    op.drop_table('witness_keys')
    op.drop_table('log_state')
    op.drop_table('log_checkpoints')
    op.drop_table('log_tiles')
    with op.batch_alter_table('log_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_entries_kind'))
    op.drop_table('log_entries')
    op.drop_table('log_pending')
