"""Migration 0005: the consultation "endorsements" become "approvals", rows kept, and back again.

A fresh database is migrated to 0004 only, an endorsement is written as 0004 knew it, then the
real migrations run up to head and down to 0004 again, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from tests.conftest import TEST_POSTGRES_URL, _pg_admin, _pg_url, base_overrides, missing

SHA = "ab" * 32


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no migration applied)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    try:
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # any failure means "not available"
        missing("PostgreSQL", f"cannot connect to {TEST_POSTGRES_URL}")
    name = f"accord_m_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def app(empty_url: str, tmp_path: Path) -> Iterator[Flask]:
    from signing import create_app
    from signing.extensions import db

    instance = tmp_path / "instance"
    app = create_app({**base_overrides(instance), "SQLALCHEMY_DATABASE_URI": empty_url}, instance_path=instance)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _sql(statement: str, **values: Any) -> list[Any]:
    from signing.extensions import db

    with db.engine.begin() as conn:
        result = conn.execute(text(statement), values)
        return list(result.all()) if result.returns_rows else []


def _seed_endorsement() -> int:
    """A city, a delegate, a declaration in consultation with one revision, and the city's endorsement of it."""
    now = "CURRENT_TIMESTAMP"
    _sql(f"INSERT INTO cities (name, country, slug, created_at, updated_at) "
         f"VALUES ('İzmir', 'Türkiye', 'izmir', {now}, {now})")
    city = _sql("SELECT id FROM cities WHERE slug = 'izmir'")[0][0]
    _sql(f"INSERT INTO users (email, display_name, role, city_id, active, session_epoch, created_at, updated_at) "
         f"VALUES ('ayse@izmir.example', 'Ayşe', 'delegate', :city, :yes, 0, {now}, {now})", city=city, yes=True)
    user = _sql("SELECT id FROM users WHERE email = 'ayse@izmir.example'")[0][0]
    _sql(f"INSERT INTO declarations (slug, title, status, created_at, updated_at) "
         f"VALUES ('b40', 'B40', 'consultation', {now}, {now})")
    declaration = _sql("SELECT id FROM declarations WHERE slug = 'b40'")[0][0]
    _sql(f"INSERT INTO revisions (declaration_id, number, text, sha256, note, created_at) "
         f"VALUES (:declaration, 1, 'Text.', :sha, '', {now})", declaration=declaration, sha=SHA)
    revision = _sql("SELECT id FROM revisions WHERE declaration_id = :d", d=declaration)[0][0]
    _sql(f"INSERT INTO endorsements (declaration_id, revision_id, city_id, user_id, sha256, created_at) "
         f"VALUES (:declaration, :revision, :city, :user, :sha, {now})",
         declaration=declaration, revision=revision, city=city, user=user, sha=SHA)
    rows = _sql("SELECT id FROM endorsements")
    assert len(rows) == 1
    return int(rows[0][0])


def _names(table: str) -> dict[str, Any]:
    """Every name the database gives the table's constraints and indexes."""
    from signing.extensions import db

    # Fresh connections: a pooled SQLite connection can answer PRAGMA index_list from a statement it
    # prepared before the table of the same name was recreated (the database itself is right).
    db.engine.dispose()
    inspector = inspect(db.engine)
    return {
        "pk": inspector.get_pk_constraint(table)["name"],
        "unique": sorted(u["name"] for u in inspector.get_unique_constraints(table)),
        "foreign": sorted(f["name"] for f in inspector.get_foreign_keys(table)),
        "indexes": sorted(i["name"] for i in inspector.get_indexes(table) if not i.get("unique")),
    }


def _expected(table: str) -> dict[str, Any]:
    return {
        "pk": f"pk_{table}",
        "unique": [f"uq_{table}_revision_city"],
        "foreign": sorted(f"fk_{table}_{column}" for column in (
            "city_id_cities", "declaration_id_declarations", "revision_id_revisions", "user_id_users")),
        "indexes": [f"ix_{table}_declaration_id"],
    }


def _tables() -> set[str]:
    from signing.extensions import db

    return set(inspect(db.engine).get_table_names())


def test_endorsements_become_approvals_and_back(app: Flask) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from flask_migrate import downgrade, upgrade

    from signing.extensions import db
    from signing.models import Approval

    upgrade(revision="0004")
    old_id = _seed_endorsement()
    before = _sql("SELECT id, declaration_id, revision_id, city_id, user_id, sha256 FROM endorsements")

    upgrade(revision="0005")
    assert "endorsements" not in _tables() and "approvals" in _tables()
    upgrade()  # to head (where 0012 makes a new, unrelated "endorsements" table: of frozen declarations)
    with db.engine.connect() as conn:  # the models (Approval included) describe the migrated schema
        assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []
    assert _names("approvals") == _expected("approvals")
    assert _sql("SELECT id, declaration_id, revision_id, city_id, user_id, sha256 FROM approvals") == before
    if db.engine.dialect.name == "postgresql":
        assert _sql("SELECT pg_get_serial_sequence('approvals', 'id')") == [("public.approvals_id_seq",)]

    # The model reads the old row as an approval; the renamed unique constraint still holds.
    approval = db.session.get(Approval, old_id)
    assert approval is not None
    assert (approval.sha256, approval.revision.number, approval.city.slug, approval.user.email) == (
        SHA, 1, "izmir", "ayse@izmir.example")
    assert approval.created_at.tzinfo is not None
    duplicate = Approval(declaration_id=approval.declaration_id, revision_id=approval.revision_id,
                         city_id=approval.city_id, user_id=approval.user_id, sha256=SHA)
    db.session.add(duplicate)
    with pytest.raises(IntegrityError, match="uq_approvals_revision_city|UNIQUE constraint failed: approvals"):
        db.session.commit()
    db.session.rollback()

    # A new row takes a new id (on PostgreSQL, from the renamed sequence).
    _sql("INSERT INTO revisions (declaration_id, number, text, sha256, note, created_at) "
         "VALUES (:d, 2, 'Text 2.', :sha, '', CURRENT_TIMESTAMP)", d=approval.declaration_id, sha="cd" * 32)
    second_revision = _sql("SELECT id FROM revisions WHERE number = 2")[0][0]
    newer = Approval(declaration_id=approval.declaration_id, revision_id=second_revision,
                     city_id=approval.city_id, user_id=approval.user_id, sha256="cd" * 32)
    db.session.add(newer)
    db.session.commit()
    new_id = newer.id
    assert new_id > old_id  # PostgreSQL spent one value on the refused duplicate
    db.session.remove()

    downgrade(revision="0004")
    assert "approvals" not in _tables() and "endorsements" in _tables()
    assert _names("endorsements") == _expected("endorsements")
    rows = _sql("SELECT id, sha256 FROM endorsements ORDER BY id")
    assert rows == [(old_id, SHA), (new_id, "cd" * 32)]
    if db.engine.dialect.name == "postgresql":
        assert _sql("SELECT pg_get_serial_sequence('endorsements', 'id')") == [("public.endorsements_id_seq",)]

    upgrade()  # and up again: the round trip is repeatable
    assert _sql("SELECT id FROM approvals ORDER BY id") == [(old_id,), (new_id,)]
    assert _names("approvals") == _expected("approvals")
