"""The transparency log: entries waiting to be sequenced, the sequenced log, its tiles and checkpoints.

Everything but ``log_pending`` (emptied as entries are sequenced), ``log_state`` (the size, one row,
the sequencer's lock) and ``witness_keys`` (revocable) is append-only in the database (triggers, migration 0009).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .accounts import City
from .types import UTCDateTime, utcnow


class LogPending(db.Model):  # type: ignore[name-defined,misc]
    """An entry written in the transaction of its event, waiting for the sequencer.

    Its id names it for good (``log_entries.pending_id``, the outbox key): never reused, on SQLite too.
    """

    __tablename__ = "log_pending"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogEntry(db.Model):  # type: ignore[name-defined,misc]
    """A sequenced entry: its index in the tree is final."""

    __tablename__ = "log_entries"

    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    pending_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    sequenced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogTile(db.Model):  # type: ignore[name-defined,misc]
    """A tlog-tiles tile (``level`` -1: an entry bundle); a partial tile stays once its full one exists."""

    __tablename__ = "log_tiles"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    width: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LogCheckpoint(db.Model):  # type: ignore[name-defined,misc]
    """A signed checkpoint: one per tree size, each consistent with the one before (checked before signing)."""

    __tablename__ = "log_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    text: Mapped[str] = mapped_column(Text)  # the checkpoint body (the note text)
    signature: Mapped[str] = mapped_column(Text)  # the log's signature line
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogState(db.Model):  # type: ignore[name-defined,misc]
    """One row: the size of the sequenced tree. Locked by the sequencer, so one integration runs at a time."""

    __tablename__ = "log_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger, default=0)


class WitnessKey(db.Model):  # type: ignore[name-defined,misc]
    """A city's witness key (Ed25519, ``cosignature/v1``): made and kept by a delegate, in the browser or the CLI.

    ``name`` is its cosigner key name, ``<log origin>/witness/<city>-<first 8 hex digits of the fingerprint>``.
    """

    __tablename__ = "witness_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    fingerprint: Mapped[str] = mapped_column(String(71), unique=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    origin: Mapped[str] = mapped_column(String(20))  # "browser" | "cli"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    city: Mapped[City] = relationship()


class LogCosignature(db.Model):  # type: ignore[name-defined,misc]
    """A witness's ``cosignature/v1`` of one checkpoint (verified when received); one per key and checkpoint."""

    __tablename__ = "log_cosignatures"
    __table_args__ = (UniqueConstraint("checkpoint_size", "witness_key_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checkpoint_size: Mapped[int] = mapped_column(BigInteger, ForeignKey("log_checkpoints.size",
                                                                        ondelete="RESTRICT"), index=True)
    witness_key_id: Mapped[int] = mapped_column(ForeignKey("witness_keys.id", ondelete="RESTRICT"))
    timestamp: Mapped[int] = mapped_column(BigInteger)  # seconds since the epoch, as signed
    line: Mapped[str] = mapped_column(Text)  # the signature line, exactly as received
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    witness_key: Mapped[WitnessKey] = relationship()


class LogForkReport(db.Model):  # type: ignore[name-defined,misc]
    """Evidence from a witness: two checkpoints signed by the log that it could not prove consistent."""

    __tablename__ = "log_fork_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    witness_key_id: Mapped[int | None] = mapped_column(ForeignKey("witness_keys.id", ondelete="RESTRICT"))
    old_checkpoint: Mapped[str] = mapped_column(Text)
    new_checkpoint: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
