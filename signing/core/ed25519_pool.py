"""The per-statement checks of an endorsement export, on several processes (``signing.verify --jobs N``).

Everything that is done once per statement runs here, in the workers: its SHA-256 and its signature file's
against the manifest and its name, parsing it (``fastparse``), the facts it must name, and the Ed25519 check
with the key file the parent picked by the fingerprint it names. The parent reads the archive and the key files and
sends the statements in chunks, each one ``bytes`` object (a small JSON header with the facts, then for each
statement its flags, hashes, key, signature and bytes), never one pickled object per statement; a worker answers
a chunk with one JSON document (a small list per statement). The parent submits a chunk as soon as it has
gathered it, so that the workers check while it goes on. With one job the same function runs in the parent.
Standard library, ``cryptography`` and ``signing.core`` only.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import struct
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import fastparse, payload

CHUNK = 1024  # statements per chunk: large enough that a chunk's round trip is small beside its Ed25519 work
_LENGTHS = struct.Struct("<BHLL")  # flags, key file length, signature length, statement length
_ZERO = bytes(32)
JSON_LISTED, SIG_LISTED, SIG_PRESENT, KEY_PRESENT, WITHDRAWAL = 1, 2, 4, 8, 16


@dataclass(frozen=True)
class Facts:
    """What every statement must name: the declaration, the frozen bundle, the issuer; and the two formats."""

    slug: str
    bundle: str
    issuer: str
    endorsement_format: str
    withdrawal_format: str


@dataclass(frozen=True)
class Statement:
    """One statement to check: its bytes, signature (or none), the key it names (or none), the hashes it must have."""

    data: bytes
    signature: bytes | None
    key_file: bytes | None  # keys/<the fingerprint it names>.pem, if there is such a file
    name_sha256: bytes  # the hash its file name says
    listed_sha256: bytes | None  # the manifest's hash of the statement file (None: not listed)
    listed_signature_sha256: bytes | None  # and of its signature file
    withdrawal: bool


# A statement's outcome: [problems with the manifest's hashes, other problems, endorser id, withdrawn statement].
Outcome = list[Any]


def pack(facts: Facts, statements: list[Statement]) -> bytes:
    head = json.dumps([facts.slug, facts.bundle, facts.issuer, facts.endorsement_format,
                       facts.withdrawal_format]).encode("utf-8")
    parts = [struct.pack("<L", len(head)), head]
    for item in statements:
        flags = ((JSON_LISTED if item.listed_sha256 is not None else 0)
                 | (SIG_LISTED if item.listed_signature_sha256 is not None else 0)
                 | (SIG_PRESENT if item.signature is not None else 0)
                 | (KEY_PRESENT if item.key_file is not None else 0)
                 | (WITHDRAWAL if item.withdrawal else 0))
        signature, key_file = item.signature or b"", (item.key_file or b"")[:1024]
        parts += (_LENGTHS.pack(flags, len(key_file), len(signature), len(item.data)), item.name_sha256,
                  item.listed_sha256 or _ZERO, item.listed_signature_sha256 or _ZERO, key_file, signature, item.data)
    return b"".join(parts)


def _unpack(chunk: bytes) -> tuple[Facts, list[Statement]]:
    (size,) = struct.unpack_from("<L", chunk)
    facts = Facts(*json.loads(chunk[4 : 4 + size]))
    position, items = 4 + size, []
    while position < len(chunk):
        flags, key_size, signature_size, data_size = _LENGTHS.unpack_from(chunk, position)
        position += _LENGTHS.size
        name, listed, listed_signature = (chunk[position + 32 * i : position + 32 * (i + 1)] for i in range(3))
        position += 96
        key_file = chunk[position : position + key_size]
        position += key_size
        signature = chunk[position : position + signature_size]
        data = chunk[position + signature_size : position + signature_size + data_size]
        position += signature_size + data_size
        items.append(Statement(data, signature if flags & SIG_PRESENT else None,
                               key_file if flags & KEY_PRESENT else None,
                               name, listed if flags & JSON_LISTED else None,
                               listed_signature if flags & SIG_LISTED else None, bool(flags & WITHDRAWAL)))
    return facts, items


def check_chunk(chunk: bytes) -> bytes:
    """Every statement of the chunk checked: a JSON list of outcomes, in order."""
    facts, items = _unpack(chunk)
    issuer = json.dumps(facts.issuer, ensure_ascii=False).encode("utf-8")
    issuer_members = (b'"issuer":' + issuer + b",", b'"issuer":' + issuer + b"}")
    return json.dumps([_check(facts, issuer_members, item) for item in items], ensure_ascii=False).encode("utf-8")


def _check(facts: Facts, issuer_members: tuple[bytes, bytes], item: Statement) -> Outcome:
    sha256 = hashlib.sha256
    digest = sha256(item.data).digest()
    listing = []
    if item.listed_sha256 is not None and digest != item.listed_sha256:
        listing.append("")  # the statement file differs from the manifest
    if item.signature is not None and item.listed_signature_sha256 is not None \
            and sha256(item.signature).digest() != item.listed_signature_sha256:
        listing.append(".sig")  # its signature file differs
    if item.signature is None:
        return [listing, ["its signature file is missing"], None, None]
    if digest != item.name_sha256:
        return [listing, ["not named by its SHA-256"], None, None]
    try:
        fields = fastparse.parse_payload(item.data)
    except payload.PayloadError as exc:
        return [listing, [str(exc)], None, None]
    wanted = facts.withdrawal_format if item.withdrawal else facts.endorsement_format
    wrong = []
    if fields["format"] != wanted:
        wrong.append(f"not an {wanted} statement")
    if fields.get("declaration_slug") != facts.slug:
        wrong.append("names another declaration")
    if fields.get("bundle_manifest_sha256") != facts.bundle:
        wrong.append("names another frozen bundle")
    # The fast reader returns only the fields that tell formats apart; in canonical JSON the member
    # "issuer" can only be the issuer field, followed by the next member or the end.
    if (fields["issuer"] != facts.issuer) if "issuer" in fields else \
            (issuer_members[0] not in item.data and issuer_members[1] not in item.data):
        wrong.append("issued by another platform")
    fingerprint = fields.get("key_fingerprint")
    key = fastparse.public_key_from_pem(item.key_file) if item.key_file is not None else None
    if key is None or fingerprint != "sha256:" + sha256(key).hexdigest():
        wrong.append(f"no key file holds its key {fingerprint}")
    elif len(item.signature) != payload.SIGNATURE_BYTES or not _verifies(key, item.signature, item.data):
        wrong.append("Ed25519 signature does not verify with the key it names")
    return [listing, wrong, str(fields.get("endorser_id")), fields.get("withdraws_payload_sha256")]


def _verifies(key: bytes, signature: bytes, data: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


class Pool:
    """``jobs`` worker processes (none for 1: the chunks are then checked in this process, at ``results``)."""

    def __init__(self, jobs: int, facts: Facts) -> None:
        self.jobs, self.facts = jobs, facts
        self._executor: ProcessPoolExecutor | None = None
        self._chunks: list[tuple[bytes | Future[bytes], int]] = []
        self._batch: list[Statement] = []

    def __enter__(self) -> Pool:
        if self.jobs > 1:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            self._executor = ProcessPoolExecutor(max_workers=self.jobs, mp_context=context)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def add(self, statement: Statement) -> None:
        """Queue a statement; a full chunk goes to a worker at once."""
        self._batch.append(statement)
        if len(self._batch) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        chunk = pack(self.facts, self._batch)
        self._chunks.append((chunk if self._executor is None else self._executor.submit(check_chunk, chunk),
                             len(self._batch)))
        self._batch = []

    def results(self) -> list[Outcome]:
        """Every statement's outcome, in the order added."""
        self._flush()
        outcomes: list[Outcome] = []
        for chunk, count in self._chunks:
            answer = json.loads(check_chunk(chunk) if isinstance(chunk, bytes) else chunk.result())
            if not isinstance(answer, list) or len(answer) != count:
                raise RuntimeError("a worker answered a chunk with the wrong number of outcomes")
            outcomes += answer
        self._chunks.clear()
        return outcomes
