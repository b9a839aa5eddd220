"""docs/signature-format.md is right: its fields, its canonical form and its OpenSSL recipe, run verbatim.

A signature is made through the services; then every ``sh`` block of the document
runs, unchanged, under ``/bin/sh`` on the receipt's base64 values and the revision's
text, with stock ``openssl``, ``sha256sum`` and coreutils only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import missing
from tests.crypto.conftest import DOC, OPENSSL, Scene, doc_block, doc_shell_blocks, doc_verify_command, run_shell


@pytest.fixture
def signed(app: Flask, scene: Scene) -> dict[str, object]:
    """A stored signature's receipt, plus the revision text."""
    from signing.services import signatures

    if OPENSSL is None:
        missing("openssl", "no openssl command on PATH")
    izmir = scene.izmir
    data = bytes(signatures.issue_signature_payload(scene.declaration, izmir.user, izmir.fingerprint).payload)
    record = signatures.submit_signature(scene.declaration, izmir.user, data, izmir.sign(data))
    receipt = signatures.receipt(record)
    receipt["text"] = scene.declaration.open_revision.text
    return receipt


def test_the_documented_fields_are_the_payload_fields() -> None:
    from signing.core import payload as payloads

    text = DOC.read_text(encoding="utf-8")
    documented = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            documented.add(line.split("`")[1])
    assert set(payloads.WITHDRAWAL_FIELDS) <= documented
    assert payloads.SIGNATURE_FORMAT in text and payloads.WITHDRAWAL_FORMAT in text
    assert "302a300506032b6570032100" in text


def test_the_documented_example_is_a_well_formed_payload() -> None:
    from signing.core import payload as payloads

    text = DOC.read_text(encoding="utf-8")
    example = next(line for line in text.splitlines() if line.startswith('{"city_name"'))
    data = example.encode("utf-8")
    fields = payloads.parse(data)  # canonical, complete, statement derived
    assert payloads.canonical_json(fields) == data
    assert fields["format"] == payloads.SIGNATURE_FORMAT


def test_the_der_prefix_and_the_octal_escapes_agree(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = Ed25519PrivateKey.generate().public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert der[:12] == bytes.fromhex("302a300506032b6570032100") and len(der) == 44
    escapes = next(line for line in doc_block("key.der").splitlines() if line.startswith("printf '\\"))
    result = run_shell(escapes.replace("> key.der", "> prefix.bin"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "prefix.bin").read_bytes() == der[:12]


def test_the_recipe_verifies_a_stored_signature_and_catches_one_changed_byte(
    signed: dict[str, object], tmp_path: Path
) -> None:
    blocks = doc_shell_blocks()
    assert len(blocks) == 5, "the recipe: files, key, signature, text, fingerprint"
    env = {"PAYLOAD_B64": str(signed["payload_base64"]), "SIGNATURE_B64": str(signed["signature_base64"]),
           "PUBLIC_KEY_B64": str(signed["public_key_base64"])}
    (tmp_path / "text.txt").write_bytes(str(signed["text"]).encode("utf-8"))
    outputs = []
    for block in blocks:
        result = run_shell(block, tmp_path, **env)
        assert result.returncode == 0, (block, result.stdout, result.stderr)
        outputs.append(result.stdout)
    assert "sig.bin: 64 bytes" in outputs[0]
    assert "key.der: 44 bytes" in outputs[1]
    assert "Signature Verified Successfully" in outputs[2]
    assert "text.txt: OK" in outputs[3]
    assert f"key_fingerprint {signed['key_fingerprint']}: OK" in outputs[4]
    # The key.pem built from raw bytes is the receipt's PEM.
    assert (tmp_path / "key.pem").read_text(encoding="ascii") == signed["public_key_pem"]
    payload = (tmp_path / "payload.json").read_bytes()
    assert payload == str(signed["payload"]).encode("utf-8")
    assert json.loads(payload)["text_sha256"]

    command = doc_verify_command()
    for index in (0, len(payload) // 2, len(payload) - 1):
        flipped = bytearray(payload)
        flipped[index] ^= 0x01
        (tmp_path / "payload.json").write_bytes(bytes(flipped))
        result = run_shell(" ".join(command), tmp_path)
        assert result.returncode != 0 and "Signature Verified Successfully" not in result.stdout
    (tmp_path / "payload.json").write_bytes(payload)
    signature = (tmp_path / "sig.bin").read_bytes()
    (tmp_path / "sig.bin").write_bytes(bytes([signature[0] ^ 0x80]) + signature[1:])
    assert run_shell(" ".join(command), tmp_path).returncode != 0
    (tmp_path / "sig.bin").write_bytes(signature)
    assert run_shell(" ".join(command), tmp_path).returncode == 0

    # Another text, or another key, fails its check.
    (tmp_path / "text.txt").write_bytes(str(signed["text"]).encode("utf-8") + b"\n")
    assert run_shell(blocks[3], tmp_path).returncode != 0
    other = run_shell("openssl genpkey -algorithm ED25519 | openssl pkey -pubout -out key.pem", tmp_path)
    assert other.returncode == 0, other.stderr
    assert run_shell(blocks[4], tmp_path).returncode != 0
    assert run_shell(" ".join(command), tmp_path).returncode != 0
