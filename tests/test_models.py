"""Guarantees the database itself gives: append-only audit log, foreign keys, UTC times, hashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from tests.conftest import BACKENDS, PASSWORD, People


def _audit_rows() -> list[tuple[int, str, str]]:
    from signing.extensions import db

    db.session.rollback()
    rows = db.session.execute(text("SELECT id, action, object_id FROM audit_events ORDER BY id"))
    return [tuple(row) for row in rows]


@BACKENDS
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'tampered'",
        "UPDATE audit_events SET details = '{}' WHERE id = (SELECT MIN(id) FROM audit_events)",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE id = (SELECT MAX(id) FROM audit_events)",
    ],
)
def test_audit_events_cannot_be_changed_or_deleted(app: Flask, people: People, statement: str) -> None:
    from signing.extensions import db

    before = _audit_rows()
    assert len(before) >= 6  # two cities and four users were created
    with pytest.raises(DBAPIError) as caught:
        db.session.execute(text(statement))
        db.session.commit()
    assert "append-only" in str(caught.value)
    assert _audit_rows() == before


@BACKENDS
def test_audit_events_cannot_be_changed_through_the_orm(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import AuditEvent

    before = _audit_rows()
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).first()
    assert event is not None
    event.action = "tampered"
    with pytest.raises(DBAPIError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).first())
    with pytest.raises(DBAPIError):
        db.session.commit()
    assert _audit_rows() == before


@BACKENDS
def test_audit_events_can_still_be_added(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.services import audit

    before = _audit_rows()
    audit.record("test.appended", people.city, people.secretariat, note="still allowed")
    db.session.commit()
    after = _audit_rows()
    assert after[: len(before)] == before
    assert after[-1][1:] == ("test.appended", str(people.city.id))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_audit_events_cannot_be_truncated_on_postgresql(app: Flask, people: People) -> None:
    from signing.extensions import db

    before = _audit_rows()
    with pytest.raises(DBAPIError) as caught:
        db.session.execute(text("TRUNCATE audit_events"))
        db.session.commit()
    assert "append-only" in str(caught.value)
    assert _audit_rows() == before


@BACKENDS
def test_foreign_keys_are_enforced(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import City, Role, User

    db.session.add(User(email="ghost@b40.example", display_name="Ghost", role=Role.DELEGATE, city_id=999_999))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    # On every connection, not only the first one (SQLite turns them on per connection).
    with db.engine.connect() as first, db.engine.connect() as second:
        for conn in (first, second):
            with pytest.raises(IntegrityError):
                conn.execute(
                    text(
                        "INSERT INTO users (email, display_name, role, city_id, active, session_epoch, created_at, "
                        "updated_at) VALUES ('raw@b40.example', 'Raw', 'delegate', 999999, :active, 0, "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"active": True},
                )
            conn.rollback()
    # RESTRICT: the database refuses to delete a city that still has delegates.
    with pytest.raises(IntegrityError):
        db.session.execute(text("DELETE FROM cities WHERE id = :id"), {"id": people.city.id})
        db.session.flush()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(City)) == 2
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email == "ghost@b40.example")) == 0


@BACKENDS
def test_utc_datetime_round_trips_as_aware_utc(app: Flask) -> None:
    from signing.extensions import db
    from signing.models import City

    istanbul_time = timezone(timedelta(hours=3))
    moment = datetime(2025, 11, 27, 23, 59, 58, 123456, tzinfo=istanbul_time)
    city = City(name="İzmir", country="Türkiye", slug="izmir", created_at=moment)
    db.session.add(city)
    db.session.commit()
    city_id = city.id
    db.session.expunge_all()

    loaded = db.session.get(City, city_id)
    assert loaded is not None
    assert loaded.created_at == moment
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at == datetime(2025, 11, 27, 20, 59, 58, 123456, tzinfo=UTC)
    # Comparisons in SQL see the UTC instant too.
    found = db.session.scalar(select(City.id).where(City.created_at > datetime(2025, 11, 27, 20, 59, tzinfo=UTC)))
    assert found == city_id
    missing = db.session.scalar(select(City.id).where(City.created_at > datetime(2025, 11, 27, 21, 0, tzinfo=UTC)))
    assert missing is None


@BACKENDS
def test_naive_datetimes_are_refused(app: Flask) -> None:
    from signing.extensions import db
    from signing.models import City

    db.session.add(City(name="Naive", country="Nowhere", slug="naive", created_at=datetime(2025, 1, 1)))
    with pytest.raises(StatementError, match="naive datetime"):
        db.session.commit()
    db.session.rollback()


@BACKENDS
def test_passwords_are_hashed_with_argon2id(app: Flask, people: People) -> None:
    stored = people.delegate.password_hash
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    # The configured cost parameters are the ones used.
    assert f"$m={app.config['ARGON2_MEMORY_COST']},t={app.config['ARGON2_TIME_COST']}," in stored
    assert PasswordHasher().verify(stored, PASSWORD)
    # Two accounts with the same password get different hashes (random salt).
    assert people.delegate.password_hash != people.other_delegate.password_hash


@BACKENDS
def test_timestamps_are_set(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import AuditEvent, utcnow
    from signing.services import accounts

    now = utcnow()
    for row in (people.city, people.delegate):
        assert row.created_at is not None and row.updated_at is not None
        assert row.created_at.utcoffset() == timedelta(0)
        assert now - timedelta(minutes=5) < row.created_at <= now
    events = list(db.session.scalars(select(AuditEvent)))
    assert events
    assert all(e.occurred_at is not None and now - timedelta(minutes=5) < e.occurred_at <= now for e in events)

    created = people.delegate.created_at
    before_update = people.delegate.updated_at
    accounts.update_profile(people.delegate, "İzmir delegate (renamed)", people.secretariat)
    db.session.refresh(people.delegate)
    assert people.delegate.updated_at > before_update
    assert people.delegate.created_at == created
