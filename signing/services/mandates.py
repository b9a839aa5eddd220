"""Mayors' mandates: issuing the bytes a mayor signs, accepting the signed mandate, revoking it.

The server issues RFC 8785 bytes (``accord.mandate/1`` or ``accord.mandate-revocation/1``, from
``core/statements.py``) for the mayor, one key and what they chose; they are single use and expire after
``SIGNING_PAYLOAD_TTL``. The signed statement is accepted only over exactly those bytes, verified with the
mayor's enrolled key, and stored append-only. A revocation ends a mandate for new signatures; signatures
accepted before stay valid. The questions of coverage are in ``mandate_rules``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from ..core import payload
from ..extensions import db
from ..models import (
    Declaration,
    IssuedMandateStatement,
    Mandate,
    MandateRevocation,
    MandateStatementKind,
    Role,
    SigningKey,
    User,
    utcnow,
)
from . import Conflict, Forbidden, NotFound, ServiceError, audit, transactions

MAX_VALIDITY = timedelta(days=366 * 2)


class MandateRejected(ServiceError):
    status = 400
    code = "mandate_rejected"


def _require_mayor(user: User) -> None:
    if user.role != Role.MAYOR.value or user.city is None or not user.active:
        raise Forbidden(_("Only the mayor of a member city signs mandates."))


def _mayor_key(user: User, key_fingerprint: str) -> SigningKey:
    key = db.session.scalar(select(SigningKey).where(SigningKey.fingerprint == key_fingerprint))
    if key is None or key.user_id != user.id:
        raise NotFound(_("You have no key with that fingerprint."))
    if not key.active:
        raise Conflict(_("This key has been revoked."))
    return key


def delegates_of(user: User) -> list[User]:
    """The active delegates of the mayor's city."""
    return list(db.session.scalars(
        select(User).where(User.city_id == user.city_id, User.role == Role.DELEGATE.value, User.active.is_(True))
        .order_by(User.display_name)
    ))


def delegate_keys(delegate: User) -> list[SigningKey]:
    return list(db.session.scalars(
        select(SigningKey).where(SigningKey.user_id == delegate.id, SigningKey.revoked_at.is_(None))
        .order_by(SigningKey.id)
    ))


def parse_scope(value: str) -> str:
    """``network`` or ``declaration:<slug>`` of an existing declaration."""
    value = (value or "").strip()
    if value == payload.NETWORK_SCOPE:
        return value
    if value.startswith(payload.DECLARATION_SCOPE):
        slug = value.removeprefix(payload.DECLARATION_SCOPE)
        if db.session.scalar(select(Declaration.id).where(Declaration.slug == slug)) is not None:
            return value
    raise ServiceError(_("The scope must be the whole network or one existing declaration."), code="bad_scope")


def _window(valid_from: datetime | None, valid_until: datetime) -> tuple[datetime, datetime]:
    now = utcnow().replace(microsecond=0)
    start = (valid_from or now).replace(microsecond=0)
    end = valid_until.replace(microsecond=0)
    if end <= max(start, now):
        raise ServiceError(_("A mandate must end after it starts, and in the future."), code="bad_validity")
    if end - start > MAX_VALIDITY:
        raise ServiceError(_("A mandate lasts at most two years."), code="bad_validity")
    return start, end


def _issue(user: User, key: SigningKey, kind: MandateStatementKind, fields: dict[str, Any]) -> IssuedMandateStatement:
    assert user.city is not None  # noqa: S101 - checked by _require_mayor
    now = utcnow().replace(microsecond=0)
    fields = {
        **fields,
        "issuer": current_app.config["PUBLIC_URL"],
        "city_slug": user.city.slug,
        "city_name": user.city.name,
        "mayor_id": user.id,
        "mayor_name": user.display_name,
        "mayor_key_fingerprint": key.fingerprint,
        "issued_at": payload.timestamp(now),
        "nonce": secrets.token_urlsafe(24),
    }
    data = payload.build(fields)
    ttl: timedelta = current_app.config["SIGNING_PAYLOAD_TTL"]
    issued = IssuedMandateStatement(
        kind=kind.value, nonce=fields["nonce"], payload=data, payload_sha256=hashlib.sha256(data).hexdigest(),
        user_id=user.id, key_id=key.id, city_id=user.city.id, issued_at=now, expires_at=now + ttl,
    )
    db.session.add(issued)
    transactions.commit(keep=(issued,))
    return issued


def issue_mandate(user: User, key_fingerprint: str, delegate_id: int, fingerprints: list[str] | None, scope: str,
                  valid_until: datetime, valid_from: datetime | None = None) -> IssuedMandateStatement:
    """The bytes of a mandate for one delegate of the mayor's city (default: all their active keys)."""
    _require_mayor(user)
    key = _mayor_key(user, key_fingerprint)
    delegate = db.session.get(User, delegate_id)
    if delegate is None or delegate.role != Role.DELEGATE.value or delegate.city_id != user.city_id \
            or not delegate.active:
        raise NotFound(_("There is no such delegate of your city."))
    available = {k.fingerprint for k in delegate_keys(delegate)}
    chosen = sorted(set(fingerprints if fingerprints else available))
    if not chosen:
        raise Conflict(_("%(name)s has no signing key yet: they must enrol one first.", name=delegate.display_name),
                       code="no_delegate_key")
    if not set(chosen) <= available:
        raise ServiceError(_("A mandate covers only the delegate's enrolled, unrevoked keys."), code="bad_keys")
    start, end = _window(valid_from, valid_until)
    return _issue(user, key, MandateStatementKind.MANDATE, {
        "format": payload.MANDATE_FORMAT, "delegate_id": delegate.id, "delegate_name": delegate.display_name,
        "delegate_key_fingerprints": chosen, "scope": parse_scope(scope),
        "valid_from": payload.timestamp(start), "valid_until": payload.timestamp(end),
    })


def _mandate_of_city(user: User, mandate_id: int) -> Mandate:
    mandate = db.session.get(Mandate, mandate_id)
    if mandate is None or mandate.city_id != user.city_id:
        raise NotFound(_("There is no such mandate of your city."))
    return mandate


def issue_revocation(user: User, key_fingerprint: str, mandate_id: int) -> IssuedMandateStatement:
    _require_mayor(user)
    key = _mayor_key(user, key_fingerprint)
    mandate = _mandate_of_city(user, mandate_id)
    if mandate.revocation is not None:
        raise Conflict(_("This mandate is already revoked."), code="already_revoked")
    return _issue(user, key, MandateStatementKind.REVOCATION, {
        "format": payload.MANDATE_REVOCATION_FORMAT, "revokes_mandate_sha256": mandate.payload_sha256,
    })


def _claim(user: User, data: bytes, signature: bytes,
           kind: MandateStatementKind) -> tuple[IssuedMandateStatement, SigningKey, dict[str, Any]]:
    """Check the submitted bytes against what was issued, verify the signature, mark the bytes used."""
    _require_mayor(user)
    try:
        fields = payload.parse(data)
    except payload.PayloadError as exc:
        raise MandateRejected(_("The statement is not valid: %(error)s.", error=str(exc))) from exc
    issued = db.session.scalar(select(IssuedMandateStatement).where(
        IssuedMandateStatement.payload_sha256 == hashlib.sha256(data).hexdigest()))
    if issued is None or issued.payload != data or issued.kind != kind.value:
        raise MandateRejected(_("These bytes were not issued by this server."))
    if issued.user_id != user.id or issued.city_id != user.city_id:
        raise MandateRejected(_("These bytes were issued to someone else."))
    if issued.used_at is not None:
        raise Conflict(_("This statement has already been used. Ask for a new one."), code="payload_used")
    if issued.expires_at <= utcnow():
        raise MandateRejected(_("This statement has expired. Ask for a new one."), code="payload_expired")
    key = db.session.get(SigningKey, issued.key_id)
    if key is None or not key.active or key.user_id != user.id:
        raise Conflict(_("This key has been revoked."))
    if not payload.verify(key.public_key, signature, data):
        raise MandateRejected(_("The signature does not verify with your enrolled key."))
    claimed = db.session.execute(
        update(IssuedMandateStatement)
        .where(IssuedMandateStatement.id == issued.id, IssuedMandateStatement.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        transactions.rollback()
        raise Conflict(_("This statement has already been used. Ask for a new one."), code="payload_used")
    return issued, key, fields


def submit_mandate(user: User, data: bytes, signature: bytes) -> Mandate:
    issued, key, fields = _claim(user, data, signature, MandateStatementKind.MANDATE)
    record = Mandate(
        city_id=issued.city_id, mayor_id=user.id, mayor_key_id=key.id, delegate_id=fields["delegate_id"],
        delegate_key_fingerprints=list(fields["delegate_key_fingerprints"]), scope=fields["scope"],
        valid_from=payload.parse_timestamp(fields["valid_from"]),
        valid_until=payload.parse_timestamp(fields["valid_until"]),
        issued_statement_id=issued.id, payload=data, payload_sha256=issued.payload_sha256, signature=signature,
    )
    db.session.add(record)
    db.session.flush()
    audit.record("mandate.signed", record, user, delegate=fields["delegate_id"], scope=fields["scope"],
                 valid_until=fields["valid_until"], payload_sha256=record.payload_sha256)
    transactions.commit(keep=(record,))
    return record


def submit_revocation(user: User, data: bytes, signature: bytes) -> MandateRevocation:
    issued, key, fields = _claim(user, data, signature, MandateStatementKind.REVOCATION)
    mandate = db.session.scalar(select(Mandate).where(Mandate.payload_sha256 == fields["revokes_mandate_sha256"]))
    if mandate is None or mandate.city_id != issued.city_id:
        transactions.rollback()
        raise NotFound(_("There is no such mandate of your city."))
    if mandate.revocation is not None:
        transactions.rollback()
        raise Conflict(_("This mandate is already revoked."), code="already_revoked")
    record = MandateRevocation(mandate_id=mandate.id, mayor_id=user.id, mayor_key_id=key.id,
                               issued_statement_id=issued.id, payload=data, signature=signature)
    db.session.add(record)
    db.session.flush()
    audit.record("mandate.revoked", mandate, user, payload_sha256=mandate.payload_sha256)
    transactions.commit(keep=(record,))
    return record
