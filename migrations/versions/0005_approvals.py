"""Approvals: the consultation act formerly called "endorsement", renamed with its rows.

The table ``endorsements`` becomes ``approvals``; its primary key, unique and foreign-key
constraints and its index are renamed to match (the naming convention of
``signing.extensions``). Every row is kept, ids included. The table has no triggers.

PostgreSQL renames in place (the id sequence too). SQLite cannot rename constraints or
indexes, so the table is recreated under the new name and the rows copied across.

Audit events recorded before this revision keep their action ``endorsement.added`` and
object type ``endorsements``: the audit log is append-only and is not rewritten.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 15:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

OLD, NEW = 'endorsements', 'approvals'
COLUMNS = 'id, declaration_id, revision_id, city_id, user_id, sha256, created_at'
REFERENCES = (('city_id', 'cities'), ('declaration_id', 'declarations'), ('revision_id', 'revisions'),
              ('user_id', 'users'))


def _constraint_names(table):
    """Old or new name of each constraint and index of the table, in a fixed order."""
    names = [f'pk_{table}', f'uq_{table}_revision_city']
    names += [f'fk_{table}_{column}_{target}' for column, target in REFERENCES]
    return names


def _create_table(table):
    """The table as 0002 created it, under ``table`` and with constraint names to match."""
    op.create_table(table,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('declaration_id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    *[sa.ForeignKeyConstraint([column], [f'{target}.id'], name=op.f(f'fk_{table}_{column}_{target}'),
                              ondelete='RESTRICT') for column, target in REFERENCES],
    sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{table}')),
    sa.UniqueConstraint('revision_id', 'city_id', name=f'uq_{table}_revision_city')
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f'ix_{table}_declaration_id'), ['declaration_id'], unique=False)


def _rename(old, new):
    if op.get_bind().dialect.name == 'postgresql':
        op.rename_table(old, new)
        op.execute(f'ALTER SEQUENCE IF EXISTS {old}_id_seq RENAME TO {new}_id_seq')
        op.execute(f'ALTER INDEX ix_{old}_declaration_id RENAME TO ix_{new}_declaration_id')
        for before, after in zip(_constraint_names(old), _constraint_names(new)):
            op.execute(f'ALTER TABLE {new} RENAME CONSTRAINT {before} TO {after}')
        return
    _create_table(new)
    op.execute(f'INSERT INTO {new} ({COLUMNS}) SELECT {COLUMNS} FROM {old}')
    with op.batch_alter_table(old, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f(f'ix_{old}_declaration_id'))
    op.drop_table(old)


def upgrade():
    _rename(OLD, NEW)


def downgrade():
    _rename(NEW, OLD)
