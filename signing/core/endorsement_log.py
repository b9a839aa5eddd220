"""The transparency log's evidence in an endorsement export (``--with-log``): the ``log/`` folder, checked.

Every endorsement and withdrawal the platform accepts is an entry of the transparency log
(``endorsement.accepted``, ``endorsement.withdrawn``: ``docs/transparency-log.md``). An export made with
``--with-log`` carries, next to the manifest's files and outside its list (as a bundle's ``log/``):

- ``log/checkpoint``: the latest signed checkpoint at the snapshot, with its cosignatures;
- ``log/entries/<index>.json``: the exact bytes of the entry of each exported statement in that checkpoint;
- ``log/proofs/<index>``: its RFC 9162 inclusion proof in that checkpoint, one base64 hash a line.

``verify`` checks the checkpoint (signed by the platform key, origin the issuer's log, witnesses as for a
bundle), every proof, that every entry names a statement of the export by the SHA-256 of its bytes and of its
signature, and reports how many statements are logged. A statement accepted after the checkpoint is not yet
in it: reported, a failure only when the log is required (``--min-witnesses``, ``--witness``, ``--checkpoint``).
Standard library, ``cryptography`` and ``signing.core`` only.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator
from typing import Any

from . import log_entry, merkle, note
from .bundle_log import CHECKPOINT, LOG_DIR, LogOptions, Report
from .bundle_log import _checkpoint as checkpoint_of  # the same checks as a bundle's checkpoint

_ENTRY = re.compile(r"log/entries/(0|[1-9][0-9]{0,18})\.json")
_PROOF = re.compile(r"log/proofs/(0|[1-9][0-9]{0,18})")
KINDS = (log_entry.ENDORSEMENT_ACCEPTED, log_entry.ENDORSEMENT_WITHDRAWN)


def log_files(signed_checkpoint: str, entries: Iterable[tuple[int, bytes, list[bytes]]]) -> Iterator[tuple[str, bytes]]:
    """The ``log/`` files: the checkpoint, then each ``(index, entry bytes, inclusion proof)``."""
    yield CHECKPOINT, signed_checkpoint.encode("utf-8")
    for index, entry, proof in entries:
        yield f"log/entries/{index}.json", entry
        yield f"log/proofs/{index}", "".join(f"{note.b64(h)}\n" for h in proof).encode("ascii")


def split(files: dict[str, bytes]) -> dict[str, bytes]:
    """Take the ``log/`` files out of an export's files (they are outside the manifest)."""
    return {name: files.pop(name) for name in [n for n in files if n.startswith(LOG_DIR)]}


def verify(log: dict[str, bytes], statements: dict[str, tuple[str, str]], manifest: dict[str, Any],
           platform_key: bytes | None, report: Report, options: LogOptions) -> None:
    """Check the ``log/`` evidence; ``statements``: path of each statement -> the hex SHA-256 of its bytes and of
    its signature."""
    if not log:
        (report.fail if options.strict else report.ok)("no transparency-log evidence (log/) in this export")
        return
    if platform_key is None or CHECKPOINT not in log:
        report.fail("log/: checkpoint missing, or no platform key to check it with")
        return
    try:
        checkpoint = checkpoint_of(log, manifest, platform_key, report, options)
        if checkpoint is not None:
            _entries(log, statements, manifest, checkpoint, report, options)
    except (ValueError, KeyError, TypeError) as exc:  # NoteError, EntryError, bad base64: never a crash
        report.fail(f"log/: {exc}")


def _entries(log: dict[str, bytes], statements: dict[str, tuple[str, str]], manifest: dict[str, Any],
             checkpoint: note.Checkpoint, report: Report, options: LogOptions) -> None:
    by_hashes = {hashes: name for name, hashes in statements.items()}
    logged: set[str] = set()
    bad = 0
    for name in sorted(n for n in log if n != CHECKPOINT and not _PROOF.fullmatch(n)):
        match = _ENTRY.fullmatch(name)
        if match is None:
            report.fail(f"{name}: not a log file of an endorsement export")
            bad += 1
            continue
        index, data = int(match.group(1)), log[name]
        proof = [base64.b64decode(line, validate=True) for line in log.get(f"log/proofs/{index}", b"").split()]
        try:
            merkle.verify_inclusion(index, checkpoint.size, merkle.leaf_hash(data), proof, checkpoint.root)
        except merkle.ProofError as exc:
            report.fail(f"{name}: not in the log at index {index} ({exc})")
            bad += 1
            continue
        entry = log_entry.parse(data)
        statement = by_hashes.get((str(entry.get("payload_sha256")), str(entry.get("signature_sha256"))))
        if entry["kind"] not in KINDS or entry.get("declaration") != manifest.get("declaration_slug") or not statement:
            report.fail(f"{name}: names no statement of this export")
            bad += 1
            continue
        logged.add(statement)
    for name in sorted(n for n in log if (m := _PROOF.fullmatch(n)) and f"log/entries/{m.group(1)}.json" not in log):
        report.fail(f"{name}: a proof without its entry")
        bad += 1
    if not bad:
        report.ok(f"{len(logged)} log entr(y/ies) proven in the checkpoint of {checkpoint.size} entries")
    missing = len(statements) - len(logged)
    message = (f"{len(logged)} of {len(statements)} statement(s) are in the log's checkpoint"
               + (f"; {missing} not (accepted after it, or never logged)" if missing else ""))
    (report.fail if missing and options.strict else report.ok)(message)
