"""Reading the transparency log: the signed checkpoint, the key, tiles, entries and proofs.

Proofs are made from the stored tiles (``O(log n)`` tile reads each) for any tree size up to the latest
signed checkpoint; asking beyond it, or for a malformed range, is a 400 that says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import select

from ..core import merkle, tiles
from ..extensions import db
from ..models import LogCheckpoint, LogEntry, LogTile
from . import NotFound, ServiceError, tlog, witness

MAX_ENTRIES = 1000  # per request of /api/v1/log/entries


def latest() -> LogCheckpoint | None:
    return tlog.latest_checkpoint()


def signed_checkpoint() -> str:
    """The latest checkpoint as a signed note: its body, a blank line, the log's signature and the cosignatures."""
    checkpoint = latest()
    if checkpoint is None:
        raise NotFound(_("The log is empty: no checkpoint has been signed yet."))
    return witness.cosigned_note(checkpoint)


@dataclass(frozen=True)
class Cosigner:
    city: str
    witness: str
    cosigned_at: datetime


def cosigners(size: int) -> list[Cosigner]:
    """Who cosigned the checkpoint of ``size`` entries, and when (the time each cosignature carries)."""
    return [Cosigner(row.witness_key.city.name, row.witness_key.name, datetime.fromtimestamp(row.timestamp, UTC))
            for row in witness.cosignatures(size)]


def origin() -> str:
    return tlog.origin()


def verifier_key() -> str:
    """``<origin>+<key ID>+<base64(0x01 ‖ public key)>``."""
    return tlog.log_verifier().encode()


def tree_size() -> int:
    checkpoint = latest()
    return checkpoint.size if checkpoint else 0


def tile(path: str) -> bytes:
    """A stored tile or entry bundle by its ``tlog-tiles`` path (after ``tile/``)."""
    try:
        key = tiles.parse_path("tile/" + path)
    except tiles.TileError as exc:
        raise NotFound(_("No such tile: %(exc)s.", exc=exc)) from exc
    row = db.session.get(LogTile, (key.level, key.index, key.width))
    if row is None:
        raise NotFound(_("No such tile."))
    return bytes(row.data)


def entries(start: int, end: int) -> list[bytes]:
    """The entries with indexes ``start`` ≤ i < ``end`` (at most ``MAX_ENTRIES``, within the signed tree)."""
    size = tree_size()
    if not 0 <= start < end:
        raise ServiceError(_("Ask for 0 ≤ start < end."))
    if end > size:
        raise ServiceError(_("The signed tree has %(size)s entries; end may be at most %(size)s.", size=size))
    if end - start > MAX_ENTRIES:
        raise ServiceError(_("At most %(MAX_ENTRIES)s entries per request.", MAX_ENTRIES=MAX_ENTRIES))
    rows = db.session.scalars(
        select(LogEntry.entry).where(LogEntry.index >= start, LogEntry.index < end).order_by(LogEntry.index)
    )
    return [bytes(entry) for entry in rows]


def _hashes(size: int) -> tiles.TileHashes:
    signed = tree_size()
    if not 1 <= size <= signed:
        raise ServiceError(_("The tree size must be between 1 and the signed size %(signed)s.", signed=signed))
    return tiles.TileHashes(size, tlog.TileStore().read)


def inclusion_proof(index: int, size: int) -> list[bytes]:
    hashes = _hashes(size)
    if not 0 <= index < size:
        raise ServiceError(_("The leaf index must be between 0 and %(value)s.", value=size - 1))
    return merkle.inclusion_proof(hashes.stored, index, size)


def consistency_proof(old_size: int, size: int) -> list[bytes]:
    hashes = _hashes(size)
    if not 1 <= old_size <= size:
        raise ServiceError(_("The old size must be between 1 and %(size)s.", size=size))
    return merkle.consistency_proof(hashes.stored, old_size, size)
