"""Exact and fast parsers for ``signing.verify``: key files and canonical signature payload.

A large bundle holds one key file and one payload per signature, and the general-purpose parsers
(``cryptography``'s PEM loader, ``json.loads`` followed by a ``json.dumps`` to compare) cost more
per signature than the rest of the verification. Neither parser here accepts anything the general
ones refused: a key file must be byte for byte the PEM ``payload.public_key_pem`` writes (stricter
than ``cryptography``'s loader, which also takes other line breaks and bytes around the PEM block),
and a payload that does not match the canonical pattern is handed to ``payload.parse``, which
decides (so exactly the same payloads are accepted). Standard library and ``cryptography`` only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import payload, statements

# An Ed25519 SubjectPublicKeyInfo PEM exactly as ``payload.public_key_pem`` (and OpenSSL) writes it:
# the fixed DER prefix (SEQUENCE, AlgorithmIdentifier 1.3.101.112, BIT STRING of 32 bytes) and the key.
_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
_PEM_HEAD, _PEM_TAIL = b"-----BEGIN PUBLIC KEY-----\n", b"\n-----END PUBLIC KEY-----\n"
_PEM_BODY = slice(len(_PEM_HEAD), len(_PEM_HEAD) + 60)  # base64 of 44 bytes, one line
_PEM_BYTES = len(_PEM_HEAD) + 60 + len(_PEM_TAIL)


def public_key_from_pem(pem: bytes) -> bytes | None:
    """The raw 32-byte key of a key file; None unless it is exactly that PEM (no other layout or bytes)."""
    if len(pem) != _PEM_BYTES or not pem.startswith(_PEM_HEAD) or not pem.endswith(_PEM_TAIL):
        return None
    body = pem[_PEM_BODY]
    try:
        der = binascii.a2b_base64(body, strict_mode=True)
    except binascii.Error:
        return None
    if len(der) != len(_SPKI_PREFIX) + 32 or not der.startswith(_SPKI_PREFIX) or base64.b64encode(der) != body:
        return None
    return der[len(_SPKI_PREFIX) :]


class Key:
    """A key file, parsed once however many signatures name it."""

    __slots__ = ("file_name", "fingerprint", "key")

    def __init__(self, key: Ed25519PublicKey, fingerprint: str, file_name: str) -> None:
        self.key, self.fingerprint, self.file_name = key, fingerprint, file_name  # file_name: the name it must have

    def verifies(self, signature: bytes, message: bytes) -> bool:
        """Exactly ``payload.verify``, without rebuilding the key for every signature."""
        if len(signature) != payload.SIGNATURE_BYTES:
            return False
        try:
            self.key.verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class Keys:
    """The bundle's key files by name, each parsed when first named; None for a missing or malformed one."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self._files = files
        self._parsed: dict[str, Key | None] = {}

    def get(self, name: str) -> Key | None:
        if name in self._parsed:
            return self._parsed[name]
        key = self._parsed[name] = self._parse(self._files.get(name, b""))
        return key

    @staticmethod
    def _parse(pem: bytes) -> Key | None:
        raw = public_key_from_pem(pem)
        if raw is None:
            return None
        try:
            key = Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            return None
        digest = hashlib.sha256(raw).hexdigest()  # as payload.fingerprint and bundle.key_file name it
        return Key(key, "sha256:" + digest, "keys/" + digest + ".pem")


# Canonical payloads, recognised without re-serialising them: the fields of each format of the table
# in sorted order, no whitespace, strings with JCS's minimal escaping (only ", \ and control characters,
# with the short forms \b \t \n \f \r and \u00xx otherwise), integers without sign or leading zeros.
# A payload that does not match is handed to ``payload.parse``, which decides and says why.
_STRING = r'"([^"\\\x00-\x1f]*(?:\\(?:["\\bfnrt]|u00(?:0[0-7bef]|1[0-9a-f]))[^"\\\x00-\x1f]*)*)"'
_INTEGER = r"(0|-?[1-9][0-9]{0,15})"
_VALUES = {"string": _STRING, "integer": _INTEGER}
# The fields every format shares that the verifier and the statement read; a format's other fields are
# returned too unless every format has them (those are only checked for form).
_READ = frozenset(("format", "issuer", "text_sha256", "declaration_slug", "declaration_title", "revision", "city_slug",
                   "city_name", "key_fingerprint", "signer_name", "statement"))


class _Form:
    """One format's canonical pattern, the fields it captures and which of them are integers."""

    __slots__ = ("entry", "integers", "pattern")

    def __init__(self, entry: statements.StatementFormat, returned: frozenset[str]) -> None:
        members = []
        for field in sorted(entry.fields, key=lambda field: field.name):
            value = f'"({re.escape(entry.name)})"' if field.name == "format" else _VALUES[field.type_name]
            group = f"(?P<{field.name}>" if field.name in returned else "(?:"
            members.append(f'"{field.name}":' + value.replace("(", group, 1))
        self.entry, self.pattern = entry, re.compile("{" + ",".join(members) + "}")
        self.integers = tuple(f.name for f in entry.fields if f.name in returned and f.type_name == "integer")


def _compile(table: Mapping[str, statements.StatementFormat]) -> tuple[_Form, ...]:
    """Patterns for the formats of strings and integers only; the others are read by ``payload.parse``."""
    shared = frozenset.intersection(*(frozenset(entry.field_names) for entry in table.values()))
    return tuple(_Form(entry, frozenset(entry.field_names) - shared | _READ)
                 for entry in table.values() if entry.scalar)


_cache: list[tuple[Mapping[str, statements.StatementFormat], dict[str, _Form]]] = []
_FORMAT_MEMBER = '"format":"'


def _forms() -> dict[str, _Form]:
    """The patterns of ``statements.FORMATS`` as it is now by format name (compiled once per table)."""
    table = statements.FORMATS
    if not _cache or _cache[0][0] is not table:
        _cache[:] = [(table, {form.entry.name: form for form in _compile(table)})]
    return _cache[0][1]


def _recognise(text: str) -> tuple[_Form, re.Match[str]] | None:
    """The format whose canonical pattern ``text`` matches, and the match; None if none does.

    Only the pattern of the format the text names is tried: in a text that matches a pattern, every unescaped
    quote delimits a member or a value, so the first ``"format":"`` is that of its one member "format", whose
    value (up to the next quote) is the format's name in its pattern.
    """
    start = text.find(_FORMAT_MEMBER)
    if start < 0:
        return None
    start += len(_FORMAT_MEMBER)
    form = _forms().get(text[start : text.find('"', start)])
    if form is None:
        return None
    match = form.pattern.fullmatch(text)
    return None if match is None else (form, match)


def parse_payload(data: bytes) -> dict[str, Any]:
    """``payload.parse``: the same payloads accepted, else ``PayloadError`` (never another exception).

    A canonical payload is recognised by the patterns above, and only the fields it captures are
    returned; anything else goes to ``payload.parse``, which decides and says why.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    recognised = _recognise(text)
    if recognised is None:
        try:
            return payload.parse(data)
        except payload.PayloadError:
            raise
        except (ValueError, RecursionError) as exc:  # an escaped lone surrogate, a huge number, deep nesting
            raise payload.PayloadError(f"the payload is not valid JSON for a payload: {exc}") from exc
    form, match = recognised
    if "\\" in text:
        fields: dict[str, Any] = json.loads(text)
    else:
        fields = match.groupdict()
        for name in form.integers:
            fields[name] = int(fields[name])
    if fields["statement"] != form.entry.statement(fields):
        raise payload.PayloadError("the payload statement does not match its fields")
    return fields
