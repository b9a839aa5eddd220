"""Verify an endorsement export (``accord.endorsements/1``, built by ``core.endorsement_export``).

``python -m signing.verify EXPORT.zip`` recognises the export by its manifest's format and checks: the
manifest's seal by the platform key (pinned or not), every file's SHA-256 and that no file was added or
removed, ``SHA256SUMS``, and for every statement that it is named by its own SHA-256, parses as its format,
names this declaration, this issuer and the frozen bundle's manifest hash, and is signed by the key its
fingerprint names; that every withdrawal withdraws an endorsement of the export (by the same endorser,
once) and that the counts are the manifest's. Every per-file check (the hashes, the statements, Ed25519) is
``core.ed25519_pool``'s; ``verify_export_file`` runs them on ``jobs`` processes, each reading its own part of the
zip (``core.export_zip``), and ``verify_export`` on files already read. A damaged or hostile export gives FAIL
lines, never an exception.

Standard library, ``cryptography`` and ``signing.core`` only.
"""

from __future__ import annotations

import json
import mmap
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import ed25519_pool, endorsement_log, export_zip, fastparse, payload
from .bundle_log import LogOptions
from .ed25519_pool import Checked, Facts
from .endorsement_export import (
    ENDORSEMENTS,
    EXPORT_FORMAT,
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
_FIXED = frozenset((MANIFEST, MANIFEST_SIG, PLATFORM_KEY, VERIFY, SUMS))
_IN_LAYOUT = re.compile(r"(?:endorsements|withdrawals)/[0-9a-f]{64}\.(?:json|sig)|keys/[0-9a-f]{64}\.pem")
_LAYOUT_LINES = re.compile(r"(?:(?:(?:endorsements|withdrawals)/[0-9a-f]{64}\.(?:json|sig)|keys/[0-9a-f]{64}\.pem|"
                           + "|".join(re.escape(name) for name in sorted(_FIXED)) + r")(?:\n|\Z))*")
_STATEMENT_FOLDERS = (ENDORSEMENTS, WITHDRAWALS)
_EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
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


class _OtherFacts(Exception):
    """The statements were checked against facts the manifest turned out not to state."""


def verify_export(files: dict[str, bytes], report: Report, trusted_platform_key: str | None = None, *,
                  jobs: int = 1, log_options: LogOptions | None = None) -> None:
    """Check the export's files (as ``verifier.read_archive`` reads them) into ``report``, in this process
    (``jobs`` is for ``verify_export_file``)."""
    del jobs
    report.counted = "standing endorsement(s)"
    try:
        facts = _facts(_parsed(files.get(MANIFEST, b""))) or Facts("", "", "", ENDORSEMENT_FORMAT, WITHDRAWAL_FORMAT)
        _verify(files, list(files), lambda: ed25519_pool.check_files(files.items(), facts), facts, report,
                trusted_platform_key, log_options or LogOptions())
    except Exception as exc:  # a bug in the verifier must still never read as a verified export
        report.fail(f"the verifier stopped on an unexpected error: {exc!r}")


def verify_export_file(path: Path | str, trusted_platform_key: str | None = None, *, jobs: int = 1,
                       log_options: LogOptions | None = None) -> Report | None:
    """The export at ``path`` checked with its zip read in parts, on ``jobs`` processes (``core.export_zip``).

    None if it is not an endorsement export, or an archive to read whole (damaged, unusual, laid out otherwise:
    ``verifier.read_archive`` then ``verify_export`` decide, with the same report for an export that reads here).
    """
    try:
        with Path(path).open("rb") as file:
            data = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    report = Report(counted="standing endorsement(s)")
    with data:
        try:
            # The workers start from the facts of the manifest found by its name (the guard in _verify: the
            # manifest read with every file and parsed whole must state them), as the directory is walked.
            found_manifest = export_zip.find(data, MANIFEST)
            if found_manifest is None:
                return None
            entry, manifest = found_manifest
            facts = _facts(_guess(manifest)) if is_export({MANIFEST: manifest}) else None
            if facts is None:
                return None
            with export_zip.Reader(str(path), data, max(1, jobs), facts) as reader:
                found = reader.layout()
                if not any(part.statements for part in found.parts):
                    return None
                others, read = reader.others(found, {entry: manifest})
                if others.get(MANIFEST) != manifest:  # another member of that name (the archive is read whole)
                    return None
                _verify(others, found.names, lambda: reader.results(found, read), facts, report,
                        trusted_platform_key, log_options or LogOptions())
        except (export_zip.Fallback, _OtherFacts):
            return None
        except Exception as exc:  # a bug in the verifier must still never read as a verified export
            report.fail(f"the verifier stopped on an unexpected error: {exc!r}")
    return report


def _parsed(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def _guess(data: bytes) -> dict[str, Any] | None:
    """The manifest's members but its file list, read around it (canonical JSON: "files" comes between
    "endorsements" and "format"). Only a guess, for the workers: the manifest parsed whole must agree."""
    head, tail = data.find(b',"files":{'), data.rfind(b'},"format":')
    first, last = _parsed(data[:head] + b"}"), _parsed(b"{" + data[tail + 2 :])
    if head < 0 or tail < 0 or not isinstance(first, dict) or not isinstance(last, dict):
        return None
    return first | last


def _facts(manifest: Any) -> Facts | None:
    """What the statements must name, from the manifest (None if it does not say)."""
    if not isinstance(manifest, dict):
        return None
    slug, bundle, issuer = (manifest.get(name) for name in ("declaration_slug", "bundle_manifest_sha256", "issuer"))
    if not isinstance(slug, str) or not isinstance(bundle, str) or not isinstance(issuer, str):
        return None
    return Facts(slug, bundle, issuer, ENDORSEMENT_FORMAT, WITHDRAWAL_FORMAT)


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


def _check_listing(present: set[str], others: dict[str, bytes], listed: dict[str, Any], report: Report) -> None:
    """Extra and missing files, SHA256SUMS, and files outside the layout."""
    expected = set(listed) | {MANIFEST, MANIFEST_SIG}
    extra, missing = _Problems(report), _Problems(report)
    for name in sorted(present - expected):
        extra.add(f"{name}: not listed in the manifest (extra file)")
    for name in sorted(expected - present):
        missing.add(f"{name}: listed in the manifest but missing")
    extra.close()
    missing.close()
    ordered = sorted(listed.items())
    sums = others.get(SUMS, b"").decode("ascii", "replace")
    report.check(sums == _sums(ordered), "SHA256SUMS agrees with the manifest")
    # Every name in the layout and every signature with its statement: checked on all the names at once first.
    names = "\n".join(name for name, _ in ordered)
    if names.count("\n") == max(0, len(ordered) - 1) and _LAYOUT_LINES.fullmatch(names) \
            and all(name[:-4] + ".json" in present for name, _ in ordered if name.endswith(".sig")):
        return
    strays = _Problems(report)
    in_layout = _IN_LAYOUT.fullmatch
    for name, _ in ordered:
        if name not in _FIXED and not in_layout(name):
            strays.add(f"{name}: a file the export format does not have")
        elif name.endswith(".sig") and name[:-4] + ".json" not in present:
            strays.add(f"{name}: a signature file without its statement")
    strays.close()


def _sums(ordered: list[tuple[str, Any]]) -> str:
    """What SHA256SUMS must be: a line per listed file but itself, in the order of the names."""
    listed = [(digest, name) for name, digest in ordered if name != SUMS]
    try:  # every digest a string: joined without formatting each line
        return "".join(["\n".join(map("  ".join, listed)), "\n" if listed else ""])
    except TypeError:
        return "".join([f"{digest}  {name}\n" for digest, name in listed])


def _changed(digests: dict[str, str], listed: dict[str, Any], report: Report) -> _Problems:
    """The hashes of every file but the statements and their signatures (checked with the statements). Returns
    the problems of changed files, still open."""
    changed = _Problems(report)
    for name, digest in listed.items():
        present = digests.get(name)
        if present is not None and present != digest and not name.startswith(_STATEMENT_FOLDERS):
            changed.add(f"{name}: SHA-256 differs from the manifest")
    return changed


def _verify(others: dict[str, bytes], names: list[str], checked_files: Callable[[], Checked], facts: Facts,
            report: Report, trusted: str | None, options: LogOptions) -> None:
    """The report, from the files outside the statement and key folders (``others``: read at once), the names of
    all, and every file's checks (``checked_files``: awaited once the manifest and the file list are checked)."""
    log = endorsement_log.split(others)
    manifest = _manifest(others, report)
    if manifest is None:
        return
    if _facts(manifest) != facts:
        raise _OtherFacts
    platform = _seal(others, manifest, report, trusted)
    listed: dict[str, Any] = manifest["files"]
    _check_listing(set(names).difference(log), others, listed, report)
    checked = checked_files()
    digests, outcomes = checked.digests, checked.outcomes
    for name in log:
        digests.pop(name, None)
    # Every file present listed with its SHA-256 and every listed file present (compared at once): none changed.
    unchanged = len(digests) == len(listed) + 2 and \
        listed | {MANIFEST: digests.get(MANIFEST), MANIFEST_SIG: digests.get(MANIFEST_SIG)} == digests
    changed = _changed(digests, listed, report) if not unchanged else _Problems(report)
    problems = _Problems(report)
    statements = [name for folder in (ENDORSEMENTS, WITHDRAWALS)
                  for name in sorted(n for n in outcomes if n.startswith(folder))]
    endorsers: dict[str, str] = {}  # endorsement file -> its endorser id
    withdrawn: dict[str, str] = {}  # endorsement file -> the withdrawal withdrawing it
    bad_signatures = 0
    for name in statements:
        wrong, endorser, withdraws = outcomes[name]
        for file_name in () if unchanged else (name, name[:-5] + ".sig"):
            digest, expected = digests.get(file_name), listed.get(file_name)
            if expected != digest and digest is not None and _differs(expected, digest):
                changed.add(f"{file_name}: SHA-256 differs from the manifest")
        if wrong:
            bad_signatures += any("Ed25519" in problem for problem in wrong)
            problems.add(f"{name}: " + "; ".join(wrong))
        elif name.startswith(ENDORSEMENTS):
            endorsers[name] = str(endorser)
        else:
            _withdrawal(problems, name, str(endorser), withdraws, endorsers, withdrawn)
    changed.close()
    if not changed.count:
        report.ok(f"SHA-256 of every listed file present ({len(digests.keys() & listed.keys())}) matches the "
                  "manifest")
    problems.close()
    report.check(not bad_signatures,
                 f"{len(statements) - bad_signatures} statement(s) signed by the keys they name")
    report.ok(f"{len(endorsers)} endorsement(s) of {facts.slug} and {len(withdrawn)} withdrawal(s) read; "
              f"the frozen bundle's manifest SHA-256 is {facts.bundle}")
    _counts(statements, manifest, report)
    standing_ids = [endorser for name, endorser in endorsers.items() if name not in withdrawn]
    report.check(len(standing_ids) == len(set(standing_ids)), "at most one standing endorsement per endorser")
    hashes = {name: (digests[name], digests.get(name[:-5] + ".sig", _EMPTY_SHA256))
              for name in [*endorsers, *withdrawn.values()]} if log else {}
    endorsement_log.verify(log, hashes, manifest, platform, report, options)
    if not report.failures:
        report.signatures_ok = len(standing_ids)


def _differs(listed: object, digest: str) -> bool:
    """Whether the manifest's hash of a statement or its signature (a hex SHA-256; anything else: not listed)
    differs from the file's."""
    if listed == digest or not isinstance(listed, str) or len(listed) != 64:
        return False
    try:
        return bytes.fromhex(listed) != bytes.fromhex(digest)
    except ValueError:
        return False


def _withdrawal(problems: _Problems, name: str, endorser: str, withdraws: object, endorsers: dict[str, str],
                withdrawn: dict[str, str]) -> bool:
    target = f"{ENDORSEMENTS}{withdraws}.json"
    if target not in endorsers:
        problems.add(f"{name}: withdraws no endorsement of this export")
        return False
    if target in withdrawn:
        problems.add(f"{name}: withdraws {target}, already withdrawn by {withdrawn[target]}")
        return False
    if endorser != endorsers[target]:
        problems.add(f"{name}: withdraws the endorsement of another endorser")
        return False
    withdrawn[target] = name
    return True


def _counts(names: list[str], manifest: dict[str, Any], report: Report) -> None:
    """The manifest's counts are the statements' (files present, whatever their checks said)."""
    withdrawals = sum(1 for name in names if name.startswith(WITHDRAWALS))
    actual = {"endorsements": len(names) - withdrawals, "withdrawn": withdrawals,
              "standing": len(names) - 2 * withdrawals}
    for count in _COUNTS:
        value = manifest.get(count)
        report.check(type(value) is int and value == actual[count],
                     f"the manifest's {count} count {value} is the export's ({actual[count]})")
