"""What the offline signer checks before signing: the issued bytes, and the text they name by its SHA-256."""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core import payload, statements
from .errors import fail
from .http_client import Api, string_member


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_payload(data: bytes, body: dict[str, Any], wanted: Sequence[statements.StatementFormat], slug: str,
                  fingerprint: str) -> dict[str, Any]:
    """Everything the signer can check about the issued bytes before signing them (``wanted``: its formats)."""
    try:
        fields = payload.parse(data)  # canonical, with exactly the fields and types of its format in the table
    except payload.PayloadError as exc:
        fail(f"refusing to sign: {exc}")
    if fields["format"] not in [entry.name for entry in wanted]:
        names = " or ".join(entry.name for entry in wanted)
        fail(f"refusing to sign: the server issued a {fields['format']} payload, not {names}")
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


def check_text(api: Api, fields: dict[str, Any], slug: str, text_file: str | None,
               version_files: Mapping[str, str] | None = None) -> tuple[bytes, dict[str, bytes]]:
    """Download the revision, hash it here, and compare with the payload (and with the user's own copies).

    Returns the authoritative text and, for a payload naming language versions, every version's text by tag
    (each hashed here and compared with the payload's ``versions``; ``version_files``: the user's own copies).
    """
    quoted = urllib.parse.quote(slug, safe="")
    body = api.call("GET", f"/declarations/{quoted}/revisions/{fields['revision']}")
    versions = check_versions(body, fields, version_files or {}) if "versions" in fields else {}
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
    return data, versions


def check_versions(body: dict[str, Any], fields: dict[str, Any], version_files: Mapping[str, str]) -> dict[str, bytes]:
    """Every language version the server sent, hashed here: exactly the versions the payload names, same bytes."""
    sent = body.get("versions")
    if not isinstance(sent, list) or not all(isinstance(v, dict) and isinstance(v.get("tag"), str)
                                             and isinstance(v.get("text"), str) for v in sent):
        fail("refusing to sign: the server sent no language versions for a statement that names them")
    texts = {v["tag"]: v["text"].encode("utf-8") for v in sent}
    named = {v["tag"]: v["sha256"] for v in fields["versions"]}
    if set(texts) != set(named) or len(texts) != len(sent):
        fail(f"refusing to sign: the server sent the versions {sorted(texts)}, but the payload names {sorted(named)}")
    for tag, text in texts.items():
        if sha256_hex(text) != named[tag]:
            fail(f"refusing to sign: the {tag} version downloaded hashes to {sha256_hex(text)}, but the payload "
                 f"names {named[tag]}")
    for tag, path in version_files.items():
        if tag not in named:
            fail(f"refusing to sign: the payload names no {tag} version (given {path})")
        try:
            local = Path(path).read_bytes()
        except OSError as exc:
            fail(f"cannot read {path}: {exc.strerror or exc}")
        if sha256_hex(local) != named[tag]:
            fail(f"refusing to sign: {path} hashes to {sha256_hex(local)}, but the payload names {named[tag]} "
                 f"for {tag}")
    return texts
