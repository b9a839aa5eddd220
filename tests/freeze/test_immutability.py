"""Once frozen, the database itself refuses to change what was sealed (SQLite and PostgreSQL triggers)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import BACKENDS
from tests.freeze.conftest import Network, bundle_of, open_for_signature


def refused(sql: str, **params: Any) -> str:
    """Run raw SQL that a trigger must refuse; returns the error message."""
    from signing.extensions import db

    with pytest.raises(DBAPIError) as info:
        db.session.execute(text(sql), params)
        db.session.flush()
    db.session.rollback()
    message = str(info.value.orig)
    assert "accord:" in message, message  # refused by the trigger, not by some other constraint
    return message


def scalar(sql: str, **params: Any) -> Any:
    from signing.extensions import db

    value = db.session.execute(text(sql), params).scalar()
    db.session.rollback()
    return value


def frozen_declaration(network: Network) -> Any:
    declaration = open_for_signature(network, cities=[network.izmir, network.athens])
    network.izmir.sign(declaration)
    network.izmir.withdraw(declaration)
    network.izmir.sign(declaration)
    network.athens.sign(declaration)
    assert bundle_of(declaration) is not None
    return declaration


@BACKENDS
def test_frozen_rows_cannot_be_updated_or_deleted(app: Flask, network: Network) -> None:
    declaration = frozen_declaration(network)
    d = {"d": declaration.id}

    refused("UPDATE declarations SET title = 'Forged' WHERE id = :d", **d)
    refused("UPDATE declarations SET status = 'consultation' WHERE id = :d", **d)
    refused("DELETE FROM declarations WHERE id = :d", **d)
    refused("UPDATE signatures SET status = 'void' WHERE declaration_id = :d", **d)
    refused("UPDATE signatures SET signature = payload WHERE declaration_id = :d", **d)
    refused("DELETE FROM signatures WHERE declaration_id = :d", **d)
    refused("UPDATE issued_payloads SET used_at = NULL WHERE declaration_id = :d", **d)
    refused("DELETE FROM issued_payloads WHERE declaration_id = :d", **d)
    refused("UPDATE bundles SET archive_sha256 = 'x' WHERE declaration_id = :d", **d)
    refused("UPDATE bundles SET archive = manifest WHERE declaration_id = :d", **d)
    refused("DELETE FROM bundles WHERE declaration_id = :d", **d)
    refused("UPDATE withdrawals SET payload = signature")
    refused("DELETE FROM withdrawals")
    refused("DELETE FROM revisions WHERE declaration_id = :d", **d)

    assert scalar("SELECT status FROM declarations WHERE id = :d", **d) == "frozen"
    assert scalar("SELECT count(*) FROM signatures WHERE declaration_id = :d AND status = 'valid'", **d) == 2
    assert scalar("SELECT count(*) FROM bundles") == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no TRUNCATE
def test_truncate_is_refused_on_postgresql(app: Flask, network: Network) -> None:
    frozen_declaration(network)
    for table in ("bundles", "declarations", "signatures", "issued_payloads", "withdrawals"):
        refused(f"TRUNCATE {table} CASCADE")
    assert scalar("SELECT count(*) FROM bundles") == 1
    assert scalar("SELECT count(*) FROM signatures") == 3


@BACKENDS
def test_before_freezing_signatures_and_declarations_still_change(app: Flask, network: Network) -> None:
    from signing.extensions import db

    declaration = open_for_signature(network)
    record = network.izmir.sign(declaration)
    db.session.execute(text("UPDATE signatures SET status = 'void' WHERE id = :s"), {"s": record.id})
    db.session.execute(text("UPDATE signatures SET status = 'valid' WHERE id = :s"), {"s": record.id})
    db.session.execute(text("UPDATE declarations SET title = 'Retitled' WHERE id = :d"), {"d": declaration.id})
    db.session.execute(text("UPDATE issued_payloads SET expires_at = expires_at WHERE declaration_id = :d"),
                       {"d": declaration.id})
    db.session.commit()
    assert scalar("SELECT title FROM declarations WHERE id = :d", d=declaration.id) == "Retitled"
    # Another declaration's freeze does not lock this one.
    other = open_for_signature(network, slug="other", rule="quorum", quorum=1)
    network.athens.sign(other)
    assert bundle_of(other) is not None
    db.session.execute(text("UPDATE signatures SET status = 'withdrawn' WHERE id = :s"), {"s": record.id})
    db.session.commit()
    assert scalar("SELECT status FROM signatures WHERE id = :s", s=record.id) == "withdrawn"
