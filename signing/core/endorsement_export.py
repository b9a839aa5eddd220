"""The endorsement export (``accord.endorsements/1``): a zip of every endorsement of a frozen declaration.

Built like the bundle (``core.bundle``), but streamed: the caller hands over the endorsements as an iterator
(rows fetched in batches), each one's files are written to the zip on disk as it comes, and only the names
and SHA-256 of the files written are kept until the manifest, sealed by the platform key, closes the archive.
The layout is specified in ``docs/endorsement-export.md``; ``signing.verify`` checks it
(``core.endorsement_verifier``), and so does the ``openssl``/``sha256sum`` recipe of its ``VERIFY.txt``.

Pure: the standard library, ``cryptography`` and ``signing.core`` only.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import payload

EXPORT_FORMAT = "accord.endorsements/1"
MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.sig"
PLATFORM_KEY = "platform.pem"
VERIFY = "VERIFY.txt"
SUMS = "SHA256SUMS"
ENDORSEMENTS = "endorsements/"
WITHDRAWALS = "withdrawals/"
KEYS = "keys/"
# Small files that do not compress (signatures, keys) or hardly (a statement): stored, as in the bundle.
_STORED = (ENDORSEMENTS, WITHDRAWALS, KEYS)


@dataclass(frozen=True)
class Withdrawal:
    """The signed statement withdrawing an endorsement."""

    payload: bytes
    signature: bytes
    public_key: bytes  # raw 32 bytes


@dataclass(frozen=True)
class Item:
    """One endorsement as stored: its exact bytes, signature and key, and its withdrawal if it was withdrawn."""

    payload: bytes
    signature: bytes
    public_key: bytes  # raw 32 bytes
    withdrawal: Withdrawal | None = None


@dataclass(frozen=True)
class Header:
    """What the export is of, and when it was taken."""

    issuer: str
    declaration_slug: str
    declaration_title: str
    bundle_manifest_sha256: str  # hex SHA-256 of the frozen bundle's manifest.json
    snapshot_at: datetime


@dataclass(frozen=True)
class Summary:
    """What was written."""

    endorsements: int
    withdrawn: int
    keys: int
    manifest_sha256: str

    @property
    def standing(self) -> int:
        return self.endorsements - self.withdrawn


def folder_name(slug: str) -> str:
    return f"{slug}-endorsements"


def key_name(public_key: bytes) -> str:
    return f"{KEYS}{payload.fingerprint(public_key).removeprefix('sha256:')}.pem"


class _Writer:
    """Entries of one zip, written one by one; remembers only each file's name and SHA-256."""

    def __init__(self, archive: zipfile.ZipFile, folder: str, moment: datetime) -> None:
        self.archive, self.folder = archive, folder
        self.stamp = (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute, moment.second)
        self.digests: dict[str, str] = {}

    def add(self, name: str, content: bytes, *, listed: bool = True) -> None:
        if name in self.digests:
            raise ValueError(f"{name} twice in the export")
        info = zipfile.ZipInfo(f"{self.folder}/{name}", date_time=self.stamp)
        info.compress_type = zipfile.ZIP_STORED if name.startswith(_STORED) else zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        self.archive.writestr(info, content)
        if listed:
            self.digests[name] = hashlib.sha256(content).hexdigest()


def write_export(target: Path | BinaryIO, header: Header, items: Iterable[Item],
                 platform_key: Ed25519PrivateKey) -> Summary:
    """Write the export zip to ``target`` (a path, or a seekable binary file), consuming ``items`` once.

    Each item's statement is ``endorsements/<its SHA-256>.json`` (+ ``.sig``), its withdrawal
    ``withdrawals/<its SHA-256>.json`` (+ ``.sig``), each key ``keys/<fingerprint>.pem`` once. Memory: the
    files' names and hashes, not their contents. ``ValueError`` if an endorsement comes twice.
    """
    keys: set[bytes] = set()
    endorsements = withdrawn = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        writer = _Writer(archive, folder_name(header.declaration_slug), header.snapshot_at)

        def statement(folder: str, data: bytes, signature: bytes, public_key: bytes) -> None:
            name = folder + hashlib.sha256(data).hexdigest()
            writer.add(f"{name}.json", data)
            writer.add(f"{name}.sig", signature)
            if public_key not in keys:
                keys.add(public_key)
                writer.add(key_name(public_key), payload.public_key_pem(public_key))

        for item in items:
            statement(ENDORSEMENTS, item.payload, item.signature, item.public_key)
            endorsements += 1
            if item.withdrawal is not None:
                withdrawal = item.withdrawal
                statement(WITHDRAWALS, withdrawal.payload, withdrawal.signature, withdrawal.public_key)
                withdrawn += 1
        platform_public = platform_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        writer.add(PLATFORM_KEY, payload.public_key_pem(platform_public))
        counts = {"endorsements": endorsements, "withdrawn": withdrawn, "standing": endorsements - withdrawn}
        writer.add(VERIFY, verify_instructions(header, counts).encode("utf-8"))
        writer.add(SUMS, "".join(f"{digest}  {name}\n" for name, digest in sorted(writer.digests.items()))
                   .encode("ascii"))
        manifest = manifest_bytes({
            "format": EXPORT_FORMAT,
            "issuer": header.issuer,
            "declaration_slug": header.declaration_slug,
            "declaration_title": header.declaration_title,
            "bundle_manifest_sha256": header.bundle_manifest_sha256,
            "snapshot_at": payload.timestamp(header.snapshot_at),
            **counts,
            "platform_key_file": PLATFORM_KEY,
            "platform_key_fingerprint": payload.fingerprint(platform_public),
            "files": writer.digests,
        })
        writer.add(MANIFEST, manifest, listed=False)
        writer.add(MANIFEST_SIG, platform_key.sign(manifest), listed=False)
    return Summary(endorsements, withdrawn, len(keys), hashlib.sha256(manifest).hexdigest())


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """RFC 8785 bytes of the manifest.

    Its keys are ASCII and its values strings and integers, for which JCS is sorted keys, no whitespace and
    minimal escaping: what ``json.dumps`` writes with these options (``payload.is_canonical`` relies on the
    same), and much faster than the general serialiser on a list of hundreds of thousands of files.
    """
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def verify_instructions(header: Header, counts: dict[str, int]) -> str:
    """VERIFY.txt: the stock openssl, sha256sum and bash commands that check this export.

    Every command is one line, indented by three spaces, followed by what it must print.
    """
    folder, manifest_sha = folder_name(header.declaration_slug), header.bundle_manifest_sha256
    statements = "find . -path './endorsements/*.json' -o -path './withdrawals/*.json'"
    lines = [
        f"How to verify the endorsements of “{header.declaration_title}”",
        f"(a snapshot taken {payload.timestamp(header.snapshot_at)})",
        "=" * 72,
        "",
        "You need only OpenSSL 3, sha256sum (coreutils) and bash. Run every command inside the",
        f"unpacked folder {folder}/. Each must print what is said under it.",
        "",
        "1. The platform key is the network's: its fingerprint must be the one the network",
        "   publishes (not one read from this export).",
        "",
        f"   openssl pkey -pubin -in {PLATFORM_KEY} -outform DER | tail -c 32 | sha256sum",
        "      prints: the published fingerprint (without sha256:)",
        "",
        "2. The platform signed the manifest:",
        "",
        f"   openssl pkeyutl -verify -pubin -inkey {PLATFORM_KEY} -rawin -in {MANIFEST} -sigfile {MANIFEST_SIG}",
        "      prints: Signature Verified Successfully",
        "",
        "3. Every file is the one the manifest names, and no file was added or removed:",
        "",
        f"   sha256sum --quiet -c {SUMS}",
        "      prints: nothing",
        f"   grep -c \"\\\"{SUMS}\\\":\\\"$(sha256sum {SUMS} | cut -c1-64)\\\"\" {MANIFEST}",
        "      prints: 1",
        f"   find . -type f ! -name {MANIFEST} ! -name {MANIFEST_SIG} ! -name {SUMS} | sed 's|^./||' | sort"
        f" | diff - <(cut -c67- {SUMS} | sort)",
        "      prints: nothing",
        "",
        "4. Every statement is about this declaration and its frozen bundle, whose manifest.json",
        f"   has the SHA-256 {manifest_sha}:",
        "",
        f"   {statements} | xargs -r grep -L '\"bundle_manifest_sha256\":\"{manifest_sha}\"'",
        "      prints: nothing",
        f"   {statements} | xargs -r grep -L '\"declaration_slug\":{json.dumps(header.declaration_slug)}'",
        "      prints: nothing",
        "",
        "5. Every key file holds the key its name says (the SHA-256 of the raw 32-byte key):",
        "",
        "   find . -path './keys/*.pem' | while read -r k; do [ \"$(openssl pkey -pubin -in \"$k\" -outform DER"
        " | tail -c 32 | sha256sum | cut -c1-64)\" = \"$(basename \"$k\" .pem)\" ] || echo \"FAIL $k\"; done",
        "      prints: nothing",
        "",
        "6. Every statement is signed by the key it names:",
        "",
        f"   {statements} | while read -r f; do k=$(grep -o '\"key_fingerprint\":\"sha256:[0-9a-f]*\"' \"$f\""
        " | cut -c27-90); openssl pkeyutl -verify -pubin -inkey \"keys/$k.pem\" -rawin -in \"$f\""
        " -sigfile \"${f%.json}.sig\" >/dev/null 2>&1 || echo \"FAIL $f\"; done",
        "      prints: nothing",
        "",
        "7. Every withdrawal withdraws an endorsement of this export:",
        "",
        "   find . -path './withdrawals/*.json' | while read -r f; do h=$(grep -o"
        " '\"withdraws_payload_sha256\":\"[0-9a-f]*\"' \"$f\" | cut -c29-92);"
        " [ -n \"$h\" ] && [ -f \"./endorsements/$h.json\" ] || echo \"FAIL $f\"; done",
        "      prints: nothing",
        "",
        f"8. The counts: {counts['endorsements']} endorsement(s), {counts['withdrawn']} withdrawn,"
        f" {counts['standing']} standing:",
        "",
        "   find . -path './endorsements/*.json' | wc -l",
        f"      prints: {counts['endorsements']}",
        "   find . -path './withdrawals/*.json' | wc -l",
        f"      prints: {counts['withdrawn']}",
        f"   grep -o '\"standing\":[0-9]*' {MANIFEST}",
        f"      prints: \"standing\":{counts['standing']}",
        "",
        "The same checks in one command (Python 3 and the 'cryptography' package), with the",
        "published fingerprint:",
        "python -m signing.verify ENDORSEMENTS.zip --platform-key sha256:<the published fingerprint> --jobs 2",
        "",
    ]
    return "\n".join(lines)
