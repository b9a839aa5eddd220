"""Helpers for the transparency log's tests: read the whole log back and check it as an outsider would."""

from __future__ import annotations

from typing import Any

from tests.freeze.conftest import network  # noqa: F401 - the fixture, shared


def log_rows() -> tuple[list[Any], list[Any], list[Any]]:
    """(entries by index, checkpoints by size, pending rows by id)."""
    from sqlalchemy import select

    from signing.extensions import db
    from signing.models import LogCheckpoint, LogEntry, LogPending

    db.session.expire_all()
    entries = list(db.session.scalars(select(LogEntry).order_by(LogEntry.index)))
    checkpoints = list(db.session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size)))
    pending = list(db.session.scalars(select(LogPending).order_by(LogPending.id)))
    return entries, checkpoints, pending


def check_log() -> list[bytes]:
    """Every checkpoint verifies with the log key, has the root of its entries, and extends the one before."""
    from signing.core import merkle, note
    from signing.services import tlog

    entries, checkpoints, _ = log_rows()
    assert [e.index for e in entries] == list(range(len(entries)))
    assert len({e.pending_id for e in entries}) == len(entries)
    tree = merkle.MemoryTree()
    for entry in entries:
        tree.append(bytes(entry.entry))
    verifier = tlog.log_verifier()
    previous = None
    for checkpoint in checkpoints:
        text, verified, _ = note.open_note(checkpoint.text + "\n" + checkpoint.signature, [verifier])
        parsed = note.parse_checkpoint(text)
        assert verified and parsed.origin == tlog.origin() and parsed.size == checkpoint.size
        assert parsed.root == bytes(checkpoint.root) == tree.root(checkpoint.size)
        if previous is not None:
            merkle.verify_consistency(previous.size, checkpoint.size, bytes(previous.root), bytes(checkpoint.root),
                                      tree.consistency_proof(previous.size, checkpoint.size))
        previous = checkpoint
    return [bytes(e.entry) for e in entries]
