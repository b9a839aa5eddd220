"""Enrolling and revoking delegates' Ed25519 public keys."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask_babel import gettext as _
from sqlalchemy import select

from ..core import log_entry
from ..core.payload import PUBLIC_KEY_BYTES, PayloadError, b64decode, fingerprint, is_weak_public_key
from ..extensions import db
from ..models import Role, SigningKey, User, utcnow
from . import Conflict, Forbidden, NotFound, ServiceError, audit, outbox, refuse_bidi, throttle, tlog, transactions
from .passwords import verify_password

ORIGINS = ("browser", "cli")
MAX_LABEL = 120


def parse_public_key(encoded: str) -> bytes:
    try:
        raw = b64decode(encoded, "public_key")
    except PayloadError as exc:
        raise ServiceError(str(exc)) from exc
    if len(raw) != PUBLIC_KEY_BYTES:
        raise ServiceError(_("public_key must be the raw %(PUBLIC_KEY_BYTES)s-byte Ed25519 key, base64-encoded.",
                             PUBLIC_KEY_BYTES=PUBLIC_KEY_BYTES))
    if is_weak_public_key(raw):
        raise ServiceError(_("This public key is a small-order point, which cannot bind a signature to one signer."))
    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise ServiceError(_("public_key is not a valid Ed25519 public key.")) from exc
    return raw


def keys_of(user: User) -> list[SigningKey]:
    return list(db.session.scalars(select(SigningKey).where(SigningKey.user_id == user.id).order_by(SigningKey.id)))


def get_by_fingerprint(value: str) -> SigningKey:
    key = db.session.scalar(select(SigningKey).where(SigningKey.fingerprint == value))
    if key is None:
        raise NotFound(_("No key with that fingerprint."))
    return key


def enrol(user: User, public_key_b64: str, label: str, password: str, origin: str = "browser") -> SigningKey:
    """Register a public key for a delegate or a mayor (who signs mandates with it), after re-checking the password."""
    if user.role not in (Role.DELEGATE, Role.MAYOR) or user.city_id is None:
        raise Forbidden(_("Only delegates and mayors of a member city enrol signing keys."))
    throttle.check(user.email)
    if not verify_password(user.password_hash, password or ""):
        throttle.failed(user.email, user)
        audit.record("key.enrol_wrong_password", user, user)
        transactions.commit()
        raise Forbidden(_("The password is not correct; the key was not enrolled."), code="wrong_password")
    throttle.succeeded(user.email)
    raw = parse_public_key(public_key_b64)
    label = " ".join((label or "").split())
    if not label:
        raise ServiceError(_("Give the key a label, such as the device it lives on."))
    refuse_bidi(label, _("label"))
    if len(label) > MAX_LABEL:
        raise ServiceError(_("The label is too long (%(MAX_LABEL)s characters at most).", MAX_LABEL=MAX_LABEL))
    if origin not in ORIGINS:
        raise ServiceError(_("origin must be 'browser' or 'cli'."))
    print_ = fingerprint(raw)
    if db.session.scalar(select(SigningKey.id).where(SigningKey.fingerprint == print_)) is not None:
        raise Conflict(_("This key is already enrolled."))
    key = SigningKey(user_id=user.id, public_key=raw, fingerprint=print_, label=label, origin=origin)
    db.session.add(key)
    db.session.flush()
    audit.record("key.enrolled", key, user, fingerprint=print_, label=label, origin=origin)
    tlog.append(log_entry.KEY_ENROLLED, city=user.city.slug if user.city else None, key_fingerprint=print_,
                key_use="signing")
    secretariat = db.session.scalars(
        select(User).where(User.role == Role.SECRETARIAT.value, User.active.is_(True))
    )
    for recipient in [user, *secretariat]:
        outbox.queue_email(
            f"key_enrolled:{key.id}:user{recipient.id}", recipient.email, "key_enrolled",
            display_name=recipient.display_name, owner=user.display_name,
            city=user.city.name if user.city else "", fingerprint=print_, label=label, origin=origin,
            is_owner=recipient.id == user.id,
        )
    transactions.commit()
    return key


def revoke(key: SigningKey, actor: User) -> None:
    """The owner or the secretariat revokes a key. Earlier signatures stay valid."""
    if actor.id != key.user_id and actor.role != Role.SECRETARIAT:
        raise Forbidden(_("Only the key's owner or the secretariat can revoke it."))
    if key.revoked_at is not None:
        raise Conflict(_("This key is already revoked."))
    key.revoked_at = utcnow()
    key.revoked_by_id = actor.id
    audit.record("key.revoked", key, actor, fingerprint=key.fingerprint)
    city = key.user.city
    tlog.append(log_entry.KEY_REVOKED, city=city.slug if city else None, key_fingerprint=key.fingerprint,
                key_use="signing")
    transactions.commit()
