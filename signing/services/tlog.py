"""The transparency log: entries written with their events, and the sequencer that signs checkpoints.

``append`` adds a pending entry to the caller's transaction (the outbox pattern) and queues the
``log.sequence`` outbox task; the task (in process in the embedded default, a Celery worker otherwise)
runs ``sequence``, which integrates the pending entries in batches. One batch is one transaction: it
locks the ``log_state`` row, gives the entries their indexes, stores the new tiles, checks that the new
tree is consistent with the last signed checkpoint, signs the new checkpoint with the platform key and
deletes the pending rows. A crash anywhere in between rolls all of it back: no entry is lost (it is
still pending) and none is sequenced twice (it is deleted in the transaction that sequences it).

The checkpoint origin is ``PUBLIC_URL`` without its scheme, followed by ``/log``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, current_app
from sqlalchemy import delete, select

from ..core import log_entry, merkle, note, tiles
from ..extensions import db
from ..models import LogCheckpoint, LogEntry, LogPending, LogState, LogTile, utcnow
from . import outbox, platform_key, transactions

log = logging.getLogger(__name__)
TASK_KIND = "log.sequence"
BATCH = 1000


class SequencerError(RuntimeError):
    """The stored log does not extend the last signed checkpoint: nothing is signed."""


def origin() -> str:
    public_url = str(current_app.config["PUBLIC_URL"])
    return public_url.split("://", 1)[-1].rstrip("/") + "/log"


def log_verifier(key: Ed25519PrivateKey | None = None) -> note.Verifier:
    """The note verifier of the log: name = origin, the platform's Ed25519 key."""
    return note.Verifier(origin(), note.ED25519, note.raw_public_key(key or platform_key.load()))


def append(kind: str, *, queue: bool = True, **fields: Any) -> LogPending:
    """Add an entry to the current transaction; it is sequenced after the commit (the caller commits).

    ``queue=False``: the caller sequences it itself in this transaction (``sequence_in_transaction``).
    """
    row = LogPending(kind=kind, entry=log_entry.make(kind, utcnow(), **fields))
    db.session.add(row)
    if queue:
        outbox.queue_task(f"log:{uuid.uuid4().hex}", TASK_KIND, new_key=True)  # two INSERTs, at the commit
    return row


class TileStore:
    """Tiles read from the database (cached), plus the ones a batch is about to add.

    A partial tile of a size that had no checkpoint is the prefix of a wider one (every tile is a prefix
    of the tiles of the same place that came later), so proofs can be made for any size up to the tree's.
    """

    def __init__(self) -> None:
        self._tiles: dict[tiles.TileKey, bytes] = {}

    def read(self, key: tiles.TileKey) -> bytes:
        if key not in self._tiles:
            row = db.session.scalar(
                select(LogTile).where(LogTile.level == key.level, LogTile.index == key.index,
                                      LogTile.width >= key.width).order_by(LogTile.width).limit(1)
            )
            if row is None:
                raise tiles.TileError(f"the log has no tile {key.path()}")
            data = bytes(row.data)
            if key.level == tiles.ENTRIES:
                data = tiles.encode_bundle(tiles.decode_bundle(data)[: key.width])
            else:
                data = data[: key.width * merkle.HASH_BYTES]
            self._tiles[key] = data
        return self._tiles[key]

    def add(self, new: dict[tiles.TileKey, bytes]) -> None:
        self._tiles.update(new)


def _lock_state() -> LogState:
    state = db.session.scalar(select(LogState).where(LogState.id == 1).with_for_update())
    if state is None:
        raise SequencerError("the log_state row is missing (migration 0009)")
    return state


def latest_checkpoint() -> LogCheckpoint | None:
    return db.session.scalar(select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1))


def _integrate(state: LogState, pending: list[LogPending]) -> LogCheckpoint:
    size = state.size
    previous = db.session.get(LogCheckpoint, size) if size else None
    if size and previous is None:
        raise SequencerError(f"no signed checkpoint for the current size {size}")
    store = TileStore()
    entries = [bytes(row.entry) for row in pending]
    new_tiles = tiles.integrate(size, store.read, entries)
    store.add(new_tiles)
    new_size = size + len(entries)
    hashes = tiles.TileHashes(new_size, store.read)
    root = merkle.root(hashes.stored, new_size)
    if previous is not None:
        try:
            merkle.verify_consistency(size, new_size, bytes(previous.root), root,
                                      merkle.consistency_proof(hashes.stored, size, new_size))
        except merkle.ProofError as exc:
            raise SequencerError(f"the stored tree does not extend checkpoint {size}: {exc}") from exc
    for tile, data in new_tiles.items():
        db.session.add(LogTile(level=tile.level, index=tile.index, width=tile.width, data=data))
    for offset, row in enumerate(pending):
        db.session.add(LogEntry(index=size + offset, kind=row.kind, entry=bytes(row.entry), pending_id=row.id))
    db.session.execute(delete(LogPending).where(LogPending.id.in_([row.id for row in pending])))
    text = note.Checkpoint(origin(), new_size, root).text()
    key = platform_key.load()
    checkpoint = LogCheckpoint(size=new_size, root=root, text=text,
                               signature=note.sign(text, log_verifier(key), key).line())
    db.session.add(checkpoint)
    state.size = new_size
    return checkpoint


def sequence_in_transaction() -> LogCheckpoint | None:
    """Sequence every pending entry inside the caller's transaction (the caller commits).

    The freeze does this, so that the checkpoint including its own entry is signed with the bundle.
    """
    state = _lock_state()
    checkpoint = None
    while pending := list(db.session.scalars(select(LogPending).order_by(LogPending.id).limit(BATCH))):
        checkpoint = _integrate(state, pending)
        db.session.flush()
    return checkpoint


def sequence(**_arguments: Any) -> int:
    """Integrate every pending entry, a batch per transaction; returns the tree size."""
    while True:
        state = _lock_state()
        pending = list(db.session.scalars(select(LogPending).order_by(LogPending.id).limit(BATCH)))
        if not pending:
            size = state.size
            transactions.rollback()
            return size
        checkpoint = _integrate(state, pending)
        size = checkpoint.size
        transactions.commit()
        log.info("transparency log: %d entries sequenced, tree size %d", len(pending), size)
        if len(pending) < BATCH:
            return size


def init_app(app: Flask) -> None:
    """Register the sequencer as an outbox task (``append`` queues it)."""
    outbox.register_task(app, TASK_KIND, sequence)
