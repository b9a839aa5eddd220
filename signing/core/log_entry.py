"""The entries of the transparency log: one RFC 8785 canonical JSON object per event that matters to trust.

Every entry has ``format`` (``accord.log-entry/1``), ``kind`` and ``at`` (UTC, seconds); the other fields
per kind are listed in ``FIELDS`` and defined in ``docs/transparency-log.md``. No e-mail address or
other personal data: cities, declarations, revisions, key fingerprints and SHA-256 digests of bytes
that the bundle publishes anyway.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from .payload import canonical_json, is_canonical

FORMAT = "accord.log-entry/1"
REVISION_PUBLISHED = "revision.published"
CONSULTATION_OPENED = "consultation.opened"
SIGNING_OPENED = "signing.opened"
RETURNED_TO_CONSULTATION = "signing.returned_to_consultation"
KEY_ENROLLED = "key.enrolled"
KEY_REVOKED = "key.revoked"
SIGNATURE_ACCEPTED = "signature.accepted"
SIGNATURE_WITHDRAWN = "signature.withdrawn"
DECLARATION_FROZEN = "declaration.frozen"
ENDORSEMENT_ACCEPTED = "endorsement.accepted"
ENDORSEMENT_WITHDRAWN = "endorsement.withdrawn"

_DECLARATION = ("declaration", "revision", "text_sha256")
FIELDS: dict[str, tuple[str, ...]] = {
    REVISION_PUBLISHED: _DECLARATION,
    CONSULTATION_OPENED: _DECLARATION,
    SIGNING_OPENED: (*_DECLARATION, "rule", "deadline", "signatories"),
    RETURNED_TO_CONSULTATION: ("declaration", "revision"),
    KEY_ENROLLED: ("city", "key_fingerprint", "key_use"),
    KEY_REVOKED: ("city", "key_fingerprint", "key_use"),
    SIGNATURE_ACCEPTED: ("declaration", "revision", "city", "key_fingerprint", "payload_sha256", "signature_sha256"),
    SIGNATURE_WITHDRAWN: ("declaration", "revision", "city", "key_fingerprint", "payload_sha256", "signature_sha256",
                          "withdraws_payload_sha256"),
    DECLARATION_FROZEN: ("declaration", "revision", "text_sha256", "manifest_sha256"),
    # An endorser is named by its random public id only (no name, no e-mail address).
    ENDORSEMENT_ACCEPTED: ("declaration", "endorser", "endorser_kind", "key_fingerprint", "payload_sha256",
                           "signature_sha256"),
    ENDORSEMENT_WITHDRAWN: ("declaration", "endorser", "endorser_kind", "key_fingerprint", "payload_sha256",
                            "signature_sha256", "withdraws_payload_sha256"),
}
KEY_USES = ("signing", "witness")


class EntryError(ValueError):
    """Not a well-formed log entry."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make(kind: str, at: datetime, **fields: Any) -> bytes:
    """The canonical bytes of an entry of ``kind``; exactly the fields ``FIELDS[kind]`` names."""
    expected = FIELDS.get(kind)
    if expected is None:
        raise EntryError(f"unknown log entry kind {kind!r}")
    if set(fields) != set(expected):
        raise EntryError(f"a {kind} entry has the fields {sorted(expected)}, not {sorted(fields)}")
    return canonical_json({"format": FORMAT, "kind": kind, "at": timestamp(at), **fields})


def parse(data: bytes) -> dict[str, Any]:
    """Read an entry, checking that it is canonical and has its kind's fields (standard library only)."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EntryError("a log entry is not JSON") from exc
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise EntryError("not an accord.log-entry/1")
    expected = FIELDS.get(str(value.get("kind")))
    if expected is None or set(value) != {"format", "kind", "at", *expected}:
        raise EntryError("a log entry has unknown kind or fields")
    if not is_canonical(data, value):
        raise EntryError("a log entry is not in canonical form")
    return value
