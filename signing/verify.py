"""Verify a frozen declaration bundle: ``python -m signing.verify BUNDLE.zip``.

Needs only the standard library and ``cryptography``. Prints a report, one line
per check and per signature, and exits non-zero on any failure: a changed byte
in any file, an extra or missing file, a signature over another text, or a
manifest that does not match the signature files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def _read_zip(path: Path | str | bytes, report: Report) -> dict[str, bytes]:
    source: Any = path if not isinstance(path, bytes) else __import__("io").BytesIO(path)
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(source) as archive:
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
            files[relative] = archive.read(info)
    return files


def _public_key_from_pem(pem: bytes) -> bytes | None:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        return None
    if not isinstance(key, Ed25519PublicKey):
        return None
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verify_bundle(source: Path | str | bytes, trusted_platform_key: str | None = None) -> Report:
    report = Report()
    try:
        files = _read_zip(source, report)
    except (zipfile.BadZipFile, OSError) as exc:
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
    for name, digest in sorted(listed.items()):
        if name in files:
            report.check(hashlib.sha256(files[name]).hexdigest() == digest, f"{name}: SHA-256 matches the manifest")
    sums = files.get(layout.SUMS, b"").decode("ascii", "replace")
    expected_sums = "".join(f"{d}  {n}\n" for n, d in sorted(listed.items()) if n != layout.SUMS)
    report.check(sums == expected_sums, "SHA256SUMS agrees with the manifest")

    text = files.get(layout.TEXT, b"")
    text_sha = hashlib.sha256(text).hexdigest()
    report.check(text_sha == manifest.get("text_sha256"), f"declaration.md SHA-256 {text_sha}")

    payload_files = {n for n in files if n.endswith(".json") and n.split("/", 1)[0] in
                     ("signatures", "withdrawn", "withdrawals")}
    covered: set[str] = set()
    for entry in manifest.get("signatures", []):
        covered |= _check_signature(entry, files, manifest, report, "signature")
    for entry in manifest.get("withdrawals", []):
        covered |= _check_signature(entry.get("signature", {}), files, manifest, report, "withdrawn signature")
        covered |= _check_withdrawal(entry, files, report)
    for stray in sorted(payload_files - covered):
        report.fail(f"{stray}: a payload file the manifest does not describe")
    cities = [e.get("city_slug") for e in manifest.get("signatures", [])]
    report.check(len(cities) == len(set(cities)), "at most one standing signature per city")
    return report


def _load_key(files: dict[str, bytes], key_file: str, fingerprint: str, report: Report, label: str) -> bytes | None:
    raw = _public_key_from_pem(files.get(key_file, b""))
    if raw is None:
        report.fail(f"{label}: key file {key_file} missing or not an Ed25519 public key")
        return None
    if payloads.fingerprint(raw) != fingerprint or key_file != layout.key_file(raw):
        report.fail(f"{label}: key file {key_file} does not match fingerprint {fingerprint}")
        return None
    return raw


def _check_signature(entry: dict[str, Any], files: dict[str, bytes], manifest: dict[str, Any], report: Report,
                     kind: str) -> set[str]:
    label = f"{kind} of {entry.get('city_name', entry.get('city_slug', '?'))}"
    payload_file, sig_file = entry.get("payload_file", ""), entry.get("signature_file", "")
    data, signature = files.get(payload_file), files.get(sig_file)
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
    if hashlib.sha256(data).hexdigest() != entry.get("payload_sha256"):
        problems.append("payload hash differs from the manifest")
    raw = _load_key(files, entry.get("key_file", ""), fields["key_fingerprint"], report, label)
    if raw is None:
        return {payload_file}
    if not payloads.verify(raw, signature, data):
        problems.append("Ed25519 signature does not verify")
    if problems:
        report.fail(f"{label}: " + "; ".join(problems))
    else:
        report.signatures_ok += kind == "signature"
        report.ok(f"{label}: {fields['signer_name']}, {fields['key_fingerprint']}, signed revision "
                  f"{fields['revision']} ({fields['text_sha256'][:16]}…)")
    return {payload_file}


def _check_withdrawal(entry: dict[str, Any], files: dict[str, bytes], report: Report) -> set[str]:
    name = entry.get("withdrawal_file", "")
    data, signature = files.get(name), files.get(entry.get("withdrawal_signature_file", ""))
    label = f"withdrawal by {entry.get('city_slug', '?')}"
    if data is None or signature is None:
        report.fail(f"{label}: files missing")
        return {name}
    try:
        fields = payloads.parse(data)
    except payloads.PayloadError as exc:
        report.fail(f"{label}: {exc}")
        return {name}
    raw = _load_key(files, entry.get("withdrawal_key_file", ""), fields["key_fingerprint"], report, label)
    withdrawn = entry.get("signature", {}).get("payload_sha256")
    report.check(
        raw is not None and payloads.verify(raw, signature, data)
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
