"""Mandates in the frozen bundle (format 3): ``signing.verify`` checks mayor key → mandate → delegate key →
signature, and the openssl recipe of VERIFY.txt covers the mandates; a tampered or forged mandate fails."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from signing.core import bundle, payload, verifier
from tests.freeze.conftest import (
    need_tools,
    platform_fingerprint,
    raw_public,
    recipe,
    run_recipe,
    run_verify_cli,
    unpack,
    zip_folder,
)
from tests.mandates.conftest import MandateScene, make_mayor


def test_a_frozen_bundle_carries_the_mandates_and_verifies(app: Flask, mscene: MandateScene, tmp_path: Path) -> None:
    from signing.services import freeze

    need_tools()
    athens_mayor = make_mayor(mscene.people, mscene.people.other_city, email="mayor@athens.example")
    izmir_mandate = mscene.mandate()
    mscene.sign()
    mscene.revoke(izmir_mandate)  # after İzmir signed: its signature stays valid
    MandateScene(mscene.declaration, mscene.people, mscene.athens, mscene.izmir, athens_mayor).mandate(
        scope="declaration:decl")
    mscene.sign(mscene.athens)
    stored = freeze.bundle_of(mscene.declaration)
    assert stored is not None, "both cities signed: the declaration is frozen"
    manifest = json.loads(bytes(stored.manifest))
    assert manifest["format"] == "accord.bundle/3" and manifest["require_mandates"] is True
    assert [(m["city_slug"], m["mandate_file"], bool(m["revocation"])) for m in manifest["mandates"]] == [
        ("athens", "mandates/athens.json", False), ("izmir", "mandates/izmir.json", True)]
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(bytes(stored.archive))

    result = run_verify_cli(archive)
    assert result.returncode == 0, result.stdout
    assert "CONSISTENT: 2 signature(s)" in result.stdout
    assert "OK    mandate chain of signatures/izmir.json: under the mandate" in result.stdout
    assert "OK    revocation mandates/izmir.revocation-1.json: signed by the mayor" in result.stdout

    folder = unpack(bytes(stored.archive), tmp_path / "unpacked")
    steps = recipe((folder / "VERIFY.txt").read_text("utf-8"), platform_fingerprint(app))
    outcomes = run_recipe(folder, steps)
    assert [name for name, ok in outcomes if not ok] == []
    names = [name for name, _ in outcomes]
    assert "signature mandates/izmir.json" in names and "signature mandates/izmir.revocation-1.json" in names
    assert "SHA-256 of mandates/athens.json" in names

    # One byte of the mandate changed: both the verifier and the recipe fail.
    mandate_file = folder / "mandates" / "izmir.json"
    mandate_file.write_bytes(mandate_file.read_bytes().replace(b"network", b"netwerk"))
    assert run_verify_cli(zip_folder(folder, tmp_path / "tampered.zip")).returncode != 0
    failed = [name for name, ok in run_recipe(folder, steps) if not ok]
    assert "signature mandates/izmir.json" in failed and "SHA-256 of mandates/izmir.json" in failed


# --- The verifier on bundles built by hand: the chain is checked, not only the files ----------------------

PLATFORM = Ed25519PrivateKey.generate()
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
TEXT = "One paragraph.\n"
TEXT_SHA = hashlib.sha256(TEXT.encode()).hexdigest()


def _mandate(mayor: Ed25519PrivateKey, delegate: Ed25519PrivateKey, **changes: Any) -> bytes:
    return payload.build({
        "format": "accord.mandate/1", "issuer": "https://accord.example.org", "city_slug": "izmir",
        "city_name": "İzmir", "mayor_id": 3, "mayor_name": "Mayor", "mayor_key_fingerprint":
        payload.fingerprint(raw_public(mayor)), "delegate_id": 7, "delegate_name": "Delegate",
        "delegate_key_fingerprints": [payload.fingerprint(raw_public(delegate))], "scope": "network",
        "valid_from": "2026-11-01T00:00:00Z", "valid_until": "2026-12-01T00:00:00Z",
        "issued_at": "2026-11-01T00:00:00Z", "nonce": "m" * 32, **changes,
    })


def _signature(delegate: Ed25519PrivateKey, mandate: bytes, **changes: Any) -> bytes:
    return payload.build({
        "format": "accord.signature/2", "issuer": "https://accord.example.org", "declaration_slug": "decl",
        "declaration_title": "Declaration", "revision": 1, "text_sha256": TEXT_SHA, "city_slug": "izmir",
        "city_name": "İzmir", "signer_id": 7, "signer_name": "Delegate",
        "key_fingerprint": payload.fingerprint(raw_public(delegate)), "issued_at": "2026-11-20T09:00:00Z",
        "expires_at": "2026-11-20T09:05:00Z", "nonce": "s" * 32,
        "versions": [{"tag": "en", "sha256": TEXT_SHA, "authoritative": True}], "authoritative_language": "en",
        "mandate_sha256": hashlib.sha256(mandate).hexdigest(), **changes,
    })


def _bundle(mandate: bytes, mandate_signature: bytes, mayor: Ed25519PrivateKey, delegate: Ed25519PrivateKey,
            signed: bytes) -> bytes:
    from signing.core.bundle_mandates import MandateItem

    data = bundle.BundleInput(
        declaration_slug="decl", declaration_title="Declaration", revision=1, text=TEXT, text_sha256=TEXT_SHA,
        signing_rule={"kind": "all"}, signing_opened_at=NOW, signing_deadline=None, frozen_at=NOW,
        issuer="https://accord.example.org", signatories=["izmir"],
        signatures=[bundle.SignedItem("izmir", "İzmir", "Delegate", NOW, raw_public(delegate), signed,
                                      delegate.sign(signed))],
        require_mandates=True,
        mandates=[MandateItem("izmir", mandate, mandate_signature, raw_public(mayor))],
    )
    archive, _ = bundle.build_bundle(data, b"%PDF-1.4 test", PLATFORM, CERTIFICATE)
    return archive


def _certificate() -> bytes:
    """A self-signed certificate standing for the seal's (the verifier checks it is one; pdfsig checks the seal)."""
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test seal")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(PLATFORM.public_key())
                   .serial_number(1).not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=1))
                   .sign(PLATFORM, None))
    return certificate.public_bytes(serialization.Encoding.PEM)


CERTIFICATE = _certificate()


def _verify(archive: bytes) -> verifier.Report:
    return verifier.verify_bundle(archive)


def test_a_good_chain_verifies() -> None:
    mayor, delegate = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    mandate = _mandate(mayor, delegate)
    report = _verify(_bundle(mandate, mayor.sign(mandate), mayor, delegate, _signature(delegate, mandate)))
    assert report.failures == 0, report.lines


@pytest.mark.parametrize(("case", "expected"), [
    ("forged", "the mayor's Ed25519 signature does not verify"),
    ("other key", "does not cover this key, declaration or moment"),
    ("expired", "does not cover this key, declaration or moment"),
    ("other declaration", "does not cover this key, declaration or moment"),
    ("names another mandate", "is not a valid mandate of this bundle"),
    ("names none", "names no mandate"),
])
def test_a_broken_chain_fails(case: str, expected: str) -> None:
    mayor, delegate = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    mandate = _mandate(mayor, delegate, **{
        "other key": {"delegate_key_fingerprints": ["sha256:" + "0" * 64]},
        "expired": {"valid_until": "2026-11-20T08:00:00Z"},
        "other declaration": {"scope": "declaration:another"},
    }.get(case, {}))
    signer = Ed25519PrivateKey.generate() if case == "forged" else mayor
    named = {"names another mandate": {"mandate_sha256": "1" * 64}, "names none": {"mandate_sha256": ""}}
    signed = _signature(delegate, mandate, **named.get(case, {}))
    report = _verify(_bundle(mandate, signer.sign(mandate), mayor, delegate, signed))
    assert report.failures >= 1
    assert any(expected in line for line in report.lines if line.startswith("FAIL")), report.lines
