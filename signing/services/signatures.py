"""Issuing payloads, accepting signatures and withdrawals — the heart of Accord.

A payload is issued by the server for one delegate, key, city and revision; it
expires after ``SIGNING_PAYLOAD_TTL`` and can be used once. A signature is
accepted only over exactly those bytes, verified with the delegate's enrolled
public key, in one transaction; a partial unique index guarantees one standing
signature per city and revision whatever the concurrency.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.exc import IntegrityError

from ..core import log_entry, payload
from ..extensions import db
from ..models import (
    Declaration,
    IssuedPayload,
    Mandate,
    PayloadKind,
    Revision,
    Role,
    Signatory,
    Signature,
    SignatureStatus,
    SigningKey,
    User,
    Withdrawal,
    utcnow,
)
from . import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceError,
    audit,
    freeze,
    mandate_rules,
    outbox,
    tlog,
    transactions,
    webhooks,
)
from .workflow import Action, allowed, require

log = logging.getLogger(__name__)


class SignatureRejected(ServiceError):
    status = 400
    code = "signature_rejected"


def _ttl() -> timedelta:
    value: timedelta = current_app.config["SIGNING_PAYLOAD_TTL"]
    return value


def _open_revision(declaration: Declaration) -> Revision:
    if declaration.open_revision is None:
        raise Conflict(_("This declaration is not open for signature."))
    return declaration.open_revision


NOT_SIGNATORY = _l("Your city is not among the signatories of this declaration.")


def _check_key(user: User, key: SigningKey, is_signatory: bool) -> None:
    """After the workflow rule (checked first, before any query): the key is the user's and active, the city asked."""
    if key.user_id != user.id:
        raise Forbidden(_("This key belongs to someone else."))
    if not key.active:
        raise Conflict(_("This key has been revoked."))
    if not is_signatory:
        raise Forbidden(NOT_SIGNATORY)


def require_signer(declaration: Declaration, user: User, action: Action = Action.SIGN) -> None:
    """The right to sign (or withdraw) now, without a key: the workflow rule, then the city is asked to sign.

    For the Sign page; the signing requests check the same inside ``issue_*`` and ``submit_*``.
    """
    require(action, declaration, user)
    if not _city_is_signatory(declaration, user):
        raise Forbidden(NOT_SIGNATORY)


def may_sign(declaration: Declaration, user: User) -> bool:
    """Whether ``require_signer`` would let ``user`` sign now (templates decide on a button with it)."""
    return allowed(Action.SIGN, declaration, user) and _city_is_signatory(declaration, user)


def standing_signature(declaration: Declaration, city_id: int) -> Signature | None:
    if declaration.open_revision_id is None:
        return None
    return db.session.scalar(
        select(Signature).where(
            Signature.revision_id == declaration.open_revision_id,
            Signature.city_id == city_id,
            Signature.status == SignatureStatus.VALID.value,
        )
    )


# The statements of the signing path, built once with bound parameters (``declaration_id``, ``city_id``,
# ``revision_id``, ...): each asks everything a step needs in one round trip.
_IS_SIGNATORY = exists().where(
    Signatory.declaration_id == bindparam("declaration_id"), Signatory.city_id == bindparam("city_id")
)
_STANDING = (
    Signature.revision_id == bindparam("revision_id"),
    Signature.city_id == bindparam("city_id"),
    Signature.status == SignatureStatus.VALID.value,
)
# The key by fingerprint, whether the city is a signatory, and whether (which) signature of it stands.
_KEY_TO_SIGN = select(SigningKey, _IS_SIGNATORY, exists().where(*_STANDING)).where(
    SigningKey.fingerprint == bindparam("fingerprint")
)
_KEY_TO_WITHDRAW = select(
    SigningKey, _IS_SIGNATORY, select(Signature.payload_sha256).where(*_STANDING).scalar_subquery()
).where(SigningKey.fingerprint == bindparam("fingerprint"))
# The issued payload by hash, with its key and whether the city is a signatory.
_ISSUED = (
    select(IssuedPayload, SigningKey, _IS_SIGNATORY)
    .join(SigningKey, SigningKey.id == IssuedPayload.key_id)
    .where(IssuedPayload.payload_sha256 == bindparam("payload_sha256"))
)
_SECRETARIAT = (
    select(User.id, User.email, User.display_name)
    .where(User.role == Role.SECRETARIAT.value, User.active.is_(True))
    .order_by(User.id)
)


def _signer_params(declaration: Declaration, user: User) -> dict[str, Any]:
    return {"declaration_id": declaration.id, "city_id": user.city_id, "revision_id": declaration.open_revision_id}


def _city_is_signatory(declaration: Declaration, user: User) -> bool:
    if user.city_id is None:
        return False
    return bool(db.session.scalar(select(_IS_SIGNATORY), _signer_params(declaration, user)))


def _issue(declaration: Declaration, user: User, key: SigningKey, kind: PayloadKind,
           withdraws: str | None = None, mandate: Mandate | None = None) -> IssuedPayload:
    revision = _open_revision(declaration)
    assert user.city is not None  # noqa: S101 - checked by require
    now = utcnow().replace(microsecond=0)
    fields: dict[str, Any] = {
        "format": payload.WITHDRAWAL_FORMAT if kind is PayloadKind.WITHDRAWAL else payload.SIGNATURE_V2_FORMAT,
        "issuer": current_app.config["PUBLIC_URL"],
        "declaration_slug": declaration.slug,
        "declaration_title": declaration.title,
        "revision": revision.number,
        "text_sha256": revision.sha256,
        "city_slug": user.city.slug,
        "city_name": user.city.name,
        "signer_id": user.id,
        "signer_name": user.display_name,
        "key_fingerprint": key.fingerprint,
        "issued_at": payload.timestamp(now),
        "expires_at": payload.timestamp(now + _ttl()),
        "nonce": secrets.token_urlsafe(24),
    }
    if withdraws is not None:
        fields["withdraws_payload_sha256"] = withdraws
    else:  # accord.signature/2: every language version of the revision (one signature for all), and the mandate
        fields.update(mandate_sha256=mandate.payload_sha256 if mandate is not None else "",
                      authoritative_language=revision.authoritative_language,
                      versions=[{"tag": v.tag, "sha256": v.sha256, "authoritative": v.authoritative}
                                for v in revision.versions])
    data = payload.build(fields)
    issued = IssuedPayload(
        kind=kind.value, nonce=fields["nonce"], payload=data, payload_sha256=hashlib.sha256(data).hexdigest(),
        user_id=user.id, key_id=key.id, declaration_id=declaration.id, revision_id=revision.id,
        city_id=user.city.id, issued_at=now, expires_at=now + _ttl(),
    )
    db.session.add(issued)
    transactions.commit(keep=(issued,))  # the response is built from ``issued``: no reload after the commit
    return issued


def _key_and_standing(statement: Any, declaration: Declaration, user: User,
                      key_fingerprint: str) -> tuple[SigningKey, bool, Any]:
    """The key by fingerprint, whether the user's city is a signatory, and its standing signature — one query."""
    row = db.session.execute(statement, {**_signer_params(declaration, user), "fingerprint": key_fingerprint})
    found = row.one_or_none()
    if found is None:
        raise NotFound(_("No key with that fingerprint."))
    key, is_signatory, standing = found
    return key, bool(is_signatory), standing


def issue_signature_payload(declaration: Declaration, user: User, key_fingerprint: str) -> IssuedPayload:
    require(Action.SIGN, declaration, user)
    key, is_signatory, has_standing = _key_and_standing(_KEY_TO_SIGN, declaration, user, key_fingerprint)
    _check_key(user, key, is_signatory)
    if has_standing:
        raise Conflict(_("Your city has already signed this revision."), code="already_signed")
    mandate = mandate_rules.require(declaration, user, key)  # when the declaration requires mandates
    return _issue(declaration, user, key, PayloadKind.SIGNATURE, mandate=mandate)


def issue_withdrawal_payload(declaration: Declaration, user: User, key_fingerprint: str) -> IssuedPayload:
    require(Action.WITHDRAW, declaration, user)
    key, is_signatory, standing_sha256 = _key_and_standing(_KEY_TO_WITHDRAW, declaration, user, key_fingerprint)
    _check_key(user, key, is_signatory)
    if standing_sha256 is None:
        raise Conflict(_("Your city has no signature to withdraw."))
    return _issue(declaration, user, key, PayloadKind.WITHDRAWAL, withdraws=standing_sha256)


def _claim(declaration: Declaration, user: User, data: bytes, signature: bytes,
           kind: PayloadKind) -> tuple[IssuedPayload, SigningKey]:
    """Check the submitted bytes against what was issued and mark the payload used (atomically)."""
    require(Action.SIGN if kind is PayloadKind.SIGNATURE else Action.WITHDRAW, declaration, user)
    try:
        fields = payload.parse(data)
    except payload.PayloadError as exc:
        raise SignatureRejected(_("The payload is not valid: %(exc)s.", exc=exc)) from exc
    row = db.session.execute(
        _ISSUED, {**_signer_params(declaration, user), "payload_sha256": hashlib.sha256(data).hexdigest()}
    ).one_or_none()
    issued, key, is_signatory = row if row is not None else (None, None, False)
    if issued is None or issued.payload != data or issued.kind != kind.value:
        raise SignatureRejected(_("These payload bytes were not issued by this server."))
    assert key is not None  # noqa: S101 - foreign key, inner join
    if issued.user_id != user.id or issued.declaration_id != declaration.id:
        raise SignatureRejected(_("This payload was issued to someone else or for another declaration."))
    if issued.used_at is not None:
        raise Conflict(_("This payload has already been used. Ask for a new one."), code="payload_used")
    if issued.expires_at <= utcnow():
        raise SignatureRejected(_("This payload has expired. Ask for a new one."), code="payload_expired")
    _check_key(user, key, bool(is_signatory))
    open_revision = declaration.open_revision
    if open_revision is None or open_revision.id != issued.revision_id or fields["revision"] != open_revision.number:
        raise Conflict(_("Signing is no longer open on the revision this payload names."))
    if user.city_id != issued.city_id or user.role != Role.DELEGATE or not user.active:
        raise Forbidden(_("You are no longer a delegate of the city this payload names."))
    if not payload.verify(key.public_key, signature, data):
        raise SignatureRejected(_("The signature does not verify with your enrolled key."))
    if kind is PayloadKind.SIGNATURE:  # still covered by the mandate the statement names, at acceptance
        mandate_rules.require_named(declaration, user, key, fields.get("mandate_sha256"))
    claimed = db.session.execute(
        update(IssuedPayload)
        .where(IssuedPayload.id == issued.id, IssuedPayload.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        transactions.rollback()
        raise Conflict(_("This payload has already been used. Ask for a new one."), code="payload_used")
    return issued, key


def submit_signature(declaration: Declaration, user: User, data: bytes, signature: bytes) -> Signature:
    issued, key = _claim(declaration, user, data, signature, PayloadKind.SIGNATURE)
    revision, city = declaration.open_revision, user.city
    assert revision is not None and city is not None  # noqa: S101 - checked by _claim
    record = Signature(
        declaration_id=declaration.id, revision=revision, city=city, user_id=user.id, key=key,
        issued_payload_id=issued.id, payload=data, payload_sha256=issued.payload_sha256, signature=signature,
    )
    db.session.add(record)
    try:
        db.session.flush()
    except IntegrityError as exc:
        transactions.rollback()
        raise Conflict(_("Your city has already signed this revision."), code="already_signed") from exc
    audit.record("signature.added", record, user, city=city.slug, revision=revision.number,
                 fingerprint=key.fingerprint, payload_sha256=record.payload_sha256)
    tlog.append(log_entry.SIGNATURE_ACCEPTED, declaration=declaration.slug, revision=revision.number, city=city.slug,
                key_fingerprint=key.fingerprint, payload_sha256=record.payload_sha256,
                signature_sha256=log_entry.sha256_hex(signature))
    _notify_signature(declaration, record, user, "signature_receipt", "signature_received", new_keys=True)
    _emit("signature.accepted", declaration, record)
    queued = freeze.queue_if_rule_met(declaration)
    kept = (record, revision, city, key, user, declaration)  # what the receipt and the re-check read
    rows = transactions.commit(keep=kept, defer=True)
    if not queued:
        rows += _recheck_rule(declaration, kept)
    transactions.run(rows)
    return record


def _recheck_rule(declaration: Declaration, kept: tuple[object, ...]) -> list[transactions.AfterCommit]:
    """The freeze rule again, after the signature's commit; returns the outbox rows to relay.

    Concurrent last signatures each count without the others' uncommitted rows, so the check inside the
    signing transaction can miss the moment the rule is met. After the commit every earlier commit is
    visible, so the last signer to commit sees them all. Two re-checks share the task's dedupe key: one
    freeze is queued. The signature is stored whatever happens here.
    """
    try:
        if freeze.queue_if_rule_met(declaration):
            return transactions.commit(keep=kept, defer=True)
    except IntegrityError:  # another signer's re-check queued the same task first (rolled back)
        pass
    except Exception:  # the signature is committed; a failed re-check must not turn it into an error
        transactions.rollback()
        log.exception("re-checking the signing rule of declaration %s failed", declaration.id)
    return []


def submit_withdrawal(declaration: Declaration, user: User, data: bytes, signature: bytes) -> Withdrawal:
    issued, _key = _claim(declaration, user, data, signature, PayloadKind.WITHDRAWAL)
    withdraws = payload.parse(data)["withdraws_payload_sha256"]
    standing = standing_signature(declaration, issued.city_id)
    if standing is None or standing.payload_sha256 != withdraws:
        transactions.rollback()
        raise Conflict(_("The signature this statement withdraws is no longer standing."))
    standing.status = SignatureStatus.WITHDRAWN.value
    standing.status_changed_at = utcnow()
    record = Withdrawal(signature_id=standing.id, user_id=user.id, key_id=issued.key_id,
                        issued_payload_id=issued.id, payload=data, signature=signature)
    db.session.add(record)
    db.session.flush()
    audit.record("signature.withdrawn", standing, user, withdrawal=record.id,
                 city=user.city.slug if user.city else None)
    tlog.append(log_entry.SIGNATURE_WITHDRAWN, declaration=declaration.slug, revision=standing.revision.number,
                city=standing.city.slug, key_fingerprint=_key.fingerprint, payload_sha256=log_entry.sha256_hex(data),
                signature_sha256=log_entry.sha256_hex(signature), withdraws_payload_sha256=withdraws)
    _notify_signature(declaration, standing, user, "withdrawal_receipt", "withdrawal_received")
    _emit("signature.withdrawn", declaration, standing)
    transactions.commit()
    return record


def _emit(event: str, declaration: Declaration, record: Signature) -> None:
    """The webhook event of a signature accepted or withdrawn (in the caller's transaction)."""
    webhooks.emit(event, {
        "declaration": webhooks.declaration_data(declaration),
        "revision": {"number": record.revision.number, "sha256": record.revision.sha256},
        "city": {"slug": record.city.slug, "name": record.city.name},
        "signature": {"key_fingerprint": record.key.fingerprint, "payload_sha256": record.payload_sha256,
                      "signed_at": payload.timestamp(record.signed_at or utcnow()),
                      "status": record.status},
    })


def _notify_signature(declaration: Declaration, record: Signature, user: User, to_signer: str,
                      to_secretariat: str, *, new_keys: bool = False) -> None:
    """Receipts to the signer and the secretariat.

    ``new_keys``: ``record`` was inserted by this transaction, so no e-mail can carry its id yet (see
    ``outbox.queue_email``).
    """
    context = {
        "title": declaration.title, "slug": declaration.slug, "city": record.city.name,
        "signer": user.display_name, "revision": record.revision.number, "sha256": record.revision.sha256,
        "fingerprint": record.key.fingerprint, "signed_at": payload.timestamp(record.signed_at or utcnow()),
    }
    secretariat = db.session.execute(_SECRETARIAT).all()  # before queueing: the e-mails are inserted together
    event = f"{to_signer}:{record.id}"
    outbox.queue_email(f"{event}:user{user.id}", user.email, to_signer, new_key=new_keys,
                       display_name=user.display_name, **context)
    for member_id, email, display_name in secretariat:
        outbox.queue_email(f"{to_secretariat}:{record.id}:user{member_id}", email, to_secretariat, new_key=new_keys,
                           display_name=display_name, **context)


def void_standing(declaration: Declaration) -> int:
    """Mark the open revision's standing signatures void (kept, shown). Caller commits.

    Unused payloads are retired too (expired now): one issued before signing closed must
    not be accepted if signing later reopens on the same revision.
    """
    if declaration.open_revision_id is None:
        return 0
    now = utcnow()
    db.session.execute(
        update(IssuedPayload)
        .where(IssuedPayload.declaration_id == declaration.id, IssuedPayload.used_at.is_(None),
               IssuedPayload.expires_at > now)
        .values(expires_at=now)
    )
    result = db.session.execute(
        update(Signature)
        .where(Signature.revision_id == declaration.open_revision_id, Signature.status == SignatureStatus.VALID.value)
        .values(status=SignatureStatus.VOID.value, status_changed_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def signatures_of(declaration: Declaration) -> list[Signature]:
    return list(db.session.scalars(
        select(Signature).where(Signature.declaration_id == declaration.id).order_by(Signature.id)
    ))


def receipt(record: Signature) -> dict[str, object]:
    """Everything needed to check one signature offline."""
    key = record.key
    return {
        "format": "accord.receipt/1",
        "declaration": record.declaration.slug,
        "city": record.city.slug,
        "status": record.status,
        "signed_at": payload.timestamp(record.signed_at),
        "payload_base64": payload.b64encode(record.payload),
        "payload": record.payload.decode("utf-8"),
        "payload_sha256": record.payload_sha256,
        "signature_base64": payload.b64encode(record.signature),
        "public_key_base64": payload.b64encode(key.public_key),
        "public_key_pem": payload.public_key_pem(key.public_key).decode("ascii"),
        "key_fingerprint": key.fingerprint,
        "verify": "See docs/signature-format.md: openssl pkeyutl -verify -pubin -inkey key.pem -rawin "
                  "-in payload.json -sigfile sig.bin",
    }
