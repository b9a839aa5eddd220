"""Mayors' mandates in a frozen bundle (format ``accord.bundle/3``): their files, manifest entries and VERIFY.txt.

For each mandate a signature names: ``mandates/<city_slug>.json`` and ``.sig`` (a second one of the same city
``mandates/<city_slug>-2.json``, …), its revocation when there is one, ``mandates/<city_slug>.revocation-1.json``
and ``.sig`` (the number is the mandate's within its city), and the mayors' keys under ``keys/``. Pure functions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import payload

FOLDER = "mandates/"


@dataclass(frozen=True)
class RevocationItem:
    payload: bytes
    signature: bytes
    public_key: bytes  # the mayor's key that signed the revocation
    revoked_at: datetime


@dataclass(frozen=True)
class MandateItem:
    """One signed ``accord.mandate/1`` as stored by the server, and its revocation if any."""

    city_slug: str
    payload: bytes
    signature: bytes
    public_key: bytes  # the mayor's key that signed it
    revocation: RevocationItem | None = None


def key_file(public_key: bytes) -> str:
    return f"keys/{payload.fingerprint(public_key).removeprefix('sha256:')}.pem"


def lay_out(items: list[MandateItem], files: dict[str, bytes], keys: dict[str, bytes]) -> list[dict[str, Any]]:
    """Add the mandates' files (and their keys to ``keys``); return their manifest entries, sorted."""
    entries = []
    count: dict[str, int] = {}
    for item in sorted(items, key=lambda m: (m.city_slug, hashlib.sha256(m.payload).hexdigest())):
        number = count[item.city_slug] = count.get(item.city_slug, 0) + 1
        base = f"{FOLDER}{item.city_slug}" + ("" if number == 1 else f"-{number}")
        files[f"{base}.json"], files[f"{base}.sig"] = item.payload, item.signature
        keys[key_file(item.public_key)] = item.public_key
        entry: dict[str, Any] = {
            "city_slug": item.city_slug,
            "mandate_file": f"{base}.json",
            "signature_file": f"{base}.sig",
            "payload_sha256": hashlib.sha256(item.payload).hexdigest(),
            "key_file": key_file(item.public_key),
            "key_fingerprint": payload.fingerprint(item.public_key),
            "revocation": None,
        }
        if item.revocation is not None:
            revocation = f"{FOLDER}{item.city_slug}.revocation-{number}"
            files[f"{revocation}.json"] = item.revocation.payload
            files[f"{revocation}.sig"] = item.revocation.signature
            keys[key_file(item.revocation.public_key)] = item.revocation.public_key
            entry["revocation"] = {
                "revocation_file": f"{revocation}.json",
                "signature_file": f"{revocation}.sig",
                "key_file": key_file(item.revocation.public_key),
                "key_fingerprint": payload.fingerprint(item.revocation.public_key),
                "revoked_at": payload.timestamp(item.revocation.revoked_at),
            }
        entries.append(entry)
    return entries


def _named_mandate(signature_payload: bytes) -> str:
    try:
        value = json.loads(signature_payload).get("mandate_sha256", "")
    except ValueError:
        return ""
    return value if isinstance(value, str) else ""


def instructions(entries: list[dict[str, Any]], signatures: list[tuple[dict[str, Any], bytes]],
                 items: list[MandateItem]) -> list[str]:
    """VERIFY.txt's section on mandates: ``signatures`` are (manifest entry, payload bytes) of standing signatures."""
    if not entries:
        return []
    by_sha = {entry["payload_sha256"]: entry for entry in entries}
    mandates = {hashlib.sha256(item.payload).hexdigest(): json.loads(item.payload) for item in items}
    lines = [
        "Mayors' mandates. This declaration required that every signature be made under a mandate signed",
        "   by the city's mayor. For each mandate, the mayor's signature (expect 'Signature Verified",
        "   Successfully'), the mayor's key is the one the mandate names, and the mandate's SHA-256 is the one",
        "   the signature names:",
        "",
    ]
    for entry in entries:
        fingerprint_hex = entry["key_fingerprint"].removeprefix("sha256:")
        lines += [
            f"   # mandate of {entry['city_slug']}",
            f"   openssl pkeyutl -verify -pubin -inkey {entry['key_file']} -rawin -in {entry['mandate_file']}"
            f" -sigfile {entry['signature_file']}",
            f"   openssl pkey -pubin -in {entry['key_file']} -outform DER | tail -c 32 | sha256sum"
            f"    # expect {fingerprint_hex}",
            f"   grep -c '\"mayor_key_fingerprint\":\"sha256:{fingerprint_hex}\"' {entry['mandate_file']}"
            "    # expect 1",
            f"   sha256sum {entry['mandate_file']}    # expect {entry['payload_sha256']}",
            "",
        ]
    lines += [
        "   Each signature names its mandate, the mandate names the signer's key, its scope covers this",
        "   declaration, and the signature was issued (issued_at) inside the mandate's validity window:",
        "",
    ]
    for signature_entry, data in signatures:
        named = _named_mandate(data)
        mandate = by_sha.get(named)
        if mandate is None:
            continue
        fields, signed = json.loads(data), mandates[named]
        window = (signed["valid_from"], signed["valid_until"])
        lines += [
            f"   # {signature_entry['city_slug']}: issued {fields['issued_at']}, within {window[0]} .. {window[1]}",
            f"   grep -c '\"mandate_sha256\":\"{named}\"' {signature_entry['payload_file']}    # expect 1",
            f"   grep -c '\"{signature_entry['key_fingerprint']}\"' {mandate['mandate_file']}    # expect 1",
            f"   grep -c '\"scope\":\"{signed['scope']}\"' {mandate['mandate_file']}    # expect 1",
            f"   grep -c '\"valid_from\":\"{window[0]}\",\"valid_until\":\"{window[1]}\"'"
            f" {mandate['mandate_file']}    # expect 1",
            f"   grep -c '\"issued_at\":\"{fields['issued_at']}\"' {signature_entry['payload_file']}    # expect 1",
            "",
        ]
    revoked = [entry for entry in entries if entry["revocation"]]
    if revoked:
        lines += [
            "   Revocations (a signature issued before its mandate's revocation stays valid). Each must verify",
            "   with the mayor's key and name the mandate's SHA-256:",
            "",
        ]
        for entry in revoked:
            revocation = entry["revocation"]
            lines += [
                f"   openssl pkeyutl -verify -pubin -inkey {revocation['key_file']} -rawin"
                f" -in {revocation['revocation_file']} -sigfile {revocation['signature_file']}",
                f"   grep -c '\"revokes_mandate_sha256\":\"{entry['payload_sha256']}\"'"
                f" {revocation['revocation_file']}    # expect 1",
                "",
            ]
    return lines
