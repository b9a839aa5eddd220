"""The ASiC-E container: mimetype first and stored, every file in the manifest, a signature openssl checks."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree
from flask import Flask

from tests.conftest import missing
from tests.freeze.conftest import Network, bundle_of, open_for_signature

MIMETYPE = b"application/vnd.etsi.asic-e+zip"
ASIC = "{http://uri.etsi.org/02918/v1.2.1#}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"


@pytest.fixture
def frozen(app: Flask, network: Network) -> Any:
    declaration = open_for_signature(network)
    for signer in network.signers:
        signer.sign(declaration)
    return declaration


def _export(app: Flask, slug: str, target: Path) -> bytes:
    result = app.test_cli_runner().invoke(args=["export-bundle", slug, str(target), "--format", "asice"])
    assert result.exit_code == 0, result.output
    return target.read_bytes()


def _cms_verify(folder: Path, manifest: str, signature: str, certificate: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("openssl") is None:
        missing("openssl", "not on PATH")
    return subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", signature, "-content", manifest,
         "-CAfile", certificate, "-purpose", "any", "-out", "/dev/null"],
        cwd=folder, capture_output=True, text=True, timeout=30, check=False,
    )


def test_the_container_starts_with_its_stored_mimetype(app: Flask, frozen: Any, tmp_path: Path) -> None:
    data = _export(app, frozen.slug, tmp_path / "decl.asice")
    with zipfile.ZipFile(io.BytesIO(data)) as container:
        first = container.infolist()[0]
        assert first.filename == "mimetype"
        assert first.compress_type == zipfile.ZIP_STORED
        assert container.read(first) == MIMETYPE
    # Readable at a fixed offset, as the standard asks: no extra field before the content.
    assert data[:4] == b"PK\x03\x04" and data[30:38] == b"mimetype" and data[38 : 38 + len(MIMETYPE)] == MIMETYPE


def test_openssl_accepts_the_manifest_signature_and_the_manifest_lists_every_file(
    app: Flask, frozen: Any, tmp_path: Path
) -> None:
    data = _export(app, frozen.slug, tmp_path / "decl.asice")
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(io.BytesIO(data)) as container:
        container.extractall(folder)
        names = [n for n in container.namelist() if not n.endswith("/")]
    bundle = bundle_of(frozen)
    with zipfile.ZipFile(io.BytesIO(bytes(bundle.archive))) as original:
        bundle_files = {name: original.read(name) for name in original.namelist()}
    data_files = {n for n in names if n != "mimetype" and not n.startswith("META-INF/")}
    assert data_files == set(bundle_files), "the same content as the bundle"
    assert all((folder / n).read_bytes() == bundle_files[n] for n in data_files)
    assert sorted(n for n in names if n.startswith("META-INF/")) == ["META-INF/ASiCManifest.xml",
                                                                      "META-INF/signature001.p7s"]
    # Our own signatures and keys are data objects with names no AdES tool takes for a signature.
    assert not [n for n in data_files if n.endswith((".p7s", ".p7m", ".xml", ".asn1", ".tst"))]

    root = ElementTree.fromstring((folder / "META-INF/ASiCManifest.xml").read_bytes())
    assert root.tag == f"{ASIC}ASiCManifest"
    (sig_ref,) = root.findall(f"{ASIC}SigReference")
    assert sig_ref.get("URI") == "META-INF/signature001.p7s"
    listed = {}
    for ref in root.findall(f"{ASIC}DataObjectReference"):
        method = ref.find(f"{DS}DigestMethod")
        assert method is not None and method.get("Algorithm") == "http://www.w3.org/2001/04/xmlenc#sha256"
        listed[ref.get("URI")] = ref.findtext(f"{DS}DigestValue")
    assert listed == {n: base64.b64encode(hashlib.sha256(bundle_files[n]).digest()).decode() for n in data_files}

    seal_crt = f"{frozen.slug}-bundle/seal.crt"
    result = _cms_verify(folder, "META-INF/ASiCManifest.xml", "META-INF/signature001.p7s", seal_crt)
    assert result.returncode == 0 and "Verification successful" in result.stderr, result.stderr

    manifest = folder / "META-INF/ASiCManifest.xml"
    manifest.write_bytes(manifest.read_bytes().replace(b"sha256", b"sha257", 1))
    result = _cms_verify(folder, "META-INF/ASiCManifest.xml", "META-INF/signature001.p7s", seal_crt)
    assert result.returncode != 0, "a changed manifest no longer verifies"


def test_the_public_page_offers_the_container(app: Flask, frozen: Any, client: Any) -> None:
    page = client.get(f"/public/declarations/{frozen.slug}").get_data(as_text=True)
    assert f"/public/declarations/{frozen.slug}/bundle.asice" in page
    response = client.get(f"/public/declarations/{frozen.slug}/bundle.asice")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.etsi.asic-e+zip"
    assert response.get_data()[30:38] == b"mimetype"
    assert client.get("/public/declarations/nothing/bundle.asice").status_code == 404
