"""The platform's seal: an ECDSA P-256 key and its certificate, for PAdES and CAdES signatures.

Pure functions (no Flask, no database), with pyHanko: ``seal_pdf`` adds a PAdES baseline B-B signature to
a PDF (B-T when a time-stamp authority URL is given) that PDF readers and poppler's ``pdfsig`` validate;
``cades_detached`` makes the detached CAdES signature of an ASiC-E manifest, which ``openssl cms -verify``
checks. ECDSA, not Ed25519: PDF tools do not validate Ed25519 signatures.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SEAL_FIELD = "AccordSeal"


@dataclass(frozen=True)
class SealCredentials:
    """The seal's private key and certificate, both PEM."""

    key_pem: bytes
    certificate_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem)

    def fingerprint(self) -> str:
        return "sha256:" + self.certificate.fingerprint(hashes.SHA256()).hex()


def make_self_signed(common_name: str, now: datetime, *, years: int = 10) -> SealCredentials:
    """A new P-256 key and a self-signed seal certificate for it (digitalSignature, nonRepudiation)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Accord")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return SealCredentials(key_pem, certificate.public_bytes(serialization.Encoding.PEM))


def check(credentials: SealCredentials) -> None:
    """Raise ``ValueError`` unless the key is ECDSA P-256 and the certificate is its own."""
    key = serialization.load_pem_private_key(credentials.key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the seal key must be an ECDSA P-256 private key")
    public = credentials.certificate.public_key()
    own = key.public_key().public_numbers()
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.public_numbers() != own:
        raise ValueError("the seal certificate is not the seal key's")


def _signer(credentials: SealCredentials):  # type: ignore[no-untyped-def]  # pyHanko's SimpleSigner
    from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    (certificate,) = list(load_certs_from_pemder_data(credentials.certificate_pem))
    key = load_private_key_from_pemder_data(credentials.key_pem, passphrase=None)
    return signers.SimpleSigner(signing_cert=certificate, signing_key=key,
                                cert_registry=SimpleCertificateStore.from_certs([certificate]))  # type: ignore[no-untyped-call]


def seal_pdf(pdf: bytes, credentials: SealCredentials, *, at: datetime, reason: str,
             tsa_url: str | None = None) -> bytes:
    """The PDF with an invisible PAdES seal (B-B; B-T with a time stamp from ``tsa_url``)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers, timestamps

    meta = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason, name="Accord", use_pades_lta=False,
    )
    timestamper = timestamps.HTTPTimeStamper(tsa_url) if tsa_url else None
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    pdf_signer = signers.PdfSigner(meta, signer=_signer(credentials), timestamper=timestamper,
                                   new_field_spec=fields.SigFieldSpec(SEAL_FIELD))
    output = pdf_signer.sign_pdf(writer)
    return bytes(output.getvalue())


def cades_detached(data: bytes, credentials: SealCredentials) -> bytes:
    """A detached CAdES (CMS) signature of ``data``, DER, with the seal certificate inside."""
    signed = asyncio.run(_signer(credentials).async_sign_general_data(data, "sha256", detached=True,
                                                                      use_cades=True))
    return bytes(signed.dump())
