"""SQL for the immutability triggers, used by the migrations.

Kept out of the migration files so every migration emits the same statements on
SQLite and PostgreSQL. Rows of an append-only table can be inserted, never
updated or deleted (nor truncated, on PostgreSQL).
"""

from __future__ import annotations

from typing import Any

PG_REJECT_FUNCTION = """
CREATE OR REPLACE FUNCTION accord_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'accord: % is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$
"""


def create_append_only(op: Any, table: str) -> None:
    """Reject UPDATE and DELETE (and TRUNCATE on PostgreSQL) of every row of ``table``."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_REJECT_FUNCTION)
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION accord_reject_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION accord_reject_change()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'accord: {table} is append-only ({verb} refused)'); END"
        )


def drop_append_only(op: Any, table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        return
    op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
    op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")


PG_REJECT_FROZEN_FUNCTION = """
CREATE OR REPLACE FUNCTION accord_reject_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    frozen boolean;
BEGIN
    IF TG_TABLE_NAME = 'declarations' THEN
        frozen := OLD.status = 'frozen';
    ELSE
        SELECT d.status = 'frozen' INTO frozen FROM declarations d WHERE d.id = OLD.declaration_id;
    END IF;
    IF frozen THEN
        RAISE EXCEPTION 'accord: % of a frozen declaration cannot change (% refused)', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$
"""


def create_frozen_guard(op: Any, table: str) -> None:
    """Reject UPDATE and DELETE of rows belonging to a frozen declaration (TRUNCATE too, on PostgreSQL).

    ``table`` is ``declarations`` itself or a table with a ``declaration_id`` column.
    """
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_REJECT_FROZEN_FUNCTION)
        op.execute(PG_REJECT_FUNCTION)
        op.execute(
            f"CREATE TRIGGER {table}_frozen_guard BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION accord_reject_frozen()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION accord_reject_change()"
        )
        return
    if table == "declarations":
        condition = "OLD.status = 'frozen'"
    else:
        condition = "(SELECT status FROM declarations WHERE id = OLD.declaration_id) = 'frozen'"
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_frozen_no_{verb.lower()} BEFORE {verb} ON {table} WHEN {condition} "
            f"BEGIN SELECT RAISE(ABORT, 'accord: {table} of a frozen declaration cannot change ({verb} refused)'); "
            "END"
        )


def drop_frozen_guard(op: Any, table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_frozen_guard ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        return
    op.execute(f"DROP TRIGGER IF EXISTS {table}_frozen_no_update")
    op.execute(f"DROP TRIGGER IF EXISTS {table}_frozen_no_delete")


def create_signed_columns_guard(op: Any, table: str, fixed: tuple[str, ...], once: tuple[str, ...],
                                once_set: str) -> None:
    """Rows of ``table`` are never deleted; ``fixed`` columns never change; ``once`` columns change only while
    ``once_set`` is NULL (a withdrawal is written once). Other columns (moderation) may change."""
    fixed_list, once_list = ", ".join(fixed), ", ".join(once)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_REJECT_FUNCTION)
        op.execute(f"CREATE TRIGGER {table}_fixed BEFORE UPDATE OF {fixed_list} OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION accord_reject_change()")
        op.execute(f"CREATE TRIGGER {table}_once BEFORE UPDATE OF {once_list} ON {table} "
                   f"FOR EACH ROW WHEN (OLD.{once_set} IS NOT NULL) EXECUTE FUNCTION accord_reject_change()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION accord_reject_change()")
        return
    op.execute(f"CREATE TRIGGER {table}_fixed BEFORE UPDATE OF {fixed_list} ON {table} "
               f"BEGIN SELECT RAISE(ABORT, 'accord: the signed columns of {table} cannot change'); END")
    op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
               f"BEGIN SELECT RAISE(ABORT, 'accord: {table} is append-only (DELETE refused)'); END")
    op.execute(f"CREATE TRIGGER {table}_once BEFORE UPDATE OF {once_list} ON {table} "
               f"WHEN OLD.{once_set} IS NOT NULL "
               f"BEGIN SELECT RAISE(ABORT, 'accord: the withdrawal of a row of {table} is written once'); END")


def drop_signed_columns_guard(op: Any, table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("fixed", "once", "no_truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{name} ON {table}")
        return
    for name in ("fixed", "no_delete", "once"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_{name}")
