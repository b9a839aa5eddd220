"""Verify a frozen declaration bundle: ``python -m signing.verify BUNDLE.zip``.

Needs only the standard library and ``cryptography``. Prints a report, one line
per check and per signature, and exits non-zero on any failure: a changed byte
in any file, an extra or missing file, a signature over another text, or a
manifest that does not match the signature files.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import bundle_log, fastparse, note, payload, statements, strict_zip, verifier_mandates
from .bundle import (
    BUNDLE_FORMAT_V3,
    BUNDLE_FORMATS,
    LOG_FORMATS,
    MANIFEST,
    MANIFEST_SIG,
    PLATFORM_KEY,
    SEAL_CERTIFICATE,
    SUMS,
    TEXT,
    version_file,
)

MAX_MEMBER_BYTES = 50 * 1024 * 1024
MIN_SHARE = 256  # signatures per thread, at least: fewer are not worth a thread


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    failures: int = 0
    signatures_ok: int = 0
    counted: str = "signature(s)"  # what ``signatures_ok`` counts, for the summary

    def ok(self, message: str) -> None:
        self.lines.append(f"OK    {message}")

    def fail(self, message: str) -> None:
        self.failures += 1
        self.lines.append(f"FAIL  {message}")

    def check(self, condition: bool, message: str) -> bool:
        (self.ok if condition else self.fail)(message)
        return condition

    def reserve(self) -> int:
        """A place for a line that ``settle`` writes later, so that the lines keep the order of the checks."""
        self.lines.append("")
        return len(self.lines) - 1

    def settle(self, index: int, condition: bool, message: str) -> None:
        if not condition:
            self.failures += 1
        self.lines[index] = f"{'OK   ' if condition else 'FAIL '} {message}"


def read_zip(source: Path | str | bytes, report: Report) -> dict[str, bytes]:
    """Every file of the archive, by its path inside the one top-level folder."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        members = strict_zip.read_members(data, MAX_MEMBER_BYTES)
    except strict_zip.Unusual:  # well-formed, but beyond the strict reader: zipfile decides
        members = strict_zip.read_with_zipfile(data, MAX_MEMBER_BYTES)
    folder = next(iter(members), "").split("/", 1)[0] + "/"
    cut = len(folder)
    files = {name[cut:]: content for name, content in members.items() if name.startswith(folder)}
    if not files or len(files) != len(members):
        report.fail("the archive must hold exactly one top-level folder")
        return {}
    for name in [name for name in files if name.startswith("/") or ".." in name and ".." in name.split("/")]:
        report.fail(f"unsafe or duplicate member name {folder + name!r}")
        del files[name]
    return files


def verify_bundle(source: Path | str | bytes, trusted_platform_key: str | None = None, *, jobs: int = 1,
                  log_options: bundle_log.LogOptions | None = None) -> Report:
    """Check a bundle (its path or its bytes). A damaged or hostile bundle gives FAIL lines, never an exception.

    ``jobs``: threads for the Ed25519 checks (``cryptography`` releases the GIL while it verifies); the
    report is the same whatever the number.
    """
    report, files = read_archive(source)
    if files:
        verify_files(files, report, trusted_platform_key, jobs=jobs, log_options=log_options)
    return report


def read_archive(source: Path | str | bytes) -> tuple[Report, dict[str, bytes]]:
    """A new report and the archive's files by their path inside its one folder (none if it is unreadable)."""
    report = Report()
    try:
        return report, read_zip(source, report)
    # What ziputil (BadArchive, a ValueError) or zipfile raise for a damaged, encrypted or exotic archive.
    except (ValueError, struct.error, zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError,
            RuntimeError) as exc:
        report.fail(f"cannot read the archive: {exc}")
        return report, {}


def verify_files(files: dict[str, bytes], report: Report, trusted_platform_key: str | None = None, *,
                 jobs: int = 1, log_options: bundle_log.LogOptions | None = None) -> None:
    """``verify_bundle`` on the files ``read_archive`` read."""
    try:
        _verify_files(files, trusted_platform_key, report, max(1, jobs), log_options or bundle_log.LogOptions())
    except Exception as exc:  # a bug in the verifier must still never read as a verified bundle
        report.fail(f"the verifier stopped on an unexpected error: {exc!r}")


def _verify_files(files: dict[str, bytes], trusted_platform_key: str | None, report: Report, jobs: int,
                  log_options: bundle_log.LogOptions) -> None:
    manifest = _check_manifest(files, report)
    if manifest is None:
        return
    log_files = bundle_log.split(files) if manifest.get("format") in LOG_FORMATS else None
    keys = fastparse.Keys(files)
    platform = keys.get(PLATFORM_KEY)
    if platform is None:
        report.fail("platform.pem is not an Ed25519 public key")
    else:
        report.check(platform.fingerprint == manifest.get("platform_key_fingerprint"),
                     f"platform key fingerprint {platform.fingerprint} matches the manifest")
        if trusted_platform_key is not None:
            report.check(platform.fingerprint == trusted_platform_key, "platform key is the trusted one")
        report.check(platform.verifies(files[MANIFEST_SIG], files[MANIFEST]),
                     "manifest signature by the platform key")

    digests = _check_files(files, manifest["files"], report)
    if manifest.get("format") in LOG_FORMATS:
        _check_seal_certificate(files, manifest, report)
    text_sha = digests.get(TEXT) or hashlib.sha256(b"").hexdigest()
    report.check(text_sha == manifest.get("text_sha256"), f"declaration.md SHA-256 {text_sha}")
    versions = (_check_versions(manifest, digests, report)
                if manifest.get("format") == BUNDLE_FORMAT_V3 and "versions" in manifest else None)

    payload_files = {n for n in files if n.endswith(".json") and n.startswith(("signatures/", "withdrawn/",
                                                                                "withdrawals/"))}
    bundle = _Bundle(files, digests, manifest, keys, report, versions)
    signatures, withdrawals = _entries(manifest, "signatures", report), _entries(manifest, "withdrawals", report)
    covered = {_check_signature(bundle, entry, "signature") for entry in signatures}
    for entry in withdrawals:
        original = entry.get("signature")
        covered.add(_check_signature(bundle, original if isinstance(original, dict) else {}, "withdrawn signature"))
        covered.add(_check_withdrawal(bundle, entry))
    _settle_signatures(bundle, jobs)
    if manifest.get("format") == BUNDLE_FORMAT_V3:  # mayors' mandates: mayor key -> mandate -> key -> signature
        mandates = verifier_mandates.Mandates(files, manifest, keys, report)
        chained: list[Any] = [*signatures, *[w.get("signature") for w in withdrawals]]
        for entry in chained:
            name = _text(entry.get("payload_file")) if isinstance(entry, dict) else ""
            if name in files:
                mandates.check_signature(files[name], entry.get("signed_at"), manifest.get("declaration_slug"),
                                         f"mandate chain of {name}")
        payload_files |= {n for n in files if n.startswith("mandates/") and n.endswith(".json")}
        covered |= mandates.listed
    for stray in sorted(payload_files - covered):
        report.fail(f"{stray}: a payload file the manifest does not describe")
    cities = [slug if isinstance(slug, str) else ("", repr(slug)) for slug in (e.get("city_slug") for e in signatures)]
    report.check(len(cities) == len(set(cities)), "at most one standing signature per city")
    if log_files is not None:  # version 2: the transparency log's evidence (core.bundle_log)
        platform_raw = note.raw_public_key(platform.key) if platform else None
        bundle_log.verify(log_files, files, manifest, platform_raw, report, log_options)


def _check_manifest(files: dict[str, bytes], report: Report) -> dict[str, Any] | None:
    """The parsed manifest, after its presence, format and canonical form are checked; None if unusable."""
    manifest_bytes = files.get(MANIFEST)
    if manifest_bytes is None or not report.check(MANIFEST_SIG in files, "manifest and its signature present"):
        report.fail("manifest.json missing")
        return None
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        report.fail("manifest.json is not UTF-8 JSON")
        return None
    known = isinstance(manifest, dict) and manifest.get("format") in BUNDLE_FORMATS
    report.check(known, f"manifest format is {manifest.get('format') if known else ' or '.join(BUNDLE_FORMATS)}")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        report.fail("manifest has no file list")
        return None
    try:
        canonical = payload.is_canonical(manifest_bytes, manifest)
    except ValueError:  # e.g. an escaped lone surrogate, which has no UTF-8 form
        canonical = False
    report.check(canonical, "manifest is RFC 8785 canonical JSON")
    return manifest


def _check_versions(manifest: dict[str, Any], digests: dict[str, str], report: Report) -> list[dict[str, Any]]:
    """Format 3: every language version's file is listed with its hash, sorted by tag, exactly one authoritative.

    Returns the versions as an ``accord.signature/2`` payload names them (``tag``, ``sha256``, ``authoritative``).
    """
    entries = _entries(manifest, "versions", report)
    versions = []
    for entry in entries:
        tag, sha256, main = entry.get("tag"), entry.get("sha256"), entry.get("authoritative")
        well_formed = (isinstance(tag, str) and payload.LANGUAGE_TAG.fullmatch(tag) is not None
                       and isinstance(sha256, str) and type(main) is bool and set(entry) == {
                           "tag", "file", "sha256", "authoritative"})
        name = version_file(tag) if isinstance(tag, str) else "?"
        if not well_formed or entry.get("file") != name:
            report.fail(f"manifest version {tag!r} is malformed")
            continue
        report.check(digests.get(name) == sha256, f"{name} SHA-256 {digests.get(name, 'missing')}")
        versions.append({"tag": tag, "sha256": sha256, "authoritative": main})
    tags = [str(version["tag"]) for version in versions]
    report.check(bool(versions) and tags == sorted(set(tags)) and len(versions) == len(entries),
                 f"language versions {', '.join(tags) or 'none'} (sorted by tag, each once)")
    authoritative = [version for version in versions if version["authoritative"]]
    report.check(len(authoritative) == 1 and authoritative[0]["sha256"] == manifest.get("text_sha256")
                 and authoritative[0]["tag"] == manifest.get("authoritative_language"),
                 f"one authoritative version ({manifest.get('authoritative_language')}), the text of declaration.md")
    return versions


def _check_seal_certificate(files: dict[str, bytes], manifest: dict[str, Any], report: Report) -> None:
    """Format 2: the certificate that sealed the PDF is in the bundle, listed, and an X.509 certificate.

    The PDF's PAdES seal itself is checked by PDF tools (``pdfsig``; see VERIFY.txt), not here.
    """
    from cryptography import x509

    report.check(manifest.get("seal_certificate_file") == SEAL_CERTIFICATE,
                 f"the manifest names the seal certificate {SEAL_CERTIFICATE}")
    try:
        certificate = x509.load_pem_x509_certificate(files.get(SEAL_CERTIFICATE, b""))
    except ValueError:
        report.fail(f"{SEAL_CERTIFICATE} is not a PEM X.509 certificate")
        return
    report.ok(f"seal certificate {certificate.subject.rfc4514_string()}")


def _check_files(files: dict[str, bytes], listed: dict[str, Any], report: Report) -> dict[str, str]:
    """Extra, missing and changed files, and SHA256SUMS; returns each file's hex SHA-256 (not the manifest's)."""
    expected_names = set(listed) | {MANIFEST, MANIFEST_SIG}
    for extra in sorted(set(files) - expected_names):
        report.fail(f"{extra}: not listed in the manifest (extra file)")
    for missing in sorted(expected_names - set(files)):
        report.fail(f"{missing}: listed in the manifest but missing")
    sha256 = hashlib.sha256
    skip = "" if MANIFEST in listed else MANIFEST  # the largest file, and covered by its signature
    digests = {name: sha256(content).hexdigest() for name, content in files.items() if name != skip}
    differ = sorted(name for name, digest in listed.items() if name in digests and digests[name] != digest)
    for name in differ:
        report.fail(f"{name}: SHA-256 differs from the manifest")
    if not differ:
        report.ok(f"SHA-256 of every listed file present ({len(digests.keys() & listed.keys())}) matches the manifest")
    sums = files.get(SUMS, b"").decode("ascii", "replace")
    expected_sums = "".join([f"{d}  {n}\n" for n, d in sorted(listed.items()) if n != SUMS])
    report.check(sums == expected_sums, "SHA256SUMS agrees with the manifest")
    return digests


def _entries(manifest: dict[str, Any], member: str, report: Report) -> list[dict[str, Any]]:
    """The manifest's list of objects ``member``; a malformed one is a failure, never a crash."""
    value = manifest.get(member, [])
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        report.fail(f"manifest {member} is not a list of objects")
        return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []
    return value


def _text(value: Any) -> str:
    """A manifest value used as a file name: malformed (not a string) is the empty name."""
    return value if isinstance(value, str) else ""


# A signature whose other checks are done, waiting for its Ed25519 check: the report line reserved
# for it, the key, signature, payload, the problems found so far, its label, its OK line, standing?
_Pending = tuple[int, fastparse.Key, bytes, bytes, list[str], str, str, bool]


class _Bundle:
    """What every signature is checked against, and the signatures waiting for their Ed25519 check."""

    def __init__(self, files: dict[str, bytes], digests: dict[str, str], manifest: dict[str, Any],
                 keys: fastparse.Keys, report: Report, versions: list[dict[str, Any]] | None = None) -> None:
        self.files, self.digests, self.keys, self.report = files, digests, keys, report  # digests: name -> hex
        self.versions = versions  # format 3: what every accord.signature/2 payload must name; else None
        self.text_sha256 = manifest.get("text_sha256")
        self.declaration = (manifest.get("declaration_slug"), manifest.get("revision"))
        self.pending: list[_Pending] = []


def _load_key(bundle: _Bundle, key_file: str, fingerprint: str, label: str) -> fastparse.Key | None:
    key = bundle.keys.get(key_file)
    if key is None:
        bundle.report.fail(f"{label}: key file {key_file} missing or not an Ed25519 public key")
        return None
    if key.fingerprint != fingerprint or key_file != key.file_name:
        bundle.report.fail(f"{label}: key file {key_file} does not match fingerprint {fingerprint}")
        return None
    return key


def _check_signature(bundle: _Bundle, entry: dict[str, Any], kind: str) -> str:
    """Check one signature entry (its Ed25519 check is left to ``_settle_signatures``); returns its payload file."""
    get, report = entry.get, bundle.report
    label = f"{kind} of {get('city_name', get('city_slug', '?'))}"
    payload_file, sig_file = _text(get("payload_file")), _text(get("signature_file"))
    data, signature = bundle.files.get(payload_file), bundle.files.get(sig_file)
    if data is None or signature is None:
        report.fail(f"{label}: {payload_file} or {sig_file} missing")
        return payload_file
    try:
        fields = fastparse.parse_payload(data)
    except payload.PayloadError as exc:
        report.fail(f"{label}: {exc}")
        return payload_file
    fingerprint, text_sha256 = fields["key_fingerprint"], fields["text_sha256"]
    key = _load_key(bundle, _text(get("key_file")), fingerprint, label)
    if key is None:
        return payload_file
    problems = []
    if fields["format"] == statements.SIGNATURE_V2.name:
        if not _names_the_versions(fields, bundle):
            problems.append("names other language versions than the bundle's")
    elif fields["format"] != statements.SIGNATURE.name:
        problems.append(f"not a {statements.SIGNATURE.noun} payload")
    if text_sha256 != bundle.text_sha256:
        problems.append("signed another text")
    if (fields["declaration_slug"], fields["revision"]) != bundle.declaration:
        problems.append("names another declaration or revision")
    if fields["city_slug"] != get("city_slug") or fingerprint != get("key_fingerprint"):
        problems.append("payload does not match its manifest entry")
    if bundle.digests.get(payload_file) != get("payload_sha256"):
        problems.append("payload hash differs from the manifest")
    ok_line = (f"{label}: {fields['signer_name']}, {fingerprint}, signed revision {fields['revision']} "
               f"({text_sha256[:16]}…)")
    bundle.pending.append((report.reserve(), key, signature, data, problems, label, ok_line, kind == "signature"))
    return payload_file


def _names_the_versions(fields: dict[str, Any], bundle: _Bundle) -> bool:
    """An ``accord.signature/2`` payload names exactly the bundle's language versions.

    A bundle without a ``versions`` member holds one text, ``declaration.md``: the payload must then name one
    version, authoritative, with that text's SHA-256.
    """
    if bundle.versions is not None:
        return bool(fields["versions"] == bundle.versions)
    named = fields["versions"]
    return len(named) == 1 and named[0]["authoritative"] is True and named[0]["sha256"] == bundle.text_sha256


def _settle_signatures(bundle: _Bundle, jobs: int) -> None:
    """The Ed25519 checks of the pending signatures, in one tight loop per thread, and their report lines.

    Checked one after the other with nothing in between, they run as fast as a bare loop; interleaved
    with parsing, each took a few microseconds more (the parsing evicts Ed25519's tables from the cache).
    """
    pending, report = bundle.pending, bundle.report
    checks = [(key, signature, data) for _, key, signature, data, *_ in pending]
    verified = _ed25519_checks(checks, jobs)
    for (line, _, _, _, problems, label, ok_line, standing), good in zip(pending, verified, strict=True):
        if good and not problems:
            report.settle(line, True, ok_line)
            report.signatures_ok += standing
        else:
            report.settle(line, False, f"{label}: " + "; ".join([*problems, *(
                [] if good else ["Ed25519 signature does not verify"])]))
    pending.clear()


def _verify_all(checks: list[tuple[fastparse.Key, bytes, bytes]]) -> list[bool]:
    return [key.verifies(signature, data) for key, signature, data in checks]


def _ed25519_checks(checks: list[tuple[fastparse.Key, bytes, bytes]], jobs: int) -> list[bool]:
    """Each ``(key, signature, payload)`` verified, in order; on ``jobs`` threads, one contiguous share each."""
    if jobs == 1 or len(checks) < 2 * MIN_SHARE:
        return _verify_all(checks)
    share = max(MIN_SHARE, -(-len(checks) // jobs))
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="ed25519") as pool:
        parts = pool.map(_verify_all, [checks[start : start + share] for start in range(0, len(checks), share)])
        return [good for part in parts for good in part]


def _check_withdrawal(bundle: _Bundle, entry: dict[str, Any]) -> str:
    """Check one withdrawal statement; returns its file."""
    name = _text(entry.get("withdrawal_file"))
    data, signature = bundle.files.get(name), bundle.files.get(_text(entry.get("withdrawal_signature_file")))
    label = f"withdrawal by {entry.get('city_slug', '?')}"
    if data is None or signature is None:
        bundle.report.fail(f"{label}: files missing")
        return name
    try:
        fields = fastparse.parse_payload(data)
    except payload.PayloadError as exc:
        bundle.report.fail(f"{label}: {exc}")
        return name
    key = _load_key(bundle, _text(entry.get("withdrawal_key_file")), fields["key_fingerprint"], label)
    original = entry.get("signature")
    withdrawn = original.get("payload_sha256") if isinstance(original, dict) else None
    bundle.report.check(
        key is not None and key.verifies(signature, data)
        and fields["format"] == statements.WITHDRAWAL.name and fields["withdraws_payload_sha256"] == withdrawn,
        f"{label}: signed statement withdrawing payload {str(withdrawn)[:16]}…",
    )
    return name
