"""The endorsement export of a frozen declaration: a snapshot streamed from the database into a zip on disk.

``export`` is the one service function: the command ``flask --app wsgi export-endorsements SLUG PATH`` calls it,
and so does the outbox task ``export_endorsements`` (``queue``; in production a Celery worker runs it through
``workers.tasks.run_task``). It reads the endorsements in batches (keyset on the statement's SHA-256) inside one
read-only transaction — REPEATABLE READ on PostgreSQL, so every batch sees the same snapshot — and hands them to
``core.endorsement_export.write_export``, which writes each entry to disk as it comes. The zip is written next to
its destination and renamed into place once complete, so a reader never sees half an export.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import aliased

from ..core import endorsement_log, log_entry, merkle, tiles
from ..core.endorsement_export import Header, Item, Summary, Withdrawal, write_export
from ..extensions import db
from ..models import Bundle, Declaration, Endorsement, EndorserKey, LogEntry, utcnow
from . import Conflict, declarations, outbox, platform_key, tlog, transactions, witness

TASK = "export_endorsements"
BATCH = 1000


class ExportError(Conflict):
    code = "export_failed"


def _bundle_manifest_sha256(declaration: Declaration) -> str:
    manifest = db.session.scalar(select(Bundle.manifest).where(Bundle.declaration_id == declaration.id))
    if manifest is None:
        raise Conflict(f"“{declaration.title}” is not frozen: it has no bundle, so no endorsements.",
                       code="not_frozen")
    return hashlib.sha256(manifest).hexdigest()


_WITHDRAWAL_KEY = aliased(EndorserKey)


def _items(declaration_id: int, batch: int) -> Iterator[Item]:
    """Every endorsement moderation has not hidden, by its statement's SHA-256, ``batch`` rows per query."""
    query = (
        select(Endorsement.payload_sha256, Endorsement.payload, Endorsement.signature, EndorserKey.public_key,
               Endorsement.withdrawal_payload, Endorsement.withdrawal_signature, _WITHDRAWAL_KEY.public_key)
        .join(EndorserKey, EndorserKey.id == Endorsement.key_id)
        .outerjoin(_WITHDRAWAL_KEY, _WITHDRAWAL_KEY.id == Endorsement.withdrawal_key_id)
        .where(Endorsement.declaration_id == declaration_id, Endorsement.hidden_at.is_(None))
        .order_by(Endorsement.payload_sha256)
        .limit(batch)
    )
    after = ""
    while True:
        rows = db.session.execute(query.where(Endorsement.payload_sha256 > after)).all()
        for _, data, signature, key, withdrawal, withdrawal_signature, withdrawal_key in rows:
            withdrawn = None
            if withdrawal is not None and withdrawal_signature is not None and withdrawal_key is not None:
                withdrawn = Withdrawal(bytes(withdrawal), bytes(withdrawal_signature), bytes(withdrawal_key))
            yield Item(bytes(data), bytes(signature), bytes(key), withdrawn)
        if len(rows) < batch:
            return
        after = rows[-1][0]


def _hidden_statements(declaration_id: int) -> set[str]:
    """The SHA-256 of the statements (and withdrawals) of hidden endorsements: logged, but not exported."""
    rows = db.session.execute(select(Endorsement.payload_sha256, Endorsement.withdrawal_payload).where(
        Endorsement.declaration_id == declaration_id, Endorsement.hidden_at.is_not(None))).all()
    return {sha for sha, _ in rows} | {hashlib.sha256(bytes(w)).hexdigest() for _, w in rows if w is not None}


def _log(declaration: Declaration) -> Iterator[tuple[str, bytes]]:
    """The ``log/`` files: the latest checkpoint, and the entry and inclusion proof of each exported statement
    in it (read after the statements, in the same snapshot)."""
    checkpoint = tlog.latest_checkpoint()
    if checkpoint is None:
        return
    size, hidden = checkpoint.size, _hidden_statements(declaration.id)
    hashes = tiles.TileHashes(size, tlog.TileStore().read)

    def entries() -> Iterator[tuple[int, bytes, list[bytes]]]:
        query = (select(LogEntry.index, LogEntry.entry).where(LogEntry.kind.in_(endorsement_log.KINDS),
                                                               LogEntry.index < size)
                 .order_by(LogEntry.index).execution_options(yield_per=BATCH))
        for index, data in db.session.execute(query):
            fields = log_entry.parse(bytes(data))
            if fields.get("declaration") == declaration.slug and fields.get("payload_sha256") not in hidden:
                yield index, bytes(data), merkle.inclusion_proof(hashes.stored, index, size)

    yield from endorsement_log.log_files(witness.cosigned_note(checkpoint), entries())


def export(slug: str, path: Path, *, batch: int = BATCH, with_log: bool = False) -> Summary:
    """Write the endorsement export of the frozen declaration ``slug`` to ``path``.

    ``with_log``: add the transparency log's evidence (``core.endorsement_log``). ``NotFound`` (no such
    declaration), ``Conflict`` (not frozen), ``ExportError`` (cannot write ``path``).
    """
    db.session.rollback()  # a fresh transaction, whose first statement fixes the snapshot
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True})
    try:
        declaration = declarations.get(slug)
        header = Header(issuer=str(current_app.config["PUBLIC_URL"]), declaration_slug=declaration.slug,
                        declaration_title=declaration.title,
                        bundle_manifest_sha256=_bundle_manifest_sha256(declaration), snapshot_at=utcnow())
        key = platform_key.load()
        folder = path.resolve().parent
        try:
            handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
        except OSError as exc:
            raise ExportError(f"Cannot write in {folder}: {exc.strerror or exc}") from exc
        try:
            with os.fdopen(handle, "w+b") as output:
                summary = write_export(output, header, _items(declaration.id, batch), key,
                                       _log(declaration) if with_log else ())
                output.flush()
                os.fsync(output.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except OSError as exc:
            raise ExportError(f"Cannot write {path}: {exc.strerror or exc}") from exc
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    finally:
        db.session.rollback()  # read only: nothing to commit, and the snapshot ends here
    return summary


def export_task(slug: str, path: str, with_log: bool = False) -> None:
    """The outbox task: ``export`` (idempotent: a second run writes a newer snapshot in the same place)."""
    export(slug, Path(path), with_log=with_log)


def queue(slug: str, path: Path, *, with_log: bool = False) -> None:
    """Ask for an export, built by a worker (in the embedded default, in this process after the commit)."""
    declaration = declarations.get(slug)
    _bundle_manifest_sha256(declaration)
    moment = utcnow().isoformat()
    outbox.queue_task(f"{TASK}:{declaration.id}:{moment}:{path}", TASK, slug=declaration.slug, path=str(path),
                      with_log=with_log)
    transactions.commit()


def init_app(app: Flask) -> None:
    """Register the outbox task that writes an export (``queue`` queues it)."""
    outbox.register_task(app, TASK, export_task)
