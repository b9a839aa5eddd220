"""Fixtures for the cryptographic tests: a declaration open for signature and two delegates holding keys.

The private keys live only in the test (``cryptography``'s ``Ed25519PrivateKey``), as they
live only on a delegate's device; the server learns the public keys through
``services.keys.enrol``, exactly as the browser and the CLI enrol them.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import PASSWORD, People

TEXT = "First paragraph.\n\nSecond paragraph.\n\nThird paragraph.\n"
TEXT_2 = TEXT.replace("Third", "The third")
OPENSSL = shutil.which("openssl")


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass
class Signer:
    """A delegate and the private key only they hold."""

    user: Any
    private_key: Ed25519PrivateKey
    key: Any  # the enrolled SigningKey row

    @property
    def fingerprint(self) -> str:
        return str(self.key.fingerprint)

    @property
    def public(self) -> bytes:
        return raw_public(self.private_key)

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


@dataclass
class Scene:
    declaration: Any
    secretariat: Any
    izmir: Signer
    athens: Signer
    people: People


def enrol(user: Any, private_key: Ed25519PrivateKey | None = None, label: str = "laptop",
          public: bytes | None = None) -> tuple[Ed25519PrivateKey, Any]:
    from signing.core.payload import b64encode
    from signing.services import keys

    private_key = private_key or Ed25519PrivateKey.generate()
    row = keys.enrol(user, b64encode(public if public is not None else raw_public(private_key)), label, PASSWORD,
                     origin="cli")
    return private_key, row


def open_declaration(people: People, slug: str = "decl", title: str = "Declaration") -> Any:
    """A declaration with two revisions, open for signature on revision 2 by every city."""
    from signing.services import declarations

    declaration = declarations.create(title, TEXT, people.secretariat, slug=slug)
    declarations.add_revision(declaration, TEXT_2, "r2", people.secretariat)
    declarations.open_consultation(declaration, people.secretariat)
    declarations.open_signing(declaration, 2, people.secretariat)
    return declaration


@pytest.fixture
def scene(app: Flask, people: People) -> Scene:
    declaration = open_declaration(people)
    izmir_private, izmir_key = enrol(people.delegate)
    athens_private, athens_key = enrol(people.other_delegate)
    return Scene(
        declaration=declaration,
        secretariat=people.secretariat,
        izmir=Signer(people.delegate, izmir_private, izmir_key),
        athens=Signer(people.other_delegate, athens_private, athens_key),
        people=people,
    )


def signature_count(**where: Any) -> int:
    """Signature rows in the database (after ending the test's transaction)."""
    from signing.extensions import db
    from signing.models import Signature

    db.session.rollback()
    query = select(func.count()).select_from(Signature)
    for name, value in where.items():
        query = query.where(getattr(Signature, name) == value)
    return int(db.session.scalar(query) or 0)


def refused(call: Callable[[], Any], *, status: int | None = None, code: str | None = None) -> Any:
    """``call`` raises a 4xx ServiceError (optionally this status and code); returns the error."""
    from signing.services import ServiceError

    with pytest.raises(ServiceError) as info:
        call()
    error = info.value
    assert 400 <= error.status < 500, (error.status, error.message)
    if status is not None:
        assert error.status == status, (error.status, error.code, error.message)
    if code is not None:
        assert error.code == code, (error.status, error.code, error.message)
    return error


DOC = Path(__file__).resolve().parents[2] / "docs" / "signature-format.md"
VERIFY_COMMAND = "openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in payload.json -sigfile sig.bin"


def doc_shell_blocks() -> list[str]:
    """The ```sh blocks of docs/signature-format.md, in order: the verification recipe."""
    return re.findall(r"^```sh\n(.*?)^```$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)


def doc_block(containing: str) -> str:
    found = [block for block in doc_shell_blocks() if containing in block]
    assert len(found) == 1, f"docs/signature-format.md should have one sh block with {containing!r}"
    return found[0]


def doc_verify_command() -> list[str]:
    """The exact openssl command the document gives, as an argument list."""
    lines = [line for line in doc_block("openssl pkeyutl").splitlines() if line.startswith("openssl pkeyutl")]
    assert lines == [VERIFY_COMMAND], lines
    return shlex.split(lines[0])


def run_shell(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A documented block under a POSIX shell, with only PATH and the given variables."""
    return subprocess.run(["/bin/sh", "-e", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", **env})
