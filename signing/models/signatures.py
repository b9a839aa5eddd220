"""Delegates' public keys, issued payloads, signatures, withdrawals and API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .accounts import City, User
from .declarations import Declaration, Revision
from .types import UTCDateTime, utcnow


class SigningKey(db.Model):  # type: ignore[name-defined,misc]
    """A delegate's Ed25519 public key (the private key never reaches the server)."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    fingerprint: Mapped[str] = mapped_column(String(71), unique=True)
    label: Mapped[str] = mapped_column(String(120))
    origin: Mapped[str] = mapped_column(String(20))  # "browser" | "cli"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class PayloadKind(enum.StrEnum):
    SIGNATURE = "signature"
    WITHDRAWAL = "withdrawal"


class IssuedPayload(db.Model):  # type: ignore[name-defined,misc]
    """Bytes issued for signing: valid until ``expires_at``, usable once."""

    __tablename__ = "issued_payloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    key_id: Mapped[int] = mapped_column(ForeignKey("signing_keys.id", ondelete="RESTRICT"))
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="RESTRICT"))
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id", ondelete="RESTRICT"))
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignatureStatus(enum.StrEnum):
    VALID = "valid"
    WITHDRAWN = "withdrawn"
    VOID = "void"  # the declaration went back to consultation before freezing


class Signature(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "signatures"
    __table_args__ = (
        # At most one standing signature per city and revision: of concurrent requests, one wins.
        Index(
            "uq_signatures_one_valid_per_city", "revision_id", "city_id", unique=True,
            sqlite_where=text("status = 'valid'"), postgresql_where=text("status = 'valid'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="RESTRICT"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id", ondelete="RESTRICT"))
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    key_id: Mapped[int] = mapped_column(ForeignKey("signing_keys.id", ondelete="RESTRICT"))
    issued_payload_id: Mapped[int] = mapped_column(ForeignKey("issued_payloads.id", ondelete="RESTRICT"), unique=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    status: Mapped[str] = mapped_column(String(20), default=SignatureStatus.VALID.value)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    declaration: Mapped[Declaration] = relationship()
    revision: Mapped[Revision] = relationship()
    city: Mapped[City] = relationship()
    user: Mapped[User] = relationship()
    key: Mapped[SigningKey] = relationship()


class Withdrawal(db.Model):  # type: ignore[name-defined,misc]
    """A signed statement withdrawing a signature; kept forever, like the signature."""

    __tablename__ = "withdrawals"

    id: Mapped[int] = mapped_column(primary_key=True)
    signature_id: Mapped[int] = mapped_column(ForeignKey("signatures.id", ondelete="RESTRICT"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    key_id: Mapped[int] = mapped_column(ForeignKey("signing_keys.id", ondelete="RESTRICT"))
    issued_payload_id: Mapped[int] = mapped_column(ForeignKey("issued_payloads.id", ondelete="RESTRICT"), unique=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    withdrawn_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    original: Mapped[Signature] = relationship()
    user: Mapped[User] = relationship()
    key: Mapped[SigningKey] = relationship()


class SigningDecline(db.Model):  # type: ignore[name-defined,misc]
    """A city's delegate says their city will not sign this revision, with an optional reason.

    Not a signed statement: a note for the secretariat (the dashboard shows it). It is deleted when the
    delegate changes their mind or the city signs, which stays possible until the declaration is frozen.
    """

    __tablename__ = "signing_declines"
    __table_args__ = (UniqueConstraint("revision_id", "city_id", name="uq_signing_declines_revision_city"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="RESTRICT"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id", ondelete="RESTRICT"))
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(Text, default="")
    declined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    city: Mapped[City] = relationship()
    user: Mapped[User] = relationship()
