"""The endorsement export (``accord.endorsements/1``): a zip of every endorsement of a frozen declaration.

Built like the bundle (``core.bundle``), but streamed: the caller hands over the endorsements as an iterator
(rows fetched in batches), each one's files are written to the zip on disk as it comes (``core.zip_stream``),
and only some 32 bytes per file (its content's SHA-256, and the hash in its name) are kept until the manifest,
sealed by the platform key, closes the archive. The layout is specified in ``docs/endorsement-export.md``;
``signing.verify`` checks it (``core.endorsement_verifier``), and so does the ``openssl``/``sha256sum`` recipe of
its ``VERIFY.txt``.

Pure: the standard library, ``cryptography`` and ``signing.core`` only.
"""

from __future__ import annotations

import gc
import hashlib
import json
import tempfile
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import payload
from .zip_stream import ZipStream

EXPORT_FORMAT = "accord.endorsements/1"
MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.sig"
PLATFORM_KEY = "platform.pem"
VERIFY = "VERIFY.txt"
SUMS = "SHA256SUMS"
ENDORSEMENTS = "endorsements/"
WITHDRAWALS = "withdrawals/"
KEYS = "keys/"
# Statements, signatures and keys are stored (they hardly compress, as in the bundle); VERIFY.txt, SHA256SUMS
# and the manifest are deflated.


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


class _Folder:
    """The files written in one folder: 32 bytes per file, and the 32-byte hash their names share.

    Statements are named by their own hash (``<hash>.json``, its SHA-256, and ``<hash>.sig``), keys by their
    fingerprint (``<fingerprint>.pem``): the records are all the manifest needs, a few megabytes for 100,000.
    """

    def __init__(self, prefix: str, suffixes: tuple[str, ...], self_named: bool) -> None:
        self.prefix, self.suffixes, self.self_named = prefix, suffixes, self_named
        self.records = bytearray()

    def add(self, name_hash: bytes, *digests: bytes) -> None:
        self.records += name_hash
        for digest in digests:
            self.records += digest

    @property
    def width(self) -> int:
        return 32 * (1 + len(self.suffixes) - self.self_named)

    def names(self) -> set[bytes]:
        """The 32-byte hashes the files' names share."""
        return {bytes(self.records[i : i + 32]) for i in range(0, len(self.records), self.width)}

    def lines(self, taken: Container[bytes] = frozenset()) -> Iterator[tuple[str, str]]:
        """``(path, hex SHA-256)`` of every file, in path order; the records are freed.

        ``ValueError`` if a statement comes twice (two equal names, sorted next to each other) or its name is
        one of ``taken`` (another folder's).
        """
        width = self.width
        records = sorted(bytes(self.records[i : i + width]) for i in range(0, len(self.records), width))
        self.records = bytearray()  # the sorted copy is all that is read from here: freed at once
        previous = b""
        for record in records:
            name_hash = record[:32]
            if self.self_named and (name_hash == previous or name_hash in taken):
                raise ValueError(f"the statement {name_hash.hex()} twice in the export")
            previous = name_hash
            name = name_hash.hex()
            digests = record if self.self_named else record[32:]  # a statement's first digest is its name
            for index, suffix in enumerate(self.suffixes):  # ".json" < ".sig": the order of the paths
                yield self.prefix + name + suffix, digests[32 * index : 32 * (index + 1)].hex()


def write_export(target: BinaryIO, header: Header, items: Iterable[Item], platform_key: Ed25519PrivateKey,
                 log: Iterable[tuple[str, bytes]] = ()) -> Summary:
    """Write the export zip to ``target`` (a seekable binary file, at its start), consuming ``items`` once.

    Each item's statement is ``endorsements/<its SHA-256>.json`` (+ ``.sig``), its withdrawal
    ``withdrawals/<its SHA-256>.json`` (+ ``.sig``), each key ``keys/<fingerprint>.pem`` once. Memory: 32 bytes
    per file until the manifest, whose file list is written to a temporary file; only then, with the records
    freed, is the manifest read back whole (Ed25519 signs it in one piece). ``ValueError`` if a statement comes
    twice.
    ``log``: the transparency log's evidence (``core.endorsement_log.log_files``), written after the manifest and
    outside its list; read only once every item is written.
    """
    sha256 = hashlib.sha256
    zip_file = ZipStream(target, header.snapshot_at)
    root = folder_name(header.declaration_slug) + "/"
    folders = {ENDORSEMENTS: _Folder(ENDORSEMENTS, (".json", ".sig"), self_named=True),
               WITHDRAWALS: _Folder(WITHDRAWALS, (".json", ".sig"), self_named=True),
               KEYS: _Folder(KEYS, (".pem",), self_named=False)}
    seen_keys: set[bytes] = set()  # the keys' fingerprints (32 bytes)
    keys = endorsements = withdrawn = 0

    def statement(folder: str, data: bytes, signature: bytes, public_key: bytes) -> None:
        nonlocal keys
        digest = sha256(data).digest()  # a statement that comes twice is found when the names are sorted
        name = root + folder + digest.hex()
        zip_file.add(name + ".json", data)
        zip_file.add(name + ".sig", signature)
        folders[folder].add(digest, sha256(signature).digest())
        fingerprint = sha256(public_key).digest()
        if fingerprint not in seen_keys:
            seen_keys.add(fingerprint)
            pem = payload.public_key_pem(public_key)
            zip_file.add(f"{root}{KEYS}{fingerprint.hex()}.pem", pem)
            folders[KEYS].add(fingerprint, sha256(pem).digest())
            keys += 1

    for item in items:
        statement(ENDORSEMENTS, item.payload, item.signature, item.public_key)
        endorsements += 1
        if item.withdrawal is not None:
            withdrawal = item.withdrawal
            statement(WITHDRAWALS, withdrawal.payload, withdrawal.signature, withdrawal.public_key)
            withdrawn += 1
    seen_keys.clear()
    platform_public = platform_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    counts = {"endorsements": endorsements, "withdrawn": withdrawn, "standing": endorsements - withdrawn}
    fixed = {PLATFORM_KEY: payload.public_key_pem(platform_public),
             VERIFY: verify_instructions(header, counts).encode("utf-8")}
    for name, content in fixed.items():
        zip_file.add(root + name, content, compress=name == VERIFY)

    def listed() -> Iterator[tuple[str, str]]:
        """Every listed file but SHA256SUMS, in path order (upper case before lower: VERIFY.txt first)."""
        yield VERIFY, sha256(fixed[VERIFY]).hexdigest()
        yield from folders[ENDORSEMENTS].lines(taken=folders[WITHDRAWALS].names())
        yield from folders[KEYS].lines()
        yield PLATFORM_KEY, sha256(fixed[PLATFORM_KEY]).hexdigest()
        yield from folders[WITHDRAWALS].lines()

    # One pass over the records writes SHA256SUMS (streamed into the zip) and the manifest's file list, in
    # which "SHA256SUMS" comes first (upper-case S sorts before every other name): its hash is filled in after.
    # The list goes to a temporary file, so the records and the manifest are never in memory together.
    with _Manifest(header, counts, platform_public) as manifest:
        sums_sha256 = zip_file.add_stream(root + SUMS, manifest.sums_chunks(listed()))
        folders.clear()
        # A full collection also empties the interpreter's free lists, whose objects would otherwise keep
        # pymalloc arenas that are otherwise free (some 8 MB for 100,000 endorsements) while the manifest is read.
        gc.collect()
        data = manifest.close(sums_sha256)  # some 45 MB for 100,000 endorsements: Ed25519 signs it whole
    view = memoryview(data)  # deflated a megabyte at a time
    zip_file.add_stream(root + MANIFEST, (bytes(view[i : i + (1 << 20)]) for i in range(0, len(view), 1 << 20)))
    view.release()
    zip_file.add(root + MANIFEST_SIG, platform_key.sign(data))
    for name, content in log:
        zip_file.add(root + name, content)
    zip_file.close()
    return Summary(endorsements, withdrawn, keys, sha256(data).hexdigest())


class _Manifest:
    """RFC 8785 bytes of the manifest, its file list written straight from the records to a temporary file.

    Its keys are ASCII and its values strings and integers, for which JCS is sorted keys, no whitespace and
    minimal escaping: what ``json.dumps`` writes with these options (``payload.is_canonical`` relies on the
    same). A context manager: the temporary file is closed (and gone) on leaving it.
    """

    def __init__(self, header: Header, counts: dict[str, int], platform_public: bytes) -> None:
        members = {
            "format": EXPORT_FORMAT,
            "issuer": header.issuer,
            "declaration_slug": header.declaration_slug,
            "declaration_title": header.declaration_title,
            "bundle_manifest_sha256": header.bundle_manifest_sha256,
            "snapshot_at": payload.timestamp(header.snapshot_at),
            **counts,
            "platform_key_file": PLATFORM_KEY,
            "platform_key_fingerprint": payload.fingerprint(platform_public),
        }
        before = manifest_bytes({name: value for name, value in members.items() if name < "files"})
        self.after = manifest_bytes({name: value for name, value in members.items() if name > "files"})
        self.out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by __exit__
        self.out.write(before[:-1] + b',"files":{"' + SUMS.encode() + b'":"')
        self.sums_at = self.out.tell()
        self.out.write(b"0" * 64 + b'"')

    def sums_chunks(self, files: Iterator[tuple[str, str]]) -> Iterator[bytes]:
        """SHA256SUMS in chunks of about 64 KiB, each file also added to the manifest's list."""
        lines: list[bytes] = []
        size = 0
        write = self.out.write
        for name, digest in files:
            write(b',"' + name.encode() + b'":"' + digest.encode() + b'"')
            line = f"{digest}  {name}\n".encode()
            lines.append(line)
            size += len(line)
            if size >= 1 << 16:
                yield b"".join(lines)
                lines, size = [], 0
        if lines:
            yield b"".join(lines)

    def __enter__(self) -> _Manifest:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.out.close()

    def close(self, sums_sha256: str) -> bytes:
        """The manifest's bytes, read back whole once the list is complete."""
        self.out.write(b"}," + self.after[1:])
        self.out.seek(self.sums_at)
        self.out.write(sums_sha256.encode())
        self.out.seek(0)
        return self.out.read()


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """RFC 8785 bytes of a manifest of ASCII keys and string, integer or object values (see ``_manifest``)."""
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
        "3. Every file is the one the manifest names, and no file was added or removed (a log/ folder,",
        "   the transparency log's evidence, stands outside the manifest and is checked by signing.verify):",
        "",
        f"   sha256sum --quiet -c {SUMS}",
        "      prints: nothing",
        f"   grep -c \"\\\"{SUMS}\\\":\\\"$(sha256sum {SUMS} | cut -c1-64)\\\"\" {MANIFEST}",
        "      prints: 1",
        f"   find . -type f ! -name {MANIFEST} ! -name {MANIFEST_SIG} ! -name {SUMS} ! -path './log/*'"
        " | sed 's|^./||' | sort"
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
