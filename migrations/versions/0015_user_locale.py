"""Users: the interface language each person chose (NULL: none chosen, the browser's Accept-Language decides).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 19:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=16), nullable=True))


def downgrade():
    # A plain ALTER TABLE DROP COLUMN (SQLite >= 3.35 has it): a batch copy would drop and recreate the users
    # table, which most tables' foreign keys refer to.
    op.execute('ALTER TABLE users DROP COLUMN locale')
