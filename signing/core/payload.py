"""The exact bytes a delegate signs: RFC 8785 canonical JSON.

This one module produces and reads the bytes of every statement format in the
table of :mod:`signing.core.statements` (signatures, withdrawals), and defines key
fingerprints and Ed25519 verification. The server issues payloads with it, the offline CLI
signer reads them with it, and the bundle verifier checks them with it. Only the
standard library and ``cryptography`` are needed to *read and verify*; issuing
uses the ``rfc8785`` package.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import statements

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64

# The formats and their fields are the table of ``statements``; these names are kept for their readers.
SIGNATURE_FORMAT = statements.SIGNATURE.name
WITHDRAWAL_FORMAT = statements.WITHDRAWAL.name
SIGNATURE_FIELDS = statements.SIGNATURE.field_names
WITHDRAWAL_FIELDS = statements.WITHDRAWAL.field_names
SIGNATURE_V2_FORMAT = statements.SIGNATURE_V2.name

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# A BCP 47 tag as Accord writes them (``en``, ``tr``, ``sr-Latn``): letters, then subtags of letters and digits.
LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
MANDATE_FORMAT = statements.MANDATE.name
MANDATE_REVOCATION_FORMAT = statements.MANDATE_REVOCATION.name
NETWORK_SCOPE = "network"
DECLARATION_SCOPE = "declaration:"


def mandate_scope_covers(scope: str, declaration_slug: str) -> bool:
    """Whether a mandate's ``scope`` ("network" or "declaration:<slug>") covers this declaration."""
    return scope == NETWORK_SCOPE or scope == DECLARATION_SCOPE + declaration_slug


def mandate_covers(fields: dict[str, Any], *, city_slug: str, delegate_id: int, key_fingerprint: str,
                   declaration_slug: str, moment: datetime) -> bool:
    """Whether the parsed ``accord.mandate/1`` ``fields`` authorise this signature (revocations aside).

    The mandate names the city, the delegate, the key among its fingerprints, a scope covering the declaration,
    and ``valid_from <= moment < valid_until``.
    """
    if fields.get("format") != MANDATE_FORMAT:
        return False
    try:
        window = parse_timestamp(fields["valid_from"]) <= moment < parse_timestamp(fields["valid_until"])
    except PayloadError:
        return False
    return (window and fields["city_slug"] == city_slug and fields["delegate_id"] == delegate_id
            and key_fingerprint in fields["delegate_key_fingerprints"]
            and mandate_scope_covers(fields["scope"], declaration_slug))


class PayloadError(ValueError):
    """The bytes are not a well-formed Accord payload."""


def canonical_json(value: dict[str, Any]) -> bytes:
    """RFC 8785 (JSON Canonicalization Scheme) serialisation."""
    import rfc8785

    return bytes(rfc8785.dumps(value))


def is_canonical(data: bytes, parsed: dict[str, Any]) -> bool:
    """True if ``data`` is the JCS form of ``parsed``.

    For Accord payloads (ASCII keys; strings, integers, booleans, arrays and objects of them)
    JCS equals sorted keys, no whitespace and minimal escaping, which the standard library produces.
    """
    expected = json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return expected == data


# Encodings of the Ed25519 points of small order (1, 2, 4, 8), compared with the sign bit cleared,
# including the non-canonical y = p-1, p, p+1 — the blocklist libsodium uses. A key among them
# would let its holder later claim that anyone could have produced "their" signature.
_SMALL_ORDER = frozenset(
    bytes.fromhex(h)
    for h in (
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    )
)


def is_weak_public_key(public_key: bytes) -> bool:
    """True for a small-order (or non-canonical small-order) Ed25519 public key."""
    if len(public_key) != PUBLIC_KEY_BYTES:
        return True
    return public_key[:31] + bytes([public_key[31] & 0x7F]) in _SMALL_ORDER


def fingerprint(public_key: bytes) -> str:
    """``sha256:`` + hex SHA-256 of the raw 32-byte Ed25519 public key."""
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise PayloadError(f"an Ed25519 public key is {PUBLIC_KEY_BYTES} bytes, not {len(public_key)}")
    return "sha256:" + hashlib.sha256(public_key).hexdigest()


def public_key_pem(public_key: bytes) -> bytes:
    """The SubjectPublicKeyInfo PEM that ``openssl pkeyutl -pubin`` reads."""
    key = Ed25519PublicKey.from_public_bytes(public_key)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Ed25519 (RFC 8032, pure) verification. False for any malformed input."""
    if len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with seconds precision, e.g. ``2026-11-27T10:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"bad timestamp {value!r}") from exc


def format_of(fields: dict[str, Any]) -> statements.StatementFormat:
    """The table entry named by ``fields["format"]``; ``PayloadError`` for an unknown or missing one."""
    entry = statements.lookup(fields.get("format"))
    if entry is None:
        raise PayloadError(f"unknown payload format {fields.get('format')!r}")
    return entry


def statement(fields: dict[str, Any]) -> str:
    """The human sentence carried inside the payload: its format's verb in the one sentence."""
    return format_of(fields).statement(fields)


def check_fields(entry: statements.StatementFormat, fields: dict[str, Any]) -> None:
    """``PayloadError`` unless ``fields`` has exactly the fields of ``entry``, each of its type."""
    if set(fields) != set(entry.field_names):
        raise PayloadError(f"payload fields differ from {entry.name}: {sorted(set(fields) ^ set(entry.field_names))}")
    for field in entry.fields:
        _check_value(field, fields[field.name], field.name)


def _check_value(field: statements.Field, value: Any, where: str) -> None:
    if type(value) is not field.python_type:
        raise PayloadError(f"payload field {where!r} has the wrong type")
    if field.type_name != "array":
        return
    items = cast(list[Any], value)
    for index, item in enumerate(items):
        if not field.item_fields:
            if type(item) is not statements.PYTHON_TYPES[field.item_type]:
                raise PayloadError(f"payload field {where}[{index}] has the wrong type")
            continue
        if type(item) is not dict or set(item) != {member.name for member in field.item_fields}:
            raise PayloadError(f"payload field {where}[{index}] is not an object of the expected members")
        for member in field.item_fields:
            _check_value(member, item[member.name], f"{where}[{index}].{member.name}")


def check_versions(fields: dict[str, Any]) -> None:
    """For a format with ``versions``: ``PayloadError`` unless they are what the format promises.

    At least one version, sorted by tag with each tag once, each a BCP 47 tag with a lowercase hex SHA-256,
    exactly one authoritative, which ``authoritative_language`` and ``text_sha256`` name again;
    ``mandate_sha256`` is ``""`` or a lowercase hex SHA-256. Call after :func:`check_fields`.
    """
    versions = cast(list[dict[str, Any]], fields["versions"])
    if not versions:
        raise PayloadError("payload field 'versions' is empty")
    tags = [version["tag"] for version in versions]
    if not all(LANGUAGE_TAG.fullmatch(tag) for tag in tags):
        raise PayloadError("payload field 'versions' holds a tag that is not a BCP 47 language tag")
    if tags != sorted(set(tags)) or len({tag.lower() for tag in tags}) != len(tags):
        raise PayloadError("payload field 'versions' is not sorted by tag, each tag once")
    if not all(SHA256_HEX.fullmatch(version["sha256"]) for version in versions):
        raise PayloadError("payload field 'versions' holds a sha256 that is not lowercase hex SHA-256")
    main = [version for version in versions if version["authoritative"]]
    if len(main) != 1:
        raise PayloadError("payload field 'versions' must hold exactly one authoritative version")
    if main[0]["tag"] != fields["authoritative_language"]:
        raise PayloadError("payload field 'authoritative_language' is not the authoritative version's tag")
    if main[0]["sha256"] != fields["text_sha256"]:
        raise PayloadError("payload field 'text_sha256' is not the authoritative version's sha256")
    mandate = fields.get("mandate_sha256", "")
    if mandate != "" and not SHA256_HEX.fullmatch(mandate):
        raise PayloadError("payload field 'mandate_sha256' is neither empty nor a lowercase hex SHA-256")


def _check_rules(entry: statements.StatementFormat, fields: dict[str, Any]) -> None:
    """The rules of a format beyond its fields' types (after :func:`check_fields`)."""
    if "versions" in entry.field_names:
        check_versions(fields)


def build(fields: dict[str, Any]) -> bytes:
    """Canonical bytes for a payload; ``statement`` is derived from the other fields (any given one is replaced)."""
    entry = format_of(fields)
    body = {name: value for name, value in fields.items() if name != "statement"}
    check_fields(entry, {**body, "statement": ""})
    _check_rules(entry, body)
    body["statement"] = entry.statement(body)
    return canonical_json(body)


def parse(data: bytes) -> dict[str, Any]:
    """Parse and check payload bytes: UTF-8, canonical, the fields and types of its format, its own statement."""
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError("the payload is not UTF-8 JSON") from exc
    if not isinstance(parsed, dict):
        raise PayloadError("the payload is not a JSON object")
    entry = format_of(parsed)
    if set(parsed) != set(entry.field_names):
        raise PayloadError("the payload has missing or extra fields")
    check_fields(entry, parsed)
    _check_rules(entry, parsed)
    if not is_canonical(data, parsed):
        raise PayloadError("the payload is not in RFC 8785 canonical form")
    if parsed["statement"] != entry.statement(parsed):
        raise PayloadError("the payload statement does not match its fields")
    return parsed


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, what: str) -> bytes:
    """Standard or URL-safe base64, padding optional; ``PayloadError`` naming ``what`` otherwise."""
    if not isinstance(text, str) or len(text) > 1_000_000:
        raise PayloadError(f"{what} must be a base64 string")
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (ValueError, base64.binascii.Error) as exc:  # type: ignore[attr-defined]
        raise PayloadError(f"{what} is not valid base64") from exc
