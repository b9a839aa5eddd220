"""The platform's Ed25519 key, which seals bundle manifests.

Its path comes from ``PLATFORM_KEY_PATH``. The embedded default generates it
into ``instance/platform_key.pem`` on first use; production refuses to invent
one (a new key would not match the fingerprint the network has published) —
create it once with ``flask --app wsgi platform-key generate``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app

from ..core import payload


class PlatformKeyError(RuntimeError):
    pass


def _path() -> Path:
    return Path(current_app.config["PLATFORM_KEY_PATH"])


def generate(path: Path) -> Ed25519PrivateKey:
    """Write a new key (mode 0600); refuses to overwrite."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise PlatformKeyError(f"{path} already exists; not overwriting it") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def load() -> Ed25519PrivateKey:
    path = _path()
    if not path.exists():
        if current_app.config["PRODUCTION"]:
            raise PlatformKeyError(
                f"The platform key {path} does not exist. Create it once with "
                "`flask --app wsgi platform-key generate` and keep a backup."
            )
        try:
            return generate(path)
        except PlatformKeyError:
            pass  # another process created it first
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise PlatformKeyError(f"{path} is not an Ed25519 private key")
    return key


def fingerprint(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return payload.fingerprint(raw)
