"""The PAdES seal of declaration.pdf: pdfsig and pyHanko validate it with seal.crt trusted; one byte breaks it."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import missing
from tests.freeze.conftest import Network, bundle_of, open_for_signature, unpack


@pytest.fixture
def sealed(app: Flask, network: Network, tmp_path: Path) -> Path:
    """The unpacked bundle of a declaration frozen with two signatures of three."""
    declaration = open_for_signature(network, rule="quorum", quorum=2)
    network.izmir.sign(declaration)
    network.athens.sign(declaration)
    return unpack(bytes(bundle_of(declaration).archive), tmp_path / "bundle")


def _pdfsig(pdf: Path, trusted: Path | None, tmp_path: Path) -> str:
    for tool in ("pdfsig", "certutil"):
        if shutil.which(tool) is None:
            missing(tool, "apt-get install poppler-utils libnss3-tools")
    nss = tmp_path / f"nss-{len(list(tmp_path.glob('nss-*')))}"
    nss.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True, capture_output=True,
                   timeout=30)
    if trusted is not None:
        subprocess.run(["certutil", "-A", "-d", f"sql:{nss}", "-n", "seal", "-t", "CT,C,C", "-i", str(trusted)],
                       check=True, capture_output=True, timeout=30)
    result = subprocess.run(["pdfsig", "-nssdir", f"sql:{nss}", str(pdf)], capture_output=True, text=True,
                            timeout=30, check=False)
    return result.stdout + result.stderr


def _pyhanko(data: bytes, certificate_pem: bytes) -> Any:
    from pyhanko.keys import load_certs_from_pemder_data
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    roots = list(load_certs_from_pemder_data(certificate_pem))
    (signature,) = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures
    return validate_pdf_signature(signature, ValidationContext(trust_roots=roots))


def _one_byte_changed(data: bytes) -> bytes:
    """A byte inside the first signed range changed: the document's author, "Accord", becomes "Accorc"."""
    at = data.index(b"/Author (Accord)") + len(b"/Author (Accor")
    assert at < data.index(b"/ByteRange")
    return data[:at] + b"c" + data[at + 1 :]


def test_pdfsig_validates_the_seal_with_the_certificate_trusted(sealed: Path, tmp_path: Path) -> None:
    report = _pdfsig(sealed / "declaration.pdf", sealed / "seal.crt", tmp_path)
    assert "Signature is Valid." in report, report
    assert "Certificate is Trusted." in report, report
    assert "Total document signed" in report, report
    assert "ETSI.CAdES.detached" in report, "a PAdES signature"
    untrusted = _pdfsig(sealed / "declaration.pdf", None, tmp_path)
    assert "Signature is Valid." in untrusted and "Certificate is Trusted." not in untrusted, untrusted


def test_pyhanko_reports_the_seal_intact_and_trusted(sealed: Path) -> None:
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    status = _pyhanko((sealed / "declaration.pdf").read_bytes(), (sealed / "seal.crt").read_bytes())
    assert status.intact and status.valid and status.trusted and status.bottom_line, status.pretty_print_details()
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.signing_cert.public_key.algorithm == "ec"


def test_one_byte_of_the_signed_range_changed_fails_both(sealed: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(_one_byte_changed((sealed / "declaration.pdf").read_bytes()))
    report = _pdfsig(tampered, sealed / "seal.crt", tmp_path)
    assert "Signature is Valid." not in report, report
    status = _pyhanko(tampered.read_bytes(), (sealed / "seal.crt").read_bytes())
    assert not status.intact and not status.bottom_line


def test_another_certificate_is_not_trusted(sealed: Path, tmp_path: Path) -> None:
    from signing.core.seal import make_self_signed
    from signing.models import utcnow

    other = tmp_path / "other.crt"
    other.write_bytes(make_self_signed("Someone else", utcnow()).certificate_pem)
    assert "Certificate is Trusted." not in _pdfsig(sealed / "declaration.pdf", other, tmp_path)
    status = _pyhanko((sealed / "declaration.pdf").read_bytes(), other.read_bytes())
    assert status.intact and not status.trusted and not status.bottom_line


def test_production_never_invents_a_seal(app_factory: Any, tmp_path: Path) -> None:
    from signing.services import seal

    app = app_factory(PRODUCTION=True, SEAL_KEY_PATH=str(tmp_path / "none.pem"),
                      SEAL_CERT_PATH=str(tmp_path / "none.crt"))
    with app.app_context(), pytest.raises(seal.SealError, match="SEAL_KEY_PATH"):
        seal.load()
    assert not (tmp_path / "none.pem").exists() and not (tmp_path / "none.crt").exists()


def test_a_seal_key_that_is_not_p256_is_refused(app_factory: Any, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from signing.core.seal import make_self_signed
    from signing.models import utcnow
    from signing.services import seal

    (tmp_path / "k.pem").write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "c.crt").write_bytes(make_self_signed("x", utcnow()).certificate_pem)
    app = app_factory(SEAL_KEY_PATH=str(tmp_path / "k.pem"), SEAL_CERT_PATH=str(tmp_path / "c.crt"))
    with app.app_context(), pytest.raises(seal.SealError, match="P-256"):
        seal.load()


def test_seal_generate_and_show_in_production(app_factory: Any, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    app = app_factory(PRODUCTION=True, PLATFORM_KEY_PATH=str(keys / "platform_key.pem"),
                      SEAL_KEY_PATH=str(keys / "seal_key.pem"), SEAL_CERT_PATH=str(keys / "seal.crt"))
    runner = app.test_cli_runner()
    with app.app_context():
        generated = runner.invoke(args=["platform-key", "generate"])
        assert generated.exit_code == 0, generated.output
        assert not (keys / "seal.crt").exists(), "production never invents the seal"
        shown = runner.invoke(args=["seal", "show"])
        assert shown.exit_code == 1 and "seal generate" in shown.output
        made = runner.invoke(args=["seal", "generate", "--common-name", "B40 secretariat seal"])
        assert made.exit_code == 0, made.output
        assert (keys / "seal_key.pem").stat().st_mode & 0o777 == 0o600
        shown = runner.invoke(args=["seal", "show"])
        assert shown.exit_code == 0 and "CN=B40 secretariat seal" in shown.output
        fingerprint = shown.output.split()[0]
        assert fingerprint.startswith("sha256:") and fingerprint in made.output
        again = runner.invoke(args=["seal", "generate"])
        assert again.exit_code == 1 and "exists already" in again.output
