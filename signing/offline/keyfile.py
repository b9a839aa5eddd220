"""Secrets and files of the offline signer: passphrases, the encrypted private key, files never overwritten."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .errors import fail

MIN_PASSPHRASE = 8


def read_secret_file(path: str, what: str) -> str:
    """A secret from a file: the first line, without its line ending."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        fail(f"cannot read the {what} file {path}: {exc.strerror or exc}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        fail(f"the {what} file {path} is not UTF-8")
    secret = text.splitlines()[0] if text else ""
    if not secret:
        fail(f"the {what} file {path} is empty")
    return secret


def prompt_secret(prompt: str) -> str:
    try:
        return getpass.getpass(prompt)
    except (EOFError, KeyboardInterrupt):
        fail("cancelled")


def passphrase_for_new_key(path: str | None) -> bytes:
    """The passphrase of a new key, from ``path`` or asked twice; at least ``MIN_PASSPHRASE`` characters."""
    if path:
        value = read_secret_file(path, "passphrase")
    else:
        value = prompt_secret("Passphrase for the new key: ")
        if value != prompt_secret("The same passphrase again: "):
            fail("the two passphrases differ; no key was written")
    if len(value) < MIN_PASSPHRASE:
        fail(f"the passphrase must be at least {MIN_PASSPHRASE} characters long")
    return value.encode("utf-8")


def encrypted_pem(key: Ed25519PrivateKey, passphrase: bytes) -> bytes:
    """The private key as a passphrase-encrypted PKCS#8 PEM file."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def load_private_key(key_path: str, passphrase_file: str | None) -> Ed25519PrivateKey:
    try:
        data = Path(key_path).read_bytes()
    except OSError as exc:
        fail(f"cannot read the key file {key_path}: {exc.strerror or exc}")
    if passphrase_file:
        passphrase = read_secret_file(passphrase_file, "passphrase")
    else:
        passphrase = prompt_secret(f"Passphrase for {key_path}: ")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase.encode("utf-8"))
    except (ValueError, TypeError) as exc:
        fail(f"cannot open {key_path}: wrong passphrase or not an encrypted PEM private key ({exc})")
    if not isinstance(key, Ed25519PrivateKey):
        fail(f"{key_path} does not hold an Ed25519 private key")
    return key


def raw_public(key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public key."""
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def write_new_file(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode``; never overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        fail(f"{path} already exists; not overwriting it")
    except OSError as exc:
        fail(f"cannot create {path}: {exc.strerror or exc}")
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), mode)  # whatever the umask
        handle.write(data)
