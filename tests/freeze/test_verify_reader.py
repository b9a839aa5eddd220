"""The verifier's own readers (``signing.core.strict_zip``, ``signing.core.fastparse``) refuse what they must.

A bundle is built in memory with ``signing.core.bundle.build`` (no app, no database), then damaged the
ways a hand-written zip reader, key-file parser or canonical-JSON check could get wrong. Each damage
must come out of ``verify_bundle`` as a FAIL line — never an exception, never VERIFIED — and the
well-formed but unusual archives that ``zipfile`` reads must still verify.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.core import fastparse, payload, strict_zip
from signing.core.bundle import (
    MANIFEST,
    MANIFEST_SIG,
    PLATFORM_KEY,
    SUMS,
    BundleInput,
    SignedItem,
    WithdrawnItem,
    build_bundle,
)
from signing.core.verifier import verify_bundle
from tests.freeze.conftest import raw_public, run_verify_cli

TEXT = "# Declaration\n\nOne paragraph.\n"
TEXT_SHA = hashlib.sha256(TEXT.encode()).hexdigest()
FROZEN = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FOLDER = "decl-bundle"


def signed_payload(key: Ed25519PrivateKey, city: str, **extra: object) -> bytes:
    return payload.build({
        "format": payload.SIGNATURE_FORMAT, "issuer": "https://accord.example.org", "declaration_slug": "decl",
        "declaration_title": "A \"quoted\" title — with\\backslash", "revision": 1, "text_sha256": TEXT_SHA,
        "city_slug": city, "city_name": city.title(), "signer_id": 7, "signer_name": f"Delegate of {city}",
        "key_fingerprint": payload.fingerprint(raw_public(key)), "issued_at": "2026-11-27T11:00:00Z",
        "expires_at": "2026-11-27T11:05:00Z", "nonce": f"nonce-{city}", **extra,
    })


def signed(key: Ed25519PrivateKey, city: str, nonce: str = "") -> SignedItem:
    data = signed_payload(key, city, nonce=f"nonce-{city}{nonce}")
    return SignedItem(city, city.title(), f"Delegate of {city}", FROZEN - timedelta(hours=1),
                             raw_public(key), data, key.sign(data))


@dataclass
class Built:
    archive: bytes  # as signing.core.bundle.build made it
    files: dict[str, bytes]  # path inside the folder -> bytes
    platform: Ed25519PrivateKey

    def zip(self, files: dict[str, bytes] | None = None, method: int = zipfile.ZIP_DEFLATED) -> bytes:
        """The files under the bundle's folder; a name starting with "/" goes outside it, at the top."""
        buffer = io.BytesIO()
        with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression=method) as archive:
            warnings.simplefilter("ignore")  # duplicate names, on purpose
            for name, content in (files or self.files).items():
                archive.writestr(f"{FOLDER}/{name}" if not name.startswith("/") else name[1:], content)
        return buffer.getvalue()

    def resealed(self, change: Callable[[dict[str, bytes], dict[str, object]], None]) -> bytes:
        """``change`` the files and the manifest, then recompute every hash and sign again (a consistent forgery)."""
        files = dict(self.files)
        manifest = json.loads(files[MANIFEST])
        change(files, manifest)
        names = sorted(n for n in files if n not in (MANIFEST, MANIFEST_SIG, SUMS))
        files[SUMS] = "".join(f"{hashlib.sha256(files[n]).hexdigest()}  {n}\n" for n in names).encode()
        manifest["files"] = {n: hashlib.sha256(files[n]).hexdigest() for n in sorted([*names, SUMS])}
        files[MANIFEST] = payload.canonical_json(manifest)
        files[MANIFEST_SIG] = self.platform.sign(files[MANIFEST])
        return self.zip(files)


@pytest.fixture(scope="module")
def built() -> Built:
    keys = {city: Ed25519PrivateKey.generate() for city in ("athens", "izmir", "sofia")}
    withdrawn = signed(keys["izmir"], "izmir", "-withdrawn")
    statement = signed_payload(keys["izmir"], "izmir", format=payload.WITHDRAWAL_FORMAT,
                        withdraws_payload_sha256=hashlib.sha256(withdrawn.payload).hexdigest())
    data = BundleInput(
        declaration_slug="decl", declaration_title="Declaration", revision=1, text=TEXT, text_sha256=TEXT_SHA,
        signing_rule={"kind": "all"}, signing_opened_at=FROZEN - timedelta(days=1), signing_deadline=None,
        frozen_at=FROZEN, issuer="https://accord.example.org", signatories=sorted(keys),
        signatures=[signed(key, city) for city, key in keys.items()],
        withdrawals=[WithdrawnItem(withdrawn, FROZEN - timedelta(minutes=30), raw_public(keys["izmir"]),
                                          statement, keys["izmir"].sign(statement))],
    )
    platform = Ed25519PrivateKey.generate()
    archive, _ = build_bundle(data, b"%PDF-1.4\n%%EOF\n", platform)
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        files = {info.filename.split("/", 1)[1]: bundle.read(info) for info in bundle.infolist()}
    return Built(archive, files, platform)


def fails(archive: bytes, fragment: str) -> None:
    report = verify_bundle(archive)  # must not raise
    assert report.failures and any(line.startswith("FAIL") and fragment in line for line in report.lines), \
        report.lines


def verifies(archive: bytes) -> None:
    report = verify_bundle(archive)
    assert report.failures == 0 and report.signatures_ok == 3, report.lines


def central_entry(archive: bytes, name: str) -> int:
    """Offset of ``name``'s central directory header."""
    position = struct.unpack_from("<L", archive, len(archive) - 6)[0]
    while position < len(archive) - 22:
        name_length, extra, comment = struct.unpack_from("<3H", archive, position + 28)
        if archive[position + 46 : position + 46 + name_length] == f"{FOLDER}/{name}".encode():
            return position
        position += 46 + name_length + extra + comment
    raise AssertionError(f"{name} is not in the central directory")


def patched(archive: bytes, *changes: tuple[int, bytes]) -> bytes:
    data = bytearray(archive)
    for offset, value in changes:
        data[offset : offset + len(value)] = value
    return bytes(data)


def local_header(archive: bytes, name: str) -> int:
    return int(struct.unpack_from("<L", archive, central_entry(archive, name) + 42)[0])


# --- The archive as built, and unusual archives zipfile reads ---------------------------------------------------


def test_the_builder_stores_the_per_signature_files_and_deflates_the_rest(built: Built) -> None:
    verifies(built.archive)
    verifies(built.zip())  # all deflated, as bundles were before 2026-11-28
    verifies(built.zip(method=zipfile.ZIP_STORED))
    with zipfile.ZipFile(io.BytesIO(built.archive)) as bundle:
        methods = {info.filename.split("/", 1)[1]: info.compress_type for info in bundle.infolist()}
    assert {n for n, m in methods.items() if m == zipfile.ZIP_STORED} == {
        n for n in methods if n.startswith(("signatures/", "withdrawn/", "withdrawals/", "keys/"))}
    assert methods[MANIFEST] == methods[SUMS] == zipfile.ZIP_DEFLATED
    for archive in (built.archive, built.zip()):  # the strict reader reads what zipfile reads
        assert strict_zip.read_members(archive, 1 << 20) == strict_zip.read_with_zipfile(archive, 1 << 20)


class Unseekable(io.BytesIO):
    """Where ``zipfile`` cannot go back to fill in a local header, so it writes data descriptors."""

    def seekable(self) -> bool:
        return False

    def seek(self, *args: object) -> int:
        raise OSError("unseekable")

    def tell(self) -> int:
        raise OSError("unseekable")


def test_unusual_but_valid_archives_still_verify(built: Built) -> None:
    plain = built.zip()
    with_comment = bytearray(plain)
    with_comment[-2:] = struct.pack("<H", 5)
    verifies(bytes(with_comment) + b"hello")  # an archive comment
    verifies(b"#!/bin/sh\nexit 0\n" + plain)  # bytes before the archive (a self-extractor stub)
    verifies(built.zip(method=zipfile.ZIP_BZIP2))
    verifies(built.zip({"": b"", "keys/": b"", **built.files}))  # directory entries
    for stream, zip64 in ((io.BytesIO(), True), (Unseekable(), False), (Unseekable(), True)):
        with zipfile.ZipFile(stream, "w") as archive:  # zip64 extra fields; data descriptors if unseekable
            for name, content in built.files.items():
                with archive.open(f"{FOLDER}/{name}", "w", force_zip64=zip64) as member:
                    member.write(content)
        verifies(stream.getvalue())
    # A local header may differ from the central one in its version and date only.
    at = local_header(plain, "signatures/athens.sig")
    verifies(patched(plain, (at + 4, b"\x0a\x00"), (at + 10, b"\x00\x00\x21\x00")))


# --- The zip reader's refusals ------------------------------------------------------------------------------------


def test_a_truncated_or_foreign_file_is_a_failure(built: Built) -> None:
    plain = built.zip()
    for data in (plain[:-1], plain[: len(plain) // 2], plain[:100], plain[:22], b"", b"PK", b"not a zip at all",
                 plain[: len(plain) - 52] + plain[-22:]):  # the last, with 30 bytes of the directory cut out
        fails(data, "cannot read the archive")
    fails(b"PK\x05\x06" + bytes(18), "exactly one top-level folder")  # an empty archive


def test_a_local_header_that_differs_from_the_central_directory_is_a_failure(built: Built) -> None:
    plain = built.zip(method=zipfile.ZIP_STORED)
    at = local_header(plain, "signatures/athens.json")
    name = f"{FOLDER}/signatures/athens.json".encode()
    for change in ((at + 14, b"\x00\x00\x00\x00"),  # CRC-32
                   (at + 18, b"\x01\x00\x00\x00"),  # compressed size
                   (at + 8, b"\x08\x00"),  # compression method
                   (at + 6, b"\x01\x00"),  # flags: encrypted
                   (at + 30, name.replace(b"athens", b"athenz")),  # name
                   (at, b"PK\x03\x05")):  # signature
        fails(patched(plain, change), "cannot read the archive")


def test_a_crc_mismatch_is_a_failure(built: Built) -> None:
    plain = built.zip(method=zipfile.ZIP_STORED)
    at = local_header(plain, "signatures/athens.sig") + 30 + len(f"{FOLDER}/signatures/athens.sig")
    fails(patched(plain, (at + 3, bytes([plain[at + 3] ^ 1]))), "CRC-32")
    deflated = built.zip()
    at = local_header(deflated, MANIFEST) + 30 + len(f"{FOLDER}/{MANIFEST}")
    fails(patched(deflated, (at + 40, bytes([deflated[at + 40] ^ 0x55]))), "cannot read the archive")
    # The same CRC written in both headers, but not the content's.
    name = next(n for n in built.files if n.startswith("keys/"))
    entry, at = central_entry(plain, name), local_header(plain, name)
    fails(patched(plain, (entry + 16, b"\x01\x02\x03\x04"), (at + 14, b"\x01\x02\x03\x04")), "CRC-32")


def test_duplicate_unsafe_and_nul_member_names_are_failures(built: Built) -> None:
    twice = [*built.files.items(), ("signatures/athens.sig", built.files["signatures/athens.sig"])]
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")
        for name, content in twice:
            archive.writestr(f"{FOLDER}/{name}", content)
        archive.comment = b"so that zipfile reads it"
    fails(buffer.getvalue(), "duplicate")  # through zipfile
    fails(buffer.getvalue()[: -len(archive.comment) - 2] + b"\x00\x00", "duplicate")  # through ziputil
    fails(built.zip({**built.files, "signatures/../../etc/passwd": b"x"}), "unsafe")
    fails(built.zip({**built.files, "/etc/passwd": b"x"}), "exactly one top-level folder")
    with_nul = built.zip({**built.files, "keys/xZ.pem": b"x"}, method=zipfile.ZIP_STORED)
    name = f"{FOLDER}/keys/xZ.pem".encode()
    entry, at = central_entry(with_nul, "keys/xZ.pem"), local_header(with_nul, "keys/xZ.pem")
    nul = name.replace(b"Z", b"\x00")
    fails(patched(with_nul, (entry + 46, nul), (at + 30, nul)), "NUL")


def with_extra(built: Built, name: str, extra: bytes, comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, content in built.files.items():
            info = zipfile.ZipInfo(f"{FOLDER}/{member}", date_time=(2026, 11, 27, 12, 0, 0))
            info.extra = extra if member == name else b""
            archive.writestr(info, content)
        archive.comment = comment
    return buffer.getvalue()


def test_a_second_name_in_an_extra_field_is_a_failure(built: Built) -> None:
    timestamp = struct.pack("<2HBL", 0x5455, 5, 1, 1_800_000_000)  # "UT": harmless, Info-ZIP writes it
    verifies(with_extra(built, "signatures/athens.json", timestamp))
    unicode_path = struct.pack("<2HBL", 0x7075, 5 + 21, 1, 0) + b"signatures/sofia.json"
    for comment in (b"", b"read by zipfile"):
        fails(with_extra(built, "signatures/athens.json", timestamp + unicode_path, comment), "Unicode name")
    fails(with_extra(built, "signatures/athens.json", timestamp[:-1]), "malformed extra field")


def test_an_unknown_compression_method_or_encryption_is_a_failure(built: Built) -> None:
    plain = built.zip(method=zipfile.ZIP_STORED)
    name = "signatures/sofia.json"
    for method in (b"\x63\x00", b"\x01\x00", b"\xff\xff"):  # 99 (AES), 1 (shrunk), 65535
        fails(patched(plain, (central_entry(plain, name) + 10, method), (local_header(plain, name) + 8, method)),
              "cannot read the archive")
    flag = b"\x01\x00"
    fails(patched(plain, (central_entry(plain, name) + 8, flag), (local_header(plain, name) + 6, flag)), "encrypted")


def test_members_that_overrun_or_a_damaged_directory_are_failures(built: Built) -> None:
    plain = built.zip(method=zipfile.ZIP_STORED)
    entry, at = central_entry(plain, SUMS), local_header(plain, SUMS)
    huge = struct.pack("<L", len(plain))
    fails(patched(plain, (entry + 20, huge), (entry + 24, huge), (at + 18, huge), (at + 22, huge)),
          "cannot read the archive")
    fails(patched(plain, (entry, b"PK\x01\x03")), "cannot read the archive")
    fails(patched(plain, (entry + 42, struct.pack("<L", len(plain) - 10))), "cannot read the archive")
    count = struct.unpack_from("<H", plain, len(plain) - 12)[0]
    fails(patched(plain, (len(plain) - 12, struct.pack("<H", count - 1))), "cannot read the archive")


def test_damaged_archives_fail_in_the_command_too(built: Built, tmp_path: Path) -> None:
    plain = built.zip(method=zipfile.ZIP_STORED)
    at = local_header(plain, "signatures/athens.sig")
    for index, data in enumerate((plain[:-7], patched(plain, (at + 14, b"\x00\x00\x00\x00")))):
        path = tmp_path / f"{index}.zip"
        path.write_bytes(data)
        result = run_verify_cli(path)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stdout + result.stderr
        assert "FAIL  cannot read the archive" in result.stdout


# --- Key files ----------------------------------------------------------------------------------------------------


def pem_variants(pem: bytes) -> list[bytes]:
    body = pem.split(b"\n")[1]
    x25519 = pem.replace(body[:16], b"MCowBQYDK2VuAyEA")  # the X25519 OID, 1.3.101.110
    return [pem + b"garbage", pem + b"\n", b"junk\n" + pem, pem.replace(b"\n", b"\r\n"), x25519,
            pem.replace(body, body[:30] + b"\n" + body[30:]), pem.replace(b"PUBLIC KEY", b"PRIVATE KEY"),
            pem.replace(body, body[:-2] + padding_bit(body[-2:-1]) + b"="), pem[:-1], b""]


def padding_bit(char: bytes) -> bytes:
    """The base64 digit with its lowest bit flipped: the same bytes once decoded, but not the canonical text."""
    digits = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return digits[digits.index(char) ^ 1 : (digits.index(char) ^ 1) + 1]


def test_only_the_exact_pem_accord_writes_is_a_key(built: Built) -> None:
    key = Ed25519PrivateKey.generate()
    pem = payload.public_key_pem(raw_public(key))
    assert fastparse.public_key_from_pem(pem) == raw_public(key)
    for variant in pem_variants(pem):
        assert fastparse.public_key_from_pem(variant) is None, variant

    name = next(n for n in built.files if n.startswith("keys/"))
    for index, variant in enumerate(pem_variants(built.files[name])):
        def bad_key(files: dict[str, bytes], manifest: dict[str, object], variant: bytes = variant) -> None:
            files[name] = variant

        fails(built.resealed(bad_key), "not an Ed25519 public key")  # the hashes match: only the parser refuses
        if index < 4:
            def bad_platform(files: dict[str, bytes], manifest: dict[str, object], index: int = index) -> None:
                files[PLATFORM_KEY] = pem_variants(files[PLATFORM_KEY])[index]

            fails(built.resealed(bad_platform), "platform.pem is not an Ed25519 public key")


# --- The manifest (payloads: test_fastparse_agrees.py) --------------------------------------------------------------


def test_malformed_manifest_values_are_failures_not_crashes(built: Built) -> None:
    def unhashable(files: dict[str, bytes], manifest: dict[str, object]) -> None:
        entries = manifest["signatures"]
        assert isinstance(entries, list)
        entries[0]["payload_file"] = ["signatures/athens.json"]
        entries[1]["key_file"] = {"a": 1}
        entries[2]["city_slug"] = [1]
        manifest["withdrawals"] = [{"withdrawal_file": [1], "signature": {"signature_file": {}}}]

    fails(built.resealed(unhashable), "missing")

    def surrogate(files: dict[str, bytes], manifest: dict[str, object]) -> None:
        files["signatures/athens.json"] = files["signatures/athens.json"].replace(b"Delegate", b"\\ud800Delegate")

    fails(built.resealed(surrogate), "signature of Athens")
    lone = built.zip({**built.files, MANIFEST: built.files[MANIFEST].replace(b"Declaration",
                                                                                           b"\\udc00Declaration")})
    fails(lone, "manifest is RFC 8785 canonical JSON")
    fails(built.zip({**built.files, MANIFEST: b"[" * 100_000}), "manifest.json is not UTF-8 JSON")
