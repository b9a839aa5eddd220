"""The transparency log's evidence in a bundle (``accord.bundle/2``): the ``log/`` folder, built and checked.

The manifest of a version-2 bundle is signed and logged (its SHA-256 is in the ``declaration.frozen``
entry), so the log's evidence cannot be inside it: ``log/`` sits next to the manifest's files, outside its
list, and proves itself instead —

- ``log/checkpoint``: the first checkpoint that includes the bundle's freeze entry, a signed note by the
  log (the platform key, name = origin) with every cosignature gathered when the bundle was exported;
- ``log/entries/<index>.json``: the exact bytes of each log entry of the bundle's revision, signatures,
  withdrawals and freeze;
- ``log/proofs.json``: ``{"tree_size": N, "proofs": {"<index>": [base64 hash, …]}}``, RFC 9162 inclusion
  proofs of those entries in that checkpoint;
- ``log/witnesses.txt``: the witness verifier keys known at freeze time, one a line (informative: only keys
  pinned with ``--witness`` count towards ``--min-witnesses``).

Only the standard library, ``cryptography`` and ``signing.core``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import log_entry, merkle, note

LOG_DIR = "log/"
CHECKPOINT = "log/checkpoint"
PROOFS = "log/proofs.json"
WITNESSES = "log/witnesses.txt"
_ENTRY = re.compile(r"log/entries/(0|[1-9][0-9]{0,18})\.json")
_WITNESS_CITY = re.compile(r".*/witness/([a-z0-9-]+)-[0-9a-f]{8}")


class Report(Protocol):
    def ok(self, message: str) -> None: ...
    def fail(self, message: str) -> None: ...
    def check(self, condition: bool, message: str) -> bool: ...


@dataclass
class LogOptions:
    """What the verifier is asked to require of the log evidence."""

    witnesses: list[note.Verifier] = field(default_factory=list)  # pinned (--witness)
    min_witnesses: int = 0
    newer_checkpoint: str | None = None  # a later signed checkpoint (--checkpoint)
    consistency_proof: list[bytes] | None = None  # from the bundle's size to the newer one

    @property
    def strict(self) -> bool:
        return bool(self.witnesses or self.min_witnesses or self.newer_checkpoint)


def log_files(signed_checkpoint: str, entries: dict[int, bytes], proofs: dict[int, list[bytes]], size: int,
              witness_keys: list[str]) -> dict[str, bytes]:
    files = {CHECKPOINT: signed_checkpoint.encode("utf-8")}
    for index, entry in entries.items():
        files[f"log/entries/{index}.json"] = entry
    body = {"tree_size": size, "proofs": {str(i): [note.b64(h) for h in proofs[i]] for i in sorted(proofs)}}
    files[PROOFS] = json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii")
    files[WITNESSES] = "".join(f"{key}\n" for key in witness_keys).encode("utf-8")
    return files


def add_to_archive(archive: bytes, files: dict[str, bytes]) -> bytes:
    """The bundle zip with ``files`` added under its top-level folder (same time stamps; deterministic)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        infos = source.infolist()
        folder, stamp = infos[0].filename.split("/", 1)[0], infos[0].date_time
        for info in infos:
            target.writestr(info, source.read(info))
        for name in sorted(files):
            member = zipfile.ZipInfo(f"{folder}/{name}", date_time=stamp)
            member.compress_type, member.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            target.writestr(member, files[name])
    return out.getvalue()


def split(files: dict[str, bytes]) -> dict[str, bytes]:
    """Take the ``log/`` files out of a version-2 bundle's files (they are outside the manifest)."""
    return {name: files.pop(name) for name in [n for n in files if n.startswith(LOG_DIR)]}


def _sha(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def verify(log: dict[str, bytes], files: dict[str, bytes], manifest: dict[str, Any], platform_key: bytes | None,
           report: Report, options: LogOptions) -> None:
    """Check the ``log/`` evidence of a version-2 bundle into ``report``."""
    if not log:
        (report.fail if options.strict else report.ok)("no transparency-log evidence (log/) in this bundle")
        return
    if platform_key is None or CHECKPOINT not in log or PROOFS not in log:
        report.fail("log/: checkpoint or proofs.json missing, or no platform key to check them with")
        return
    try:
        checkpoint = _checkpoint(log, manifest, platform_key, report, options)
        if checkpoint is not None:
            _entries(log, files, manifest, checkpoint, report)
            if options.newer_checkpoint is not None:
                _newer(checkpoint, platform_key, report, options)
    except (ValueError, KeyError, TypeError) as exc:  # NoteError, EntryError, malformed JSON: never a crash
        report.fail(f"log/: {exc}")


def _checkpoint(log: dict[str, bytes], manifest: dict[str, Any], platform_key: bytes, report: Report,
                options: LogOptions) -> note.Checkpoint | None:
    text, _ = note.parse_note(log[CHECKPOINT])
    origin = note.parse_checkpoint(text).origin
    log_key = note.Verifier(origin, note.ED25519, platform_key)
    issuer = str(manifest.get("issuer", "")).split("://", 1)[-1].rstrip("/") + "/log"
    report.check(origin == issuer, f"log origin {origin} is the issuer's log")
    bundled = [note.parse_verifier(line) for line in log.get(WITNESSES, b"").decode().splitlines() if line]
    known = {(v.name, v.key_id): v for v in bundled}
    known.update({(v.name, v.key_id): v for v in options.witnesses})
    _, verified, _ = note.open_note(log[CHECKPOINT], [log_key, *known.values()])
    if not report.check(any(v.verifier == log_key for v in verified), "log checkpoint signed by the platform key"):
        return None
    checkpoint = note.parse_checkpoint(text)
    pinned = {(v.name, v.key_id) for v in options.witnesses}
    counted = 0
    for item in verified:
        if item.verifier == log_key:
            continue
        slot = (item.verifier.name, item.verifier.key_id)
        match = _WITNESS_CITY.fullmatch(item.verifier.name)
        city = match.group(1) if match else item.verifier.name
        counted += slot in pinned
        report.ok(f"witnessed by {city} ({item.verifier.name}) at {item.timestamp}"
                  + (", key pinned" if slot in pinned else ", key from the bundle (not pinned)"))
    for missing in sorted(pinned - {(v.verifier.name, v.verifier.key_id) for v in verified}):
        report.ok(f"pinned witness {missing[0]} did not cosign this checkpoint")
    if options.min_witnesses:
        report.check(counted >= options.min_witnesses,
                     f"{counted} pinned witness(es) cosigned the checkpoint; at least {options.min_witnesses} required")
    return checkpoint


def _entries(log: dict[str, bytes], files: dict[str, bytes], manifest: dict[str, Any],
             checkpoint: note.Checkpoint, report: Report) -> None:
    proofs = json.loads(log[PROOFS])
    report.check(proofs.get("tree_size") == checkpoint.size, "log/proofs.json is for the checkpoint's tree size")
    found: dict[str, list[dict[str, Any]]] = {}
    names = [name for name in log if name not in (CHECKPOINT, PROOFS, WITNESSES)]
    for name in sorted(names):
        match = _ENTRY.fullmatch(name)
        if match is None:
            report.fail(f"{name}: not a log file of a bundle")
            continue
        index, data = int(match.group(1)), log[name]
        hashes = [base64.b64decode(h, validate=True) for h in proofs["proofs"].get(str(index), [])]
        try:
            merkle.verify_inclusion(index, checkpoint.size, merkle.leaf_hash(data), hashes, checkpoint.root)
        except merkle.ProofError as exc:
            report.fail(f"{name}: not in the log at index {index} ({exc})")
            continue
        entry = log_entry.parse(data)
        found.setdefault(entry["kind"], []).append(entry)
        report.ok(f"{name}: {entry['kind']} is in the log at index {index}")
    _match(found, files, manifest, report)


def _match(found: dict[str, list[dict[str, Any]]], files: dict[str, bytes], manifest: dict[str, Any],
           report: Report) -> None:
    """Each bundle signature, withdrawal and the freeze has its logged entry, naming exactly these bytes."""
    slug, revision = manifest.get("declaration_slug"), manifest.get("revision")
    mine = {kind: [e for e in entries if e.get("declaration") == slug and e.get("revision") == revision]
            for kind, entries in found.items()}
    frozen = [e for e in mine.get(log_entry.DECLARATION_FROZEN, [])
              if e["manifest_sha256"] == _sha(files.get("manifest.json"))
              and e["text_sha256"] == manifest.get("text_sha256")]
    report.check(len(frozen) == 1, "the freeze (this manifest's SHA-256) is logged")
    opened = mine.get(log_entry.SIGNING_OPENED, [])
    report.check(any(e["text_sha256"] == manifest.get("text_sha256") and e["rule"] == manifest.get("signing_rule")
                     and e["signatories"] == manifest.get("signatories") for e in opened),
                 "the opening of signing (text, rule, signatories) is logged")
    accepted = {(e["payload_sha256"], e["signature_sha256"], e["city"]) for e in mine.get(
        log_entry.SIGNATURE_ACCEPTED, [])}
    withdrawn = {(e["payload_sha256"], e["signature_sha256"], e["withdraws_payload_sha256"]) for e in mine.get(
        log_entry.SIGNATURE_WITHDRAWN, [])}
    signatures = [e for e in manifest.get("signatures", []) if isinstance(e, dict)]
    withdrawals = [e for e in manifest.get("withdrawals", []) if isinstance(e, dict)]
    for entry in [*signatures, *[w.get("signature") or {} for w in withdrawals]]:
        key = (_sha(files.get(str(entry.get("payload_file")))), _sha(files.get(str(entry.get("signature_file")))),
               entry.get("city_slug"))
        report.check(key in accepted, f"the signature of {entry.get('city_slug')} is logged as accepted")
    for item in withdrawals:
        original = item.get("signature") or {}
        key = (_sha(files.get(str(item.get("withdrawal_file")))),
               _sha(files.get(str(item.get("withdrawal_signature_file")))), original.get("payload_sha256"))
        report.check(key in withdrawn, f"the withdrawal by {item.get('city_slug')} is logged")


def _newer(checkpoint: note.Checkpoint, platform_key: bytes, report: Report, options: LogOptions) -> None:
    assert options.newer_checkpoint is not None  # noqa: S101 - the caller checked
    log_key = note.Verifier(checkpoint.origin, note.ED25519, platform_key)
    text, verified, _ = note.open_note(options.newer_checkpoint, [log_key, *options.witnesses])
    newer = note.parse_checkpoint(text)
    if not report.check(any(v.verifier == log_key for v in verified) and newer.origin == checkpoint.origin,
                        f"the newer checkpoint ({newer.size} entries) is signed by the same log"):
        return
    try:
        merkle.verify_consistency(checkpoint.size, newer.size, checkpoint.root, newer.root,
                                  options.consistency_proof or [])
        report.ok(f"the newer checkpoint ({newer.size} entries) extends the bundle's ({checkpoint.size})")
    except merkle.ProofError as exc:
        report.fail(f"the newer checkpoint does not provably extend the bundle's: {exc}")
