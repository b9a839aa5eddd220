"""The transparency log's evidence for a frozen bundle: the ``log/`` folder of an exported version-2 bundle.

The stored bundle (``bundles.archive``) never changes; the evidence is added when the bundle is exported,
so that ``log/checkpoint`` carries every cosignature the cities' witnesses have gathered for the bundle's
checkpoint by then (``core.bundle_log`` describes the folder, ``signing.verify`` checks it).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from sqlalchemy import func, select

from ..core import bundle_log, log_entry, merkle, tiles
from ..core.bundle import LOG_FORMATS
from ..extensions import db
from ..models import Bundle, LogCheckpoint, LogEntry, WitnessKey
from . import tlog, witness

_SECOND = timedelta(seconds=1)  # frozen_at is cut to the second
_KINDS = (log_entry.SIGNING_OPENED, log_entry.SIGNATURE_ACCEPTED, log_entry.SIGNATURE_WITHDRAWN,
          log_entry.DECLARATION_FROZEN)


def _bundle_entries(manifest: dict[str, object], manifest_sha256: str) -> dict[int, bytes]:
    slug, revision = manifest["declaration_slug"], manifest["revision"]
    found = {}
    for row in db.session.scalars(select(LogEntry).where(LogEntry.kind.in_(_KINDS)).order_by(LogEntry.index)):
        fields = log_entry.parse(bytes(row.entry))
        if fields.get("declaration") != slug or fields.get("revision") != revision:
            continue
        if row.kind == log_entry.DECLARATION_FROZEN and fields["manifest_sha256"] != manifest_sha256:
            continue  # an earlier freeze of another round cannot be: a frozen declaration stays frozen
        found[row.index] = bytes(row.entry)
    return found


def export_archive(bundle: Bundle) -> bytes:
    """The bundle with its ``log/`` evidence (a version-1 bundle, or one the log lacks, is returned as stored)."""
    archive, manifest_bytes = bytes(bundle.archive), bytes(bundle.manifest)
    manifest = json.loads(manifest_bytes)
    if manifest.get("format") not in LOG_FORMATS:
        return archive
    entries = _bundle_entries(manifest, hashlib.sha256(manifest_bytes).hexdigest())
    frozen = [i for i, e in entries.items() if log_entry.parse(e)["kind"] == log_entry.DECLARATION_FROZEN]
    if not frozen:
        return archive
    size = db.session.scalar(select(func.min(LogCheckpoint.size)).where(LogCheckpoint.size > frozen[0]))
    checkpoint = db.session.get(LogCheckpoint, size) if size else None
    if checkpoint is None:
        return archive
    hashes = tiles.TileHashes(checkpoint.size, tlog.TileStore().read)
    proofs = {i: merkle.inclusion_proof(hashes.stored, i, checkpoint.size) for i in entries}
    known = [witness.verifier(key).encode() for key in db.session.scalars(
        select(WitnessKey).where(WitnessKey.created_at < bundle.frozen_at + _SECOND).order_by(WitnessKey.id))
        if key.revoked_at is None or key.revoked_at > bundle.frozen_at]
    files = bundle_log.log_files(witness.cosigned_note(checkpoint), entries, proofs, checkpoint.size, known)
    return bundle_log.add_to_archive(archive, files)
