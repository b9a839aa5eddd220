"""Argon2id password hashing (argon2-cffi)."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _

from . import ServiceError

MAX_PASSWORD_LENGTH = 256


def _hasher() -> PasswordHasher:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    hasher: PasswordHasher | None = app.extensions.get("accord_password_hasher")
    if hasher is None:
        hasher = PasswordHasher(
            time_cost=app.config["ARGON2_TIME_COST"],
            memory_cost=app.config["ARGON2_MEMORY_COST"],
            parallelism=app.config["ARGON2_PARALLELISM"],
            type=Type.ID,
        )
        app.extensions["accord_password_hasher"] = hasher
        # Verified against for unknown e-mails so both paths cost the same.
        app.extensions["accord_dummy_hash"] = hasher.hash("accord-dummy-password")
    return hasher


def check_password_policy(password: str) -> None:
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise ServiceError(_("The password must be at least %(minimum)s characters long.", minimum=minimum))
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ServiceError(_("The password must be at most %(MAX_PASSWORD_LENGTH)s characters long.",
                             MAX_PASSWORD_LENGTH=MAX_PASSWORD_LENGTH))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-work check: an absent hash is verified against a dummy hash."""
    hasher = _hasher()
    target = password_hash or current_app.extensions["accord_dummy_hash"]
    try:
        ok = hasher.verify(target, password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)
