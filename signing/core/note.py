"""C2SP signed notes, checkpoints and cosignatures (Ed25519 only).

- ``signed-note``: a text ending in a newline, a blank line, then signature lines
  ``— <name> <base64(key ID ‖ signature)>``; key ID = SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4];
  verifier keys ``<name>+<hex key ID>+<base64(type ‖ public key)>``. Type 0x01 signs the note text.
- ``tlog-checkpoint``: the note text is ``<origin>\\n<tree size>\\n<base64 root>\\n`` (plus extension lines).
- ``tlog-cosignature`` (type 0x04, ``cosignature/v1``): the signature is ``u64 timestamp ‖ Ed25519`` over
  ``cosignature/v1\\ntime <timestamp>\\n`` followed by the note text.

Only the standard library and ``cryptography``: the verifier and the CLI witness use it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
_SIGNATURE_BYTES = {ED25519: 64, COSIGNATURE_V1: 8 + 64}
DASH = "\u2014"  # the em dash that opens a signature line
MAX_SIGNATURES = 100
_NAME = re.compile(r"[^\s+]+")  # no whitespace, no '+'
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


class NoteError(ValueError):
    """A malformed note, key or checkpoint, or a signature that does not verify."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise NoteError("bad base64") from exc
    if b64(data) != text:
        raise NoteError("non-canonical base64")
    return data


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name) or any(not ch.isprintable() for ch in name):
        raise NoteError(f"bad key name {name!r}")


def key_id(name: str, key_type: int, public_key: bytes) -> bytes:
    _check_name(name)
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([key_type]) + public_key).digest()[:4]


def raw_public_key(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A note verifier key: who signs, with which key and key type."""

    name: str
    key_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.key_type, self.public_key)

    def encode(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{b64(bytes([self.key_type]) + self.public_key)}"

    def verify(self, text: str, signature: bytes) -> int | None:
        """Raise unless ``signature`` (without the key ID) signs ``text``; the cosignature's timestamp, if any."""
        if len(signature) != _SIGNATURE_BYTES[self.key_type]:
            raise NoteError(f"a signature of {self.name} has the wrong length")
        timestamp = None
        message = text.encode("utf-8")
        if self.key_type == COSIGNATURE_V1:
            timestamp = int.from_bytes(signature[:8], "big")
            message = cosigned_message(text, timestamp)
            signature = signature[8:]
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            raise NoteError(f"invalid signature for key {self.name}+{self.key_id.hex()}") from None
        return timestamp


def parse_verifier(vkey: str) -> Verifier:
    """Parse ``<name>+<hex key ID>+<base64(type ‖ key)>``, checking that the key ID matches."""
    parts = vkey.split("+", 2)
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise NoteError("malformed verifier key")
    name, hash_hex, encoded = parts
    material = _unb64(encoded)
    if len(material) != 33 or material[0] not in _SIGNATURE_BYTES:
        raise NoteError("unknown key type or wrong key length")
    verifier = Verifier(name, material[0], material[1:])
    if verifier.key_id.hex() != hash_hex:
        raise NoteError("the key ID does not match the key")
    return verifier


def signer_from_private_key(skey: str) -> tuple[Verifier, Ed25519PrivateKey]:
    """Parse Go's ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ seed)>`` (tests and tools)."""
    prefix = "PRIVATE+KEY+"
    if not skey.startswith(prefix):
        raise NoteError("malformed private key")
    parts = skey[len(prefix):].split("+", 2)
    if len(parts) != 3:
        raise NoteError("malformed private key")
    material = _unb64(parts[2])
    if len(material) != 33 or material[0] != ED25519:
        raise NoteError("unknown key type or wrong seed length")
    private = Ed25519PrivateKey.from_private_bytes(material[1:])
    verifier = Verifier(parts[0], ED25519, raw_public_key(private))
    if verifier.key_id.hex() != parts[1]:
        raise NoteError("the key ID does not match the key")
    return verifier, private


def cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes  # after the key ID

    def line(self) -> str:
        return f"{DASH} {self.name} {b64(self.key_id + self.signature)}\n"


def sign(text: str, verifier: Verifier, private: Ed25519PrivateKey) -> Signature:
    """The note signature (type 0x01) of ``text``."""
    _check_text(text)
    return Signature(verifier.name, verifier.key_id, private.sign(text.encode("utf-8")))


def cosign(text: str, verifier: Verifier, private: Ed25519PrivateKey, timestamp: int) -> Signature:
    """A ``cosignature/v1`` of the checkpoint ``text`` at ``timestamp`` (seconds since the epoch)."""
    _check_text(text)
    if not 0 <= timestamp < 2**63:
        raise NoteError("timestamp out of range")
    signed = private.sign(cosigned_message(text, timestamp))
    return Signature(verifier.name, verifier.key_id, timestamp.to_bytes(8, "big") + signed)


def _check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text or text.startswith("\n"):
        raise NoteError("malformed note")
    if any(ch != "\n" and not ch.isprintable() for ch in text):
        raise NoteError("malformed note")


def format_note(text: str, signatures: list[Signature]) -> str:
    _check_text(text)
    return text + "\n" + "".join(s.line() for s in signatures)


def parse_note(message: str | bytes) -> tuple[str, list[Signature]]:
    """Split a signed note into its text and its signature lines (nothing verified yet)."""
    if isinstance(message, bytes):
        try:
            message = message.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("malformed note") from None
    split = message.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note")
    text, block = message[: split + 1], message[split + 2 :]
    _check_text(text)
    if not block.endswith("\n"):
        raise NoteError("malformed note")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("malformed note")
    signatures = []
    for line in lines:
        match = re.fullmatch(DASH + r" (\S+) (\S+)", line)
        if not match:
            raise NoteError("malformed note")
        _check_name(match.group(1))
        raw = _unb64(match.group(2))
        if len(raw) < 5:
            raise NoteError("malformed note")
        signatures.append(Signature(match.group(1), raw[:4], raw[4:]))
    return text, signatures


@dataclass(frozen=True)
class Verified:
    verifier: Verifier
    signature: Signature
    timestamp: int | None


def open_note(message: str | bytes, verifiers: list[Verifier]) -> tuple[str, list[Verified], list[Signature]]:
    """Verify the signatures of known keys; returns the text, the verified ones and the others.

    A signature line naming a known key that does not verify is an error, never skipped.
    """
    text, signatures = parse_note(message)
    known: dict[tuple[str, bytes], Verifier] = {}
    for verifier in verifiers:
        slot = (verifier.name, verifier.key_id)
        if slot in known and known[slot] != verifier:
            raise NoteError(f"ambiguous key {verifier.name}+{verifier.key_id.hex()}")
        known[slot] = verifier
    verified: list[Verified] = []
    unverified: list[Signature] = []
    seen: set[tuple[str, bytes]] = set()
    for signature in signatures:
        match = known.get((signature.name, signature.key_id))
        if match is None:
            unverified.append(signature)
            continue
        timestamp = match.verify(text, signature.signature)
        if (signature.name, signature.key_id) not in seen:
            seen.add((signature.name, signature.key_id))
            verified.append(Verified(match, signature, timestamp))
    return text, verified, unverified


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        body = f"{self.origin}\n{self.size}\n{b64(self.root)}\n"
        return body + "".join(f"{line}\n" for line in self.extensions)


def parse_checkpoint(text: str) -> Checkpoint:
    _check_text(text)
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not lines[0] or not _SIZE.fullmatch(lines[1]):
        raise NoteError("malformed checkpoint")
    root = _unb64(lines[2])
    if len(root) != 32:
        raise NoteError("malformed checkpoint: the root is not 32 bytes")
    return Checkpoint(lines[0], int(lines[1]), root, tuple(lines[3:]))
