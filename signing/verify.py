"""Verify a frozen declaration bundle: ``python -m signing.verify BUNDLE.zip``.

Needs only the standard library and ``cryptography``. Prints a report, one line
per check and per signature, and exits non-zero on any failure: a changed byte
in any file, an extra or missing file, a signature over another text, or a
manifest that does not match the signature files.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import bundle as layout
from . import payload as payloads

MAX_MEMBER_BYTES = 50 * 1024 * 1024


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    failures: int = 0
    signatures_ok: int = 0

    def ok(self, message: str) -> None:
        self.lines.append(f"OK    {message}")

    def fail(self, message: str) -> None:
        self.failures += 1
        self.lines.append(f"FAIL  {message}")

    def check(self, condition: bool, message: str) -> bool:
        (self.ok if condition else self.fail)(message)
        return condition


# The local file header (APPNOTE 4.3.7), as the zipfile module reads it.
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_MAGIC = b"PK\x03\x04"


def _member(data: bytes, info: zipfile.ZipInfo) -> bytes | None:
    """A member's bytes read straight from the archive, or None to leave it to ``zipfile``.

    The fast path (a bundle has three small files per signature, and ``ZipFile.read`` costs more
    per file than checking a signature) takes only plain stored or deflated members whose local
    header agrees with the central directory, and checks size and CRC-32 as ``zipfile`` does.
    Anything else — or any disagreement — goes through ``ZipFile.read``, which decides.
    """
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return None
    offset = info.header_offset
    if offset < 0 or offset + _LOCAL_HEADER.size > len(data):
        return None
    magic, _, _, flags, method, _, _, _, _, _, name_length, extra_length = _LOCAL_HEADER.unpack_from(data, offset)
    name_start = offset + _LOCAL_HEADER.size
    start = name_start + name_length + extra_length
    end = start + info.compress_size
    if magic != _LOCAL_MAGIC or method != info.compress_type or flags & 0x1 or end > len(data):
        return None
    name = data[name_start : name_start + name_length].decode("utf-8" if flags & 0x800 else "cp437", "replace")
    if name != info.orig_filename:
        return None
    if info.compress_type == zipfile.ZIP_STORED:
        content = data[start:end]
    else:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            content = inflater.decompress(data[start:end], info.file_size + 1)
        except zlib.error:
            return None
        if not inflater.eof:
            return None
    if len(content) != info.file_size or zlib.crc32(content) != info.CRC:
        return None
    return content


def _read_zip(path: Path | str | bytes, report: Report) -> dict[str, bytes]:
    data = path if isinstance(path, bytes) else Path(path).read_bytes()
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = [info for info in archive.infolist() if not info.is_dir()]
        prefixes = {info.filename.split("/", 1)[0] for info in names}
        if len(prefixes) != 1 or any("/" not in info.filename for info in names):
            report.fail("the archive must hold exactly one top-level folder")
            return {}
        for info in names:
            relative = info.filename.split("/", 1)[1]
            if relative in files or ".." in relative.split("/") or relative.startswith("/"):
                report.fail(f"unsafe or duplicate member name {info.filename!r}")
                continue
            if info.file_size > MAX_MEMBER_BYTES:
                report.fail(f"{relative}: too large")
                continue
            content = _member(data, info)
            files[relative] = content if content is not None else archive.read(info)
    return files


def _load_public_key(pem: bytes) -> Ed25519PublicKey | None:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


def _public_key_from_pem(pem: bytes) -> bytes | None:
    key = _load_public_key(pem)
    return None if key is None else key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class _Key:
    """A key file, parsed once however many signatures name it."""

    key: Ed25519PublicKey
    fingerprint: str
    file_name: str  # the name this key's file must have

    def verifies(self, signature: bytes, message: bytes) -> bool:
        """Exactly ``payload.verify``, without rebuilding the key for every signature."""
        if len(signature) != payloads.SIGNATURE_BYTES:
            return False
        try:
            self.key.verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class _Keys:
    def __init__(self, files: dict[str, bytes]) -> None:
        self._files = files
        self._parsed: dict[str, _Key | None] = {}

    def get(self, name: str) -> _Key | None:
        if name not in self._parsed:
            key = _load_public_key(self._files.get(name, b""))
            if key is None:
                self._parsed[name] = None
            else:
                raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
                self._parsed[name] = _Key(key, payloads.fingerprint(raw), layout.key_file(raw))
        return self._parsed[name]


def verify_bundle(source: Path | str | bytes, trusted_platform_key: str | None = None) -> Report:
    report = Report()
    try:
        files = _read_zip(source, report)
    # What zipfile raises for a damaged, encrypted or exotic archive.
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        report.fail(f"cannot read the archive: {exc}")
        return report
    if not files:
        return report
    manifest_bytes = files.get(layout.MANIFEST)
    if manifest_bytes is None or not report.check(layout.MANIFEST_SIG in files, "manifest and its signature present"):
        report.fail("manifest.json missing")
        return report
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        report.fail("manifest.json is not UTF-8 JSON")
        return report
    report.check(isinstance(manifest, dict) and manifest.get("format") == layout.BUNDLE_FORMAT,
                 f"manifest format is {layout.BUNDLE_FORMAT}")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        report.fail("manifest has no file list")
        return report
    report.check(payloads.is_canonical(manifest_bytes, manifest), "manifest is RFC 8785 canonical JSON")

    platform_raw = _public_key_from_pem(files.get(layout.PLATFORM_KEY, b""))
    if platform_raw is None:
        report.fail("platform.pem is not an Ed25519 public key")
    else:
        platform_fp = payloads.fingerprint(platform_raw)
        report.check(platform_fp == manifest.get("platform_key_fingerprint"),
                     f"platform key fingerprint {platform_fp} matches the manifest")
        if trusted_platform_key is not None:
            report.check(platform_fp == trusted_platform_key, "platform key is the trusted one")
        report.check(payloads.verify(platform_raw, files[layout.MANIFEST_SIG], manifest_bytes),
                     "manifest signature by the platform key")

    listed: dict[str, str] = manifest["files"]
    expected_names = set(listed) | {layout.MANIFEST, layout.MANIFEST_SIG}
    for extra in sorted(set(files) - expected_names):
        report.fail(f"{extra}: not listed in the manifest (extra file)")
    for missing in sorted(expected_names - set(files)):
        report.fail(f"{missing}: listed in the manifest but missing")
    digests = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    for name, digest in sorted(listed.items()):
        if name in files:
            report.check(digests[name] == digest, f"{name}: SHA-256 matches the manifest")
    sums = files.get(layout.SUMS, b"").decode("ascii", "replace")
    expected_sums = "".join(f"{d}  {n}\n" for n, d in sorted(listed.items()) if n != layout.SUMS)
    report.check(sums == expected_sums, "SHA256SUMS agrees with the manifest")

    text_sha = digests.get(layout.TEXT) or hashlib.sha256(b"").hexdigest()
    report.check(text_sha == manifest.get("text_sha256"), f"declaration.md SHA-256 {text_sha}")

    payload_files = {n for n in files if n.endswith(".json") and n.split("/", 1)[0] in
                     ("signatures", "withdrawn", "withdrawals")}
    bundle = _Bundle(files, digests, manifest, _Keys(files), report)
    signatures, withdrawals = _entries(manifest, "signatures", report), _entries(manifest, "withdrawals", report)
    covered: set[str] = set()
    for entry in signatures:
        covered |= _check_signature(bundle, entry, "signature")
    for entry in withdrawals:
        original = entry.get("signature")
        covered |= _check_signature(bundle, original if isinstance(original, dict) else {}, "withdrawn signature")
        covered |= _check_withdrawal(bundle, entry)
    for stray in sorted(payload_files - covered):
        report.fail(f"{stray}: a payload file the manifest does not describe")
    cities = [e.get("city_slug") for e in signatures]
    report.check(len(cities) == len(set(cities)), "at most one standing signature per city")
    return report


def _entries(manifest: dict[str, Any], member: str, report: Report) -> list[dict[str, Any]]:
    """The manifest's list of objects ``member``; a malformed one is a failure, never a crash."""
    value = manifest.get(member, [])
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        report.fail(f"manifest {member} is not a list of objects")
        return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []
    return value


@dataclass
class _Bundle:
    files: dict[str, bytes]
    digests: dict[str, str]  # file name -> hex SHA-256
    manifest: dict[str, Any]
    keys: _Keys
    report: Report


def _load_key(bundle: _Bundle, key_file: str, fingerprint: str, label: str) -> _Key | None:
    key = bundle.keys.get(key_file)
    if key is None:
        bundle.report.fail(f"{label}: key file {key_file} missing or not an Ed25519 public key")
        return None
    if key.fingerprint != fingerprint or key_file != key.file_name:
        bundle.report.fail(f"{label}: key file {key_file} does not match fingerprint {fingerprint}")
        return None
    return key


def _check_signature(bundle: _Bundle, entry: dict[str, Any], kind: str) -> set[str]:
    report, manifest = bundle.report, bundle.manifest
    label = f"{kind} of {entry.get('city_name', entry.get('city_slug', '?'))}"
    payload_file, sig_file = entry.get("payload_file", ""), entry.get("signature_file", "")
    data, signature = bundle.files.get(payload_file), bundle.files.get(sig_file)
    if data is None or signature is None:
        report.fail(f"{label}: {payload_file} or {sig_file} missing")
        return {payload_file}
    try:
        fields = payloads.parse(data)
    except payloads.PayloadError as exc:
        report.fail(f"{label}: {exc}")
        return {payload_file}
    problems = []
    if fields["format"] != payloads.SIGNATURE_FORMAT:
        problems.append("not a signature payload")
    if fields["text_sha256"] != manifest.get("text_sha256"):
        problems.append("signed another text")
    if fields["declaration_slug"] != manifest.get("declaration_slug") or fields["revision"] != manifest.get("revision"):
        problems.append("names another declaration or revision")
    if fields["city_slug"] != entry.get("city_slug") or fields["key_fingerprint"] != entry.get("key_fingerprint"):
        problems.append("payload does not match its manifest entry")
    if bundle.digests[payload_file] != entry.get("payload_sha256"):
        problems.append("payload hash differs from the manifest")
    key = _load_key(bundle, entry.get("key_file", ""), fields["key_fingerprint"], label)
    if key is None:
        return {payload_file}
    if not key.verifies(signature, data):
        problems.append("Ed25519 signature does not verify")
    if problems:
        report.fail(f"{label}: " + "; ".join(problems))
    else:
        report.signatures_ok += kind == "signature"
        report.ok(f"{label}: {fields['signer_name']}, {fields['key_fingerprint']}, signed revision "
                  f"{fields['revision']} ({fields['text_sha256'][:16]}…)")
    return {payload_file}


def _check_withdrawal(bundle: _Bundle, entry: dict[str, Any]) -> set[str]:
    name = entry.get("withdrawal_file", "")
    data, signature = bundle.files.get(name), bundle.files.get(entry.get("withdrawal_signature_file", ""))
    label = f"withdrawal by {entry.get('city_slug', '?')}"
    if data is None or signature is None:
        bundle.report.fail(f"{label}: files missing")
        return {name}
    try:
        fields = payloads.parse(data)
    except payloads.PayloadError as exc:
        bundle.report.fail(f"{label}: {exc}")
        return {name}
    key = _load_key(bundle, entry.get("withdrawal_key_file", ""), fields["key_fingerprint"], label)
    original = entry.get("signature")
    withdrawn = original.get("payload_sha256") if isinstance(original, dict) else None
    bundle.report.check(
        key is not None and key.verifies(signature, data)
        and fields["format"] == payloads.WITHDRAWAL_FORMAT and fields["withdraws_payload_sha256"] == withdrawn,
        f"{label}: signed statement withdrawing payload {str(withdrawn)[:16]}…",
    )
    return {name}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m signing.verify", description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="the bundle .zip")
    parser.add_argument("--platform-key", help="fail unless the platform key has this sha256: fingerprint")
    args = parser.parse_args(argv)
    report = verify_bundle(args.bundle, args.platform_key)
    for line in report.lines:
        print(line)
    if report.failures:
        print(f"\nFAILED: {report.failures} problem(s). Do not trust this bundle.")
        return 1
    print(f"\nVERIFIED: {report.signatures_ok} signature(s), every file intact.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
