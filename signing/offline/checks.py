"""What the offline signer checks before signing: the issued bytes, and the text they name by its SHA-256."""

from __future__ import annotations

import hashlib
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core import payload, statements
from .errors import fail
from .http_client import Api, string_member


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_payload(data: bytes, body: dict[str, Any], wanted: statements.StatementFormat, slug: str,
                  fingerprint: str) -> dict[str, Any]:
    """Everything the signer can check about the issued bytes before signing them."""
    try:
        fields = payload.parse(data)  # canonical, with exactly the fields and types of its format in the table
    except payload.PayloadError as exc:
        fail(f"refusing to sign: {exc}")
    if fields["format"] != wanted.name:
        fail(f"refusing to sign: the server issued a {fields['format']} payload, not {wanted.name}")
    if fields["declaration_slug"] != slug:
        fail(f"refusing to sign: the payload names declaration {fields['declaration_slug']!r}, not {slug!r}")
    if fields["key_fingerprint"] != fingerprint:
        fail(f"refusing to sign: the payload names key {fields['key_fingerprint']}, not this key ({fingerprint})")
    announced = body.get("payload_sha256")
    if announced is not None and announced != sha256_hex(data):
        fail("refusing to sign: payload_sha256 does not match the payload bytes")
    if fields["revision"] < 1:
        fail("refusing to sign: the payload names no revision")
    expires = payload.parse_timestamp(fields["expires_at"])
    if expires <= datetime.now(UTC):
        fail(f"refusing to sign: the payload expired at {fields['expires_at']}; ask for a new one")
    return fields


def check_text(api: Api, fields: dict[str, Any], slug: str, text_file: str | None) -> bytes:
    """Download the revision, hash it here, and compare with the payload (and with the user's own copy)."""
    quoted = urllib.parse.quote(slug, safe="")
    body = api.call("GET", f"/declarations/{quoted}/revisions/{fields['revision']}")
    text = string_member(body, "text", "the revision request")
    data = text.encode("utf-8")
    computed = sha256_hex(data)
    if computed != fields["text_sha256"]:
        fail(f"refusing to sign: the revision text downloaded hashes to {computed}, but the payload names "
             f"{fields['text_sha256']}")
    if body.get("sha256") not in (None, computed):
        fail("refusing to sign: the server's sha256 for the revision does not match its text")
    if text_file:
        try:
            local = Path(text_file).read_bytes()
        except OSError as exc:
            fail(f"cannot read {text_file}: {exc.strerror or exc}")
        if sha256_hex(local) != fields["text_sha256"]:
            fail(f"refusing to sign: {text_file} hashes to {sha256_hex(local)}, but the payload names "
                 f"{fields['text_sha256']}")
    return data
