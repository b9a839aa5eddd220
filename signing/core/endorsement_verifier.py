"""Verify an endorsement export (``accord.endorsements/1``, built by ``core.endorsement_export``).

``python -m signing.verify EXPORT.zip`` recognises the export by its manifest's format and checks: the
manifest's seal by the platform key (pinned or not), every file's SHA-256 and that no file was added or
removed, ``SHA256SUMS``, and for every statement that it is named by its own SHA-256, parses as its format,
names this declaration, this issuer and the frozen bundle's manifest hash, and is signed by the key its
fingerprint names; that every withdrawal withdraws an endorsement of the export (by the same endorser,
once) and that the counts are the manifest's. The Ed25519 checks run on ``jobs`` processes
(``core.ed25519_pool``). A damaged or hostile export gives FAIL lines, never an exception.

Standard library, ``cryptography`` and ``signing.core`` only.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from . import ed25519_pool, endorsement_log, fastparse, payload
from .bundle_log import LogOptions
from .endorsement_export import (
    ENDORSEMENTS,
    EXPORT_FORMAT,
    KEYS,
    MANIFEST,
    MANIFEST_SIG,
    PLATFORM_KEY,
    SUMS,
    VERIFY,
    WITHDRAWALS,
)
from .verifier import Report

ENDORSEMENT_FORMAT = "accord.endorsement/1"
WITHDRAWAL_FORMAT = "accord.endorsement-withdrawal/1"
_STATEMENT = re.compile(r"(endorsements|withdrawals)/([0-9a-f]{64})\.(json|sig)")
_KEY_FILE = re.compile(r"keys/[0-9a-f]{64}\.pem")
_FIXED = frozenset((MANIFEST, MANIFEST_SIG, PLATFORM_KEY, VERIFY, SUMS))
_STATEMENT_FOLDERS = (ENDORSEMENTS, WITHDRAWALS)
_COUNTS = ("endorsements", "withdrawn", "standing")
MAX_FAILURE_LINES = 200  # per kind of problem; the count of all is always reported


def is_export(files: dict[str, bytes]) -> bool:
    """True if the archive's manifest claims the export format (the bundle verifier handles the others)."""
    # In canonical JSON an unescaped '"format":"…"' can only be a member; the whole manifest is searched, as the
    # file list comes before "format" (some 45 MB for 100,000 endorsements: milliseconds).
    return b'"format":"' + EXPORT_FORMAT.encode() + b'"' in files.get(MANIFEST, b"")


class _Problems:
    """Failures of one kind, the first ``MAX_FAILURE_LINES`` reported one by one and the rest counted."""

    def __init__(self, report: Report) -> None:
        self.report, self.count = report, 0

    def add(self, message: str) -> None:
        self.count += 1
        if self.count <= MAX_FAILURE_LINES:
            self.report.fail(message)
        else:
            self.report.failures += 1

    def close(self) -> None:
        if self.count > MAX_FAILURE_LINES:
            self.report.lines.append(f"FAIL  … and {self.count - MAX_FAILURE_LINES} more such problem(s)")


def verify_export(files: dict[str, bytes], report: Report, trusted_platform_key: str | None = None, *,
                  jobs: int = 1, log_options: LogOptions | None = None) -> None:
    """Check the export's files (as ``verifier.read_archive`` reads them) into ``report``."""
    report.counted = "standing endorsement(s)"
    try:
        _verify(files, report, trusted_platform_key, max(1, jobs), log_options or LogOptions())
    except Exception as exc:  # a bug in the verifier must still never read as a verified export
        report.fail(f"the verifier stopped on an unexpected error: {exc!r}")


def _manifest(files: dict[str, bytes], report: Report) -> dict[str, Any] | None:
    data = files.get(MANIFEST)
    if data is None or MANIFEST_SIG not in files:
        report.fail("manifest.json or manifest.sig missing")
        return None
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        report.fail("manifest.json is not UTF-8 JSON")
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        report.fail("manifest has no file list")
        return None
    report.check(manifest.get("format") == EXPORT_FORMAT, f"manifest format is {EXPORT_FORMAT}")
    try:
        canonical = payload.is_canonical(data, manifest)
    except ValueError:
        canonical = False
    report.check(canonical, "manifest is RFC 8785 canonical JSON")
    for name in ("issuer", "declaration_slug", "bundle_manifest_sha256", "snapshot_at"):
        if not isinstance(manifest.get(name), str):
            report.fail(f"manifest {name} is missing or not a string")
            return None
    return manifest


def _seal(files: dict[str, bytes], manifest: dict[str, Any], report: Report, trusted: str | None) -> bytes | None:
    """Check the manifest's seal; returns the platform's raw key (None if platform.pem is not a key)."""
    platform = fastparse.Keys(files).get(PLATFORM_KEY)
    if platform is None:
        report.fail(f"{PLATFORM_KEY} is not an Ed25519 public key")
        return None
    report.check(platform.fingerprint == manifest.get("platform_key_fingerprint"),
                 f"platform key fingerprint {platform.fingerprint} matches the manifest")
    if trusted is not None:
        report.check(platform.fingerprint == trusted, "platform key is the trusted one")
    report.check(platform.verifies(files[MANIFEST_SIG], files[MANIFEST]), "manifest signature by the platform key")
    return fastparse.public_key_from_pem(files[PLATFORM_KEY])


def _check_files(files: dict[str, bytes], listed: dict[str, Any], report: Report) -> _Problems:
    """Extra and missing files, the hashes of every file but the statements and their signatures (the workers
    hash those), SHA256SUMS, and files outside the layout. Returns the problems of changed files, still open."""
    expected = set(listed) | {MANIFEST, MANIFEST_SIG}
    extra, missing = _Problems(report), _Problems(report)
    for name in sorted(set(files) - expected):
        extra.add(f"{name}: not listed in the manifest (extra file)")
    for name in sorted(expected - set(files)):
        missing.add(f"{name}: listed in the manifest but missing")
    extra.close()
    missing.close()
    sums = files.get(SUMS, b"").decode("ascii", "replace")
    expected_sums = "".join([f"{digest}  {name}\n" for name, digest in sorted(listed.items()) if name != SUMS])
    report.check(sums == expected_sums, "SHA256SUMS agrees with the manifest")
    strays = _Problems(report)
    for name in sorted(listed):
        if name not in _FIXED and not _STATEMENT.fullmatch(name) and not _KEY_FILE.fullmatch(name):
            strays.add(f"{name}: a file the export format does not have")
        elif name.endswith(".sig") and name[:-4] + ".json" not in files:
            strays.add(f"{name}: a signature file without its statement")
    strays.close()
    sha256, changed = hashlib.sha256, _Problems(report)
    for name, digest in listed.items():
        content = files.get(name)
        if content is not None and not name.startswith(_STATEMENT_FOLDERS) and sha256(content).hexdigest() != digest:
            changed.add(f"{name}: SHA-256 differs from the manifest")
    return changed


class _Context:
    """What every statement is checked against, and the problems found with statements."""

    def __init__(self, files: dict[str, bytes], manifest: dict[str, Any], report: Report) -> None:
        self.files, self.report = files, report
        self.slug, self.bundle = manifest["declaration_slug"], manifest["bundle_manifest_sha256"]
        self.problems = _Problems(report)


def _fingerprint(data: bytes) -> str:
    """The hex key fingerprint a statement names, read without parsing it (the workers parse it and check it
    against the key file's key)."""
    start = data.find(b'"key_fingerprint":"sha256:')
    return "" if start < 0 else data[start + 26 : start + 90].decode("ascii", "replace")


def _verify(files: dict[str, bytes], report: Report, trusted: str | None, jobs: int, options: LogOptions) -> None:
    log = endorsement_log.split(files)
    manifest = _manifest(files, report)
    if manifest is None:
        return
    platform = _seal(files, manifest, report, trusted)
    listed: dict[str, Any] = manifest["files"]
    changed = _check_files(files, listed, report)
    context = _Context(files, manifest, report)
    facts = ed25519_pool.Facts(context.slug, context.bundle, manifest["issuer"], ENDORSEMENT_FORMAT,
                               WITHDRAWAL_FORMAT)
    names = [name for folder in (ENDORSEMENTS, WITHDRAWALS)
             for name in sorted(n for n in files if n.startswith(folder) and n.endswith(".json"))]
    with ed25519_pool.Pool(jobs, facts) as pool:
        for name in names:
            data, signature_name = files[name], name[:-5] + ".sig"
            match = _STATEMENT.fullmatch(name)
            pool.add(ed25519_pool.Statement(
                data, files.get(signature_name), files.get(f"{KEYS}{_fingerprint(data)}.pem"),
                bytes.fromhex(match.group(2)) if match else bytes(32), _digest(listed.get(name)),
                _digest(listed.get(signature_name)), name.startswith(WITHDRAWALS)))
        outcomes = pool.results()
    endorsers: dict[str, str] = {}  # endorsement file -> its endorser id
    withdrawn: dict[str, str] = {}  # endorsement file -> the withdrawal withdrawing it
    bad_signatures = 0
    for name, (listing, problems, endorser, withdraws) in zip(names, outcomes, strict=True):
        for suffix in listing:
            changed.add(f"{name[:-5] + suffix if suffix else name}: SHA-256 differs from the manifest")
        bad_signatures += any("Ed25519" in problem for problem in problems)
        if problems:
            context.problems.add(f"{name}: " + "; ".join(problems))
        elif name.startswith(ENDORSEMENTS):
            endorsers[name] = endorser
        else:
            _withdrawal(context, name, endorser, withdraws, endorsers, withdrawn)
    changed.close()
    if not changed.count:
        report.ok(f"SHA-256 of every listed file present ({len(files.keys() & listed.keys())}) matches the manifest")
    context.problems.close()
    report.check(not bad_signatures, f"{len(names) - bad_signatures} statement(s) signed by the keys they name")
    report.ok(f"{len(endorsers)} endorsement(s) of {context.slug} and {len(withdrawn)} withdrawal(s) read; "
              f"the frozen bundle's manifest SHA-256 is {context.bundle}")
    _counts(files, manifest, report)
    standing_ids = [endorser for name, endorser in endorsers.items() if name not in withdrawn]
    report.check(len(standing_ids) == len(set(standing_ids)), "at most one standing endorsement per endorser")
    statements = {name: (files[name], files.get(name[:-5] + ".sig", b"")) for name in [*endorsers, *withdrawn.values()]}
    endorsement_log.verify(log, statements, manifest, platform, report, options)
    if not report.failures:
        report.signatures_ok = len(standing_ids)


def _digest(value: object) -> bytes | None:
    """A manifest's hex SHA-256 as bytes (None if missing or malformed)."""
    if not isinstance(value, str) or len(value) != 64:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def _withdrawal(context: _Context, name: str, endorser: str, withdraws: object, endorsers: dict[str, str],
                withdrawn: dict[str, str]) -> bool:
    target = f"{ENDORSEMENTS}{withdraws}.json"
    if target not in endorsers:
        context.problems.add(f"{name}: withdraws no endorsement of this export")
        return False
    if target in withdrawn:
        context.problems.add(f"{name}: withdraws {target}, already withdrawn by {withdrawn[target]}")
        return False
    if endorser != endorsers[target]:
        context.problems.add(f"{name}: withdraws the endorsement of another endorser")
        return False
    withdrawn[target] = name
    return True


def _counts(files: dict[str, bytes], manifest: dict[str, Any], report: Report) -> None:
    """The manifest's counts are the statements' (files present, whatever their checks said)."""
    listed = {folder: sum(1 for n in files if n.startswith(folder) and n.endswith(".json"))
              for folder in (ENDORSEMENTS, WITHDRAWALS)}
    actual = {"endorsements": listed[ENDORSEMENTS], "withdrawn": listed[WITHDRAWALS],
              "standing": listed[ENDORSEMENTS] - listed[WITHDRAWALS]}
    for count in _COUNTS:
        value = manifest.get(count)
        report.check(type(value) is int and value == actual[count],
                     f"the manifest's {count} count {value} is the export's ({actual[count]})")
