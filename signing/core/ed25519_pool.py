"""The per-file checks of an endorsement export (``signing.verify``), for one run of the archive's files.

``check_files`` takes a run of files (path inside the export's folder, content) and gives back what the rest of
the verification needs, never the statements themselves: every file's SHA-256 (the parent compares them with
the manifest and ``SHA256SUMS``), the contents of the few files that are neither statements, signatures nor keys
(the manifest, ``SHA256SUMS``, ``VERIFY.txt``, the platform key, the log), and for every statement its outcome:
that it is named by its own SHA-256, parses as its format (``fastparse``), names this declaration, this issuer
and the frozen bundle's manifest hash, and is signed by the key its fingerprint names, checked with the key file
of that name. A statement's signature file and key file are looked for in the same run (the export writes each
statement's next to it, and ``core.export_zip`` cuts runs before an endorsement only); those a run does not hold
are listed in ``absent``, the outcome saying they are missing, and the caller decides whether they are.

``core.export_zip`` runs this in worker processes on the ranges of the zip they read themselves; with the files
already in memory (``verifier.read_archive``), it runs once over all of them. Standard library, ``cryptography``
and ``signing.core`` only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import fastparse, payload

CHUNK = 2048  # endorsements per run a worker reads: large enough that a run's round trip is small beside its work
ENDORSEMENTS, WITHDRAWALS, KEYS = "endorsements/", "withdrawals/", "keys/"
STATEMENT_FOLDERS = (ENDORSEMENTS, WITHDRAWALS)


@dataclass(frozen=True)
class Facts:
    """What every statement must name: the declaration, the frozen bundle, the issuer; and the two formats."""

    slug: str
    bundle: str
    issuer: str
    endorsement_format: str
    withdrawal_format: str


# A statement's outcome: (its problems, its endorser id, the statement it withdraws).
Outcome = tuple[list[str], str | None, Any]


@dataclass
class Checked:
    """What a run of files gave."""

    digests: dict[str, str] = field(default_factory=dict)  # every file's hex SHA-256, in the run's order
    others: dict[str, bytes] = field(default_factory=dict)  # files outside the statement and key folders
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # every statement (a .json in their folders)
    absent: set[str] = field(default_factory=set)  # signature and key files named but not in the run
    unresolved: dict[str, tuple[bytes, bytes | None]] = field(default_factory=dict)  # their statements, signatures

    def merge(self, other: Checked) -> None:
        self.digests.update(other.digests)
        self.others.update(other.others)
        self.outcomes.update(other.outcomes)
        self.absent |= other.absent
        self.unresolved.update(other.unresolved)


def check_files(files: Iterable[tuple[str, bytes]], facts: Facts) -> Checked:
    """Hash every file of the run and check every statement in it (see the module docstring)."""
    sha256 = hashlib.sha256
    checked = Checked()
    digests, others, absent = checked.digests, checked.others, checked.absent
    contents: dict[str, bytes] = {}  # the statement folders' and the keys' files
    statements: list[str] = []
    for name, content in files:
        digests[name] = sha256(content).hexdigest()
        if name.startswith(STATEMENT_FOLDERS):
            contents[name] = content
            if name.endswith(".json"):
                statements.append(name)
        elif name.startswith(KEYS):
            contents[name] = content
        else:
            others[name] = content
    issuer_members = members_naming(facts.issuer)
    outcomes = checked.outcomes
    for name in statements:
        data = contents[name]
        signature_name = name[:-5] + ".sig"
        signature = contents.get(signature_name)
        if signature is None:
            absent.add(signature_name)
        key_name = f"{KEYS}{fingerprint_named(data)}.pem"
        key_file = contents.get(key_name)
        if key_file is None:
            absent.add(key_name)
        if key_file is None or signature is None:
            checked.unresolved[name] = (data, signature)
        withdrawal, digest = name.startswith(WITHDRAWALS), digests[name]
        named = name == (WITHDRAWALS if withdrawal else ENDORSEMENTS) + digest + ".json"  # its own SHA-256
        outcomes[name] = check(facts, issuer_members, data, digest, digest if named else "", signature, key_file,
                               withdrawal)
    return checked


def members_naming(issuer: str) -> tuple[bytes, bytes]:
    """The canonical JSON member "issuer" naming ``issuer``, followed by the next member or by the end."""
    text = json.dumps(issuer, ensure_ascii=False).encode("utf-8")
    return b'"issuer":' + text + b",", b'"issuer":' + text + b"}"


def fingerprint_named(data: bytes) -> str:
    """The hex key fingerprint a statement names, read without parsing it (``check`` parses it and checks it
    against the key file's key)."""
    start = data.find(b'"key_fingerprint":"sha256:')
    return "" if start < 0 else data[start + 26 : start + 90].decode("ascii", "replace")


def check(facts: Facts, issuer_members: tuple[bytes, bytes], data: bytes, digest: str, name_hash: str,
          signature: bytes | None, key_file: bytes | None, withdrawal: bool) -> Outcome:
    """One statement's checks; ``digest``: its hex SHA-256, ``name_hash``: the one its file name says ("" if its
    name is not ``<folder>/<64 hex digits>.json``)."""
    if signature is None:
        return ["its signature file is missing"], None, None
    if digest != name_hash:
        return ["not named by its SHA-256"], None, None
    try:
        fields = fastparse.parse_payload(data)
    except payload.PayloadError as exc:
        return [str(exc)], None, None
    wanted = facts.withdrawal_format if withdrawal else facts.endorsement_format
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
            (issuer_members[0] not in data and issuer_members[1] not in data):
        wrong.append("issued by another platform")
    fingerprint = fields.get("key_fingerprint")
    key = fastparse.public_key_from_pem(key_file[:1024]) if key_file is not None else None
    if key is None or fingerprint != "sha256:" + hashlib.sha256(key).hexdigest():
        wrong.append(f"no key file holds its key {fingerprint}")
    elif len(signature) != payload.SIGNATURE_BYTES or not _verifies(key, signature, data):
        wrong.append("Ed25519 signature does not verify with the key it names")
    return wrong, str(fields.get("endorser_id")), fields.get("withdraws_payload_sha256")


def _verifies(key: bytes, signature: bytes, data: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True
