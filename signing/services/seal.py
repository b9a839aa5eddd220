"""The platform's seal (ECDSA P-256 key and certificate) from the configuration, and what it seals.

``SEAL_KEY_PATH`` and ``SEAL_CERT_PATH`` name the PEM files. The embedded default makes a self-signed pair
on first use (``platform-key generate`` makes it too); production refuses to invent one: it takes the
certificate the institution obtained. ``SEAL_TSA_URL``, when set, adds an RFC 3161 time stamp (PAdES B-T).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from flask import current_app

from ..core import asic
from ..core.seal import SealCredentials, cades_detached, check, make_self_signed, seal_pdf
from ..models import utcnow


class SealError(RuntimeError):
    """The seal key or certificate is missing or unusable."""


def _paths() -> tuple[Path, Path]:
    return Path(current_app.config["SEAL_KEY_PATH"]), Path(current_app.config["SEAL_CERT_PATH"])


def generate(key_path: Path, cert_path: Path, common_name: str) -> SealCredentials:
    """Write a new key (mode 0600) and its self-signed certificate; refuses to overwrite either."""
    if cert_path.exists():
        raise SealError(f"{cert_path} already exists; not overwriting it")
    credentials = make_self_signed(common_name, utcnow())
    key_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise SealError(f"{key_path} already exists; not overwriting it") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(credentials.key_pem)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(credentials.certificate_pem)
    return credentials


def load_existing() -> SealCredentials:
    """The configured seal, checked; never made here."""
    key_path, cert_path = _paths()
    if not (key_path.exists() and cert_path.exists()):
        raise SealError(f"There is no seal key {key_path} or certificate {cert_path}. Make a self-signed one with "
                        "`flask --app wsgi seal generate`, or set SEAL_KEY_PATH and SEAL_CERT_PATH.")
    credentials = SealCredentials(key_path.read_bytes(), cert_path.read_bytes())
    try:
        check(credentials)
    except ValueError as exc:
        raise SealError(f"{key_path}, {cert_path}: {exc}") from exc
    return credentials


def load() -> SealCredentials:
    """The seal; the embedded default makes a self-signed one on first use, production never does."""
    key_path, cert_path = _paths()
    if not (key_path.exists() and cert_path.exists()):
        if current_app.config["PRODUCTION"]:
            raise SealError(
                f"The seal key {key_path} or certificate {cert_path} does not exist. Set SEAL_KEY_PATH and "
                "SEAL_CERT_PATH to the ECDSA P-256 key and certificate the platform seals PDFs with (or make a "
                "self-signed one once with `flask --app wsgi seal generate`)."
            )
        try:
            return generate(key_path, cert_path, f"Accord seal ({current_app.config['PUBLIC_URL']})")
        except SealError:
            pass  # another process made it first
    return load_existing()


def seal(document: bytes, credentials: SealCredentials, at: datetime) -> bytes:
    """The PDF, sealed (PAdES B-B, or B-T with ``SEAL_TSA_URL``)."""
    return seal_pdf(document, credentials, at=at, reason="Frozen and sealed by Accord",
                    tsa_url=current_app.config["SEAL_TSA_URL"] or None)


def asice(bundle_archive: bytes) -> bytes:
    """The bundle's files as an ASiC-E container, its manifest signed (CAdES) with the seal."""
    credentials = load()
    return asic.build_asice(bundle_archive, lambda manifest: cades_detached(manifest, credentials))
