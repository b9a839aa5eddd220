"""``accord.bundle/3``: every language version in the bundle, checked by the verifier and by VERIFY.txt alone.

Built with ``core.bundle.build_bundle`` from three cities' ``accord.signature/2`` payloads over an English
(authoritative) and a Turkish version, plus one older ``accord.signature/1`` signature of the same revision:
``signing.verify`` and the OpenSSL/sha256sum recipe of VERIFY.txt (and of docs/bundle-format.md) pass; one
changed byte of the Turkish version, or a /2 signature naming other versions, fails both.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from signing.core import payload, verifier
from signing.core.bundle import BundleInput, BundleVersion, SignedItem, build_bundle
from tests.freeze.conftest import (
    need_tools,
    raw_public,
    recipe,
    run_doc_script,
    run_recipe,
    unpack,
    zip_folder,
)

EN = "# Declaration\n\nThe cities agree.\n"
TR = "# Bildirge\n\nŞehirler anlaşır.\n"
WHEN = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


VERSIONS = [{"tag": "en", "sha256": sha(EN), "authoritative": True},
            {"tag": "tr", "sha256": sha(TR), "authoritative": False}]


def certificate() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Accord test seal")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(WHEN - timedelta(days=1)).not_valid_after(WHEN + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def signed(city: str, key: Ed25519PrivateKey, **changes: Any) -> SignedItem:
    fields = {
        "format": "accord.signature/2", "issuer": "https://accord.example.org", "declaration_slug": "decl",
        "declaration_title": "Declaration", "revision": 2, "text_sha256": sha(EN), "city_slug": city,
        "city_name": city.title(), "signer_id": 7, "signer_name": f"{city} delegate",
        "key_fingerprint": payload.fingerprint(raw_public(key)), "issued_at": "2026-11-30T18:00:00Z",
        "expires_at": "2026-11-30T18:05:00Z", "nonce": city * 4, "versions": VERSIONS,
        "authoritative_language": "en", "mandate_sha256": "", **changes,
    }
    if fields["format"] == "accord.signature/1":
        for name in ("versions", "authoritative_language", "mandate_sha256"):
            del fields[name]
    data = payload.build(fields)
    return SignedItem(city, city.title(), f"{city} delegate", WHEN, raw_public(key), data, key.sign(data))


def build(*items: SignedItem) -> tuple[bytes, Ed25519PrivateKey]:
    platform = Ed25519PrivateKey.generate()
    data = BundleInput(
        declaration_slug="decl", declaration_title="Declaration", revision=2, text=EN, text_sha256=sha(EN),
        signing_rule={"kind": "all"}, signing_opened_at=WHEN, signing_deadline=None, frozen_at=WHEN,
        issuer="https://accord.example.org", signatories=[item.city_slug for item in items], signatures=list(items),
        versions=[BundleVersion("tr", TR, False), BundleVersion("en", EN, True)],
    )
    archive, _ = build_bundle(data, b"%PDF-1.7 test", platform, certificate())
    return archive, platform


@pytest.fixture
def bundle() -> tuple[bytes, str]:
    items = [signed(city, Ed25519PrivateKey.generate()) for city in ("athens", "izmir")]
    items.append(signed("sofia", Ed25519PrivateKey.generate(), format="accord.signature/1"))  # issued before
    archive, platform = build(*items)
    return archive, payload.fingerprint(raw_public(platform))


def test_a_version_3_bundle_verifies(bundle: tuple[bytes, str], tmp_path: Path) -> None:
    archive, fingerprint = bundle
    report = verifier.verify_bundle(archive, fingerprint)
    assert report.failures == 0, report.lines
    assert report.signatures_ok == 3
    assert any("declaration.tr.md SHA-256 " + sha(TR) in line for line in report.lines)
    assert any("language versions en, tr" in line for line in report.lines)
    folder = unpack(archive, tmp_path / "unpacked")
    manifest = json.loads((folder / "manifest.json").read_bytes())
    assert manifest["format"] == "accord.bundle/3" and manifest["authoritative_language"] == "en"
    assert manifest["versions"] == [{**v, "file": f"declaration.{v['tag']}.md"} for v in VERSIONS]
    assert (folder / "declaration.tr.md").read_text("utf-8") == TR
    verify_txt = (folder / "VERIFY.txt").read_text("utf-8")
    assert f"sha256sum declaration.tr.md    # expect {sha(TR)}" in verify_txt
    assert verify_txt.count("grep -cF '\"versions\":[") == 2  # the two /2 payloads, not the /1 one


def steps_of(folder: Path, fingerprint: str) -> list[Any]:
    """VERIFY.txt's steps but the PDF seal's (this bundle's PDF is a stand-in; the seal is tested with real freezes)."""
    return [step for step in recipe((folder / "VERIFY.txt").read_text("utf-8"), fingerprint)
            if step.name != "PDF seal (pdfsig)"]


def test_the_recipe_alone_checks_every_version(bundle: tuple[bytes, str], tmp_path: Path) -> None:
    need_tools()
    archive, fingerprint = bundle
    folder = unpack(archive, tmp_path / "good")
    outcomes = run_recipe(folder, steps_of(folder, fingerprint))
    assert [name for name, ok in outcomes if not ok] == []
    assert {"hash of declaration.en.md", "hash of declaration.tr.md"} <= {name for name, _ in outcomes}
    script = run_doc_script(folder, fingerprint)
    assert script.returncode == 0, script.stdout + script.stderr
    assert f"version declaration.tr.md: {sha(TR)}" in script.stdout and script.stdout.count("\nOK signatures/") == 3

    changed = unpack(archive, tmp_path / "changed")
    data = bytearray((changed / "declaration.tr.md").read_bytes())
    data[-2] ^= 0x01
    (changed / "declaration.tr.md").write_bytes(bytes(data))
    failed = [name for name, ok in run_recipe(changed, steps_of(changed, fingerprint)) if not ok]
    assert "hash of declaration.tr.md" in failed and "sha256sum -c SHA256SUMS" in failed
    assert run_doc_script(changed, fingerprint).returncode == 1
    report = verifier.verify_bundle(zip_folder(changed, tmp_path / "changed.zip").read_bytes(), fingerprint)
    assert report.failures and any(line.startswith("FAIL  declaration.tr.md SHA-256") for line in report.lines)


def test_a_signature_naming_other_versions_fails(tmp_path: Path) -> None:
    need_tools()
    other = [VERSIONS[0], {"tag": "tr", "sha256": sha("# Başka\n"), "authoritative": False}]
    archive, platform = build(signed("athens", Ed25519PrivateKey.generate()),
                              signed("izmir", Ed25519PrivateKey.generate(), versions=other))
    fingerprint = payload.fingerprint(raw_public(platform))
    report = verifier.verify_bundle(archive, fingerprint)
    assert [line for line in report.lines if line.startswith("FAIL")] == [
        "FAIL  signature of Izmir: names other language versions than the bundle's"]
    folder = unpack(archive, tmp_path / "bundle")
    failed = [name for name, ok in run_recipe(folder, steps_of(folder, fingerprint)) if not ok]
    assert len(failed) == 1 and "signatures/izmir.json" in failed[0]
    script = run_doc_script(folder, fingerprint)
    assert script.returncode == 1 and "signatures/izmir.json: does not name declaration.tr.md" in script.stdout
