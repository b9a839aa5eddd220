"""Second factors: a TOTP secret with its recovery codes, passkeys, and WebAuthn challenges."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .accounts import User
from .types import UTCDateTime, utcnow


class TotpSecret(db.Model):  # type: ignore[name-defined,misc]
    """A user's RFC 6238 secret; it protects the login once ``confirmed_at`` is set."""

    __tablename__ = "totp_secrets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    secret: Mapped[str] = mapped_column(String(64))  # base32
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The 30-second time step of the last accepted code: that code and every earlier one are refused.
    last_used_step: Mapped[int | None] = mapped_column()

    user: Mapped[User] = relationship()


class RecoveryCode(db.Model):  # type: ignore[name-defined,misc]
    """A single-use recovery code; only the SHA-256 of the (high-entropy) code is stored."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Passkey(db.Model):  # type: ignore[name-defined,misc]
    """A WebAuthn credential registered by a user."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE_Key
    # WebAuthn user handle: random, the same for all of a user's passkeys.
    user_handle: Mapped[bytes] = mapped_column(LargeBinary(64))
    sign_count: Mapped[int] = mapped_column(default=0)
    transports: Mapped[str] = mapped_column(String(200), default="")  # comma-separated
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class WebAuthnChallenge(db.Model):  # type: ignore[name-defined,misc]
    """A challenge handed to the browser: single use (``used_at``), short-lived (``expires_at``)."""

    __tablename__ = "webauthn_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))  # "register" | "authenticate"
    # The account it was made for; None for a passwordless login (the passkey names the account).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
