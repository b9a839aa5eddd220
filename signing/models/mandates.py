"""Mayors' mandates: the signed statements that authorise a delegate's keys to sign for a city.

``mandates`` and ``mandate_revocations`` are append-only (database triggers): a revocation is a row of its
own, never a change to the mandate. ``issued_mandate_statements`` holds the bytes the server issued for a
mayor to sign (single use, short-lived), like ``issued_payloads`` for delegates.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .accounts import City, User
from .signatures import SigningKey
from .types import UTCDateTime, utcnow


class MandateStatementKind(enum.StrEnum):
    MANDATE = "mandate"
    REVOCATION = "revocation"


class IssuedMandateStatement(db.Model):  # type: ignore[name-defined,misc]
    """Bytes issued for a mayor to sign: valid until ``expires_at``, usable once."""

    __tablename__ = "issued_mandate_statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    key_id: Mapped[int] = mapped_column(ForeignKey("signing_keys.id", ondelete="RESTRICT"))
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Mandate(db.Model):  # type: ignore[name-defined,misc]
    """A signed ``accord.mandate/1``; append-only. The columns repeat what the signed bytes say, for queries."""

    __tablename__ = "mandates"

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"), index=True)
    mayor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    mayor_key_id: Mapped[int] = mapped_column(ForeignKey("signing_keys.id", ondelete="RESTRICT"))
    delegate_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    delegate_key_fingerprints: Mapped[list[Any]] = mapped_column(JSON)
    scope: Mapped[str] = mapped_column(String(100))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_statement_id: Mapped[int] = mapped_column(
        ForeignKey("issued_mandate_statements.id", ondelete="RESTRICT"), unique=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    city: Mapped[City] = relationship()
    mayor: Mapped[User] = relationship(foreign_keys=[mayor_id])
    mayor_key: Mapped[SigningKey] = relationship()
    delegate: Mapped[User] = relationship(foreign_keys=[delegate_id])
    revocation: Mapped[MandateRevocation | None] = relationship(back_populates="mandate", uselist=False)

    @property
    def revoked(self) -> bool:
        return self.revocation is not None

    def status(self, now: datetime) -> str:
        if self.revocation is not None:
            return "revoked"
        if now < self.valid_from:
            return "not yet valid"
        if now >= self.valid_until:
            return "expired"
        return "in force"


class MandateRevocation(db.Model):  # type: ignore[name-defined,misc]
    """A signed ``accord.mandate-revocation/1``; append-only, at most one per mandate."""

    __tablename__ = "mandate_revocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    mandate_id: Mapped[int] = mapped_column(ForeignKey("mandates.id", ondelete="RESTRICT"), unique=True)
    mayor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    mayor_key_id: Mapped[int] = mapped_column(ForeignKey("signing_keys.id", ondelete="RESTRICT"))
    issued_statement_id: Mapped[int] = mapped_column(
        ForeignKey("issued_mandate_statements.id", ondelete="RESTRICT"), unique=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    mandate: Mapped[Mandate] = relationship(back_populates="revocation")
    mayor_key: Mapped[SigningKey] = relationship()

