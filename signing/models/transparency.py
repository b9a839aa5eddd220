"""The transparency log: entries waiting to be sequenced, the sequenced log, its tiles and checkpoints.

Everything but ``log_pending`` (emptied as entries are sequenced) and ``log_state`` (the size, one row,
the sequencer's lock) is append-only in the database (triggers, migration 0009).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
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
