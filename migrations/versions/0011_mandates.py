"""Mayors' mandates: the mayor role (one per city), issued mandate statements, mandates and their revocations
(append-only), and the declaration's ``require_mandates`` setting.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 19:20:00

"""
from alembic import op
import sqlalchemy as sa

from signing.db_triggers import create_append_only, drop_append_only

APPEND_ONLY = ('mandates', 'mandate_revocations')


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _ts(name, nullable=False):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade():
    # Plain ALTER TABLE ADD COLUMN (no batch copy: the declarations' triggers stay in place).
    op.add_column('declarations', sa.Column('require_mandates', sa.Boolean(), server_default=sa.false(),
                                            nullable=False))
    op.create_index('uq_users_one_mayor_per_city', 'users', ['city_id'], unique=True,
                    sqlite_where=sa.text("role = 'mayor'"), postgresql_where=sa.text("role = 'mayor'"))
    op.create_table('issued_mandate_statements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    _ts('issued_at'), _ts('expires_at'), _ts('used_at', nullable=True),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_issued_mandate_statements_city_id_cities'),
                            ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['key_id'], ['signing_keys.id'],
                            name=op.f('fk_issued_mandate_statements_key_id_signing_keys'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_issued_mandate_statements_user_id_users'),
                            ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issued_mandate_statements')),
    sa.UniqueConstraint('nonce', name=op.f('uq_issued_mandate_statements_nonce')),
    sa.UniqueConstraint('payload_sha256', name=op.f('uq_issued_mandate_statements_payload_sha256'))
    )
    op.create_table('mandates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('mayor_id', sa.Integer(), nullable=False),
    sa.Column('mayor_key_id', sa.Integer(), nullable=False),
    sa.Column('delegate_id', sa.Integer(), nullable=False),
    sa.Column('delegate_key_fingerprints', sa.JSON(), nullable=False),
    sa.Column('scope', sa.String(length=100), nullable=False),
    _ts('valid_from'), _ts('valid_until'),
    sa.Column('issued_statement_id', sa.Integer(), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.LargeBinary(length=64), nullable=False),
    _ts('created_at'),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_mandates_city_id_cities'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['mayor_id'], ['users.id'], name=op.f('fk_mandates_mayor_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['mayor_key_id'], ['signing_keys.id'], name=op.f('fk_mandates_mayor_key_id_signing_keys'),
                            ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['delegate_id'], ['users.id'], name=op.f('fk_mandates_delegate_id_users'),
                            ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['issued_statement_id'], ['issued_mandate_statements.id'],
                            name=op.f('fk_mandates_issued_statement_id_issued_mandate_statements'),
                            ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mandates')),
    sa.UniqueConstraint('issued_statement_id', name=op.f('uq_mandates_issued_statement_id')),
    sa.UniqueConstraint('payload_sha256', name=op.f('uq_mandates_payload_sha256'))
    )
    with op.batch_alter_table('mandates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mandates_city_id'), ['city_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mandates_delegate_id'), ['delegate_id'], unique=False)
    op.create_table('mandate_revocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mandate_id', sa.Integer(), nullable=False),
    sa.Column('mayor_id', sa.Integer(), nullable=False),
    sa.Column('mayor_key_id', sa.Integer(), nullable=False),
    sa.Column('issued_statement_id', sa.Integer(), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('signature', sa.LargeBinary(length=64), nullable=False),
    _ts('revoked_at'),
    sa.ForeignKeyConstraint(['mandate_id'], ['mandates.id'], name=op.f('fk_mandate_revocations_mandate_id_mandates'),
                            ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['mayor_id'], ['users.id'], name=op.f('fk_mandate_revocations_mayor_id_users'),
                            ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['mayor_key_id'], ['signing_keys.id'],
                            name=op.f('fk_mandate_revocations_mayor_key_id_signing_keys'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['issued_statement_id'], ['issued_mandate_statements.id'],
                            name=op.f('fk_mandate_revocations_issued_statement_id_issued_mandate_statements'),
                            ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mandate_revocations')),
    sa.UniqueConstraint('mandate_id', name=op.f('uq_mandate_revocations_mandate_id')),
    sa.UniqueConstraint('issued_statement_id', name=op.f('uq_mandate_revocations_issued_statement_id'))
    )
    for table in APPEND_ONLY:
        create_append_only(op, table)


def downgrade():
    for table in APPEND_ONLY:
        drop_append_only(op, table)
    op.drop_table('mandate_revocations')
    with op.batch_alter_table('mandates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mandates_delegate_id'))
        batch_op.drop_index(batch_op.f('ix_mandates_city_id'))
    op.drop_table('mandates')
    op.drop_table('issued_mandate_statements')
    op.drop_index('uq_users_one_mayor_per_city', table_name='users')
    # A plain ALTER TABLE DROP COLUMN (SQLite >= 3.35 has it): a batch copy would drop and recreate the
    # declarations table, which other tables' foreign keys refer to, and lose its triggers.
    op.execute('ALTER TABLE declarations DROP COLUMN require_mandates')
