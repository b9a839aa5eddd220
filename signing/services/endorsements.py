"""Accepting and withdrawing endorsements of a frozen declaration (one request each), and the bulk path.

The endorser's browser builds ``accord.endorsement/1`` from public facts and signs it; no nonce is issued.
``accept`` checks the bytes (canonical, the format, this declaration's frozen manifest SHA-256, the issuer,
the endorser and key belong together, the time within ``ENDORSEMENT_CLOCK_SKEW``) and inserts a row. A
replay of the same bytes returns the existing row unchanged; the partial unique index on
(declaration_id, endorser_id) where not withdrawn makes a second standing endorsement a 409, whatever the
concurrency. A signed ``accord.endorsement-withdrawal/1`` withdraws it; the endorser may endorse again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from ..core import fastparse, log_entry, payload, statements
from ..extensions import db
from ..models import Bundle, Declaration, Endorsement, Endorser, EndorserKey, Status, utcnow
from . import (
    Conflict,
    NotFound,
    ServiceError,
    endorsement_intake,
    endorsement_queries,
    endorsers,
    outbox,
    tlog,
    transactions,
    webhooks,
)


class EndorsementRejected(ServiceError):
    status = 400
    code = "endorsement_rejected"


@dataclass(frozen=True)
class Signed:
    """One signed statement as posted: its exact bytes, the 64-byte signature and the raw 32-byte public key."""

    payload: bytes
    signature: bytes
    public_key: bytes


_MANIFESTS: dict[tuple[str, int], str] = {}  # (database, declaration id) -> manifest SHA-256 (bundles never change)


def manifest_sha256(declaration: Declaration) -> str:
    """Hex SHA-256 of the frozen bundle's ``manifest.json``; 409 if the declaration is not frozen."""
    if declaration.status != Status.FROZEN.value:
        raise Conflict(_("Only a frozen declaration can be endorsed."), code="not_frozen")
    key = (str(db.engine.url), declaration.id)
    cached = _MANIFESTS.get(key)
    if cached is None:
        manifest = db.session.scalar(select(Bundle.manifest).where(Bundle.declaration_id == declaration.id))
        if manifest is None:
            raise Conflict(_("This declaration's bundle is not ready yet."), code="not_frozen")
        cached = _MANIFESTS[key] = hashlib.sha256(manifest).hexdigest()
    return cached


def facts(declaration: Declaration, endorser: Endorser) -> dict[str, str]:
    """The public facts a browser builds a statement from (all but the key and the time)."""
    return {
        "issuer": str(current_app.config["PUBLIC_URL"]),
        "declaration_slug": declaration.slug,
        "declaration_title": declaration.title,
        "bundle_manifest_sha256": manifest_sha256(declaration),
        "endorser_id": endorser.public_id,
        "endorser_kind": endorser.kind,
        "country": endorser.country,
    }


def _read(data: bytes, entry: statements.StatementFormat) -> dict[str, Any]:
    try:
        fields = fastparse.parse_payload(data)  # the same payloads as payload.parse, without a JSON parser
    except payload.PayloadError as exc:
        raise EndorsementRejected(_("The statement is not valid: %(why)s.", why=str(exc))) from exc
    if fields.get("format") != entry.name:
        raise EndorsementRejected(_("This is not an %(format)s statement.", format=entry.name))
    return fields


def _check_facts(declaration: Declaration, fields: dict[str, Any], public_key: bytes,
                 endorser: Endorser | None) -> Endorser:
    """The statement names this declaration as frozen, this platform, its endorser as they are, and this key."""
    # The caller's endorser is already loaded: no second look-up when the statement names them.
    same = endorser is not None and endorser.public_id == fields["endorser_id"]
    named = endorser if same else endorsers.by_public_id(fields["endorser_id"])
    if named is None:
        raise NotFound(_("No endorser has this id."))
    if endorser is not None and named.id != endorser.id:
        raise EndorsementRejected(_("The statement names another endorser."))
    expected = facts(declaration, named)
    wrong = sorted(name for name, value in expected.items() if fields[name] != value)
    if wrong:
        raise EndorsementRejected(_("The statement does not match the public facts: %(fields)s.",
                                                 fields=", ".join(wrong)))
    if named.kind != "person" and named.verified_at is None:
        raise EndorsementRejected(_("This endorser is not verified yet."), code="not_verified")
    try:
        fingerprint = payload.fingerprint(public_key)
    except payload.PayloadError as exc:
        raise EndorsementRejected(_("The public key is not valid: %(why)s.", why=str(exc))) from exc
    if fields["key_fingerprint"] != fingerprint:
        raise EndorsementRejected(_("The statement names another key."))
    return named


def _check_time(value: str, now: datetime) -> datetime:
    try:
        moment = payload.parse_timestamp(value)
    except payload.PayloadError as exc:
        raise EndorsementRejected(_("The statement's time is not RFC 3339 UTC to the second.")) from exc
    skew: timedelta = current_app.config["ENDORSEMENT_CLOCK_SKEW"]
    if abs(moment - now) > skew:
        raise EndorsementRejected(_("The statement's time is too far from ours. Check your device's clock."),
                                  code="clock_skew")
    return moment


def _verify(signed: Signed) -> None:
    if not payload.verify(signed.public_key, signed.signature, signed.payload):
        raise EndorsementRejected(_("The signature does not verify with this key."), code="bad_signature")


def accept(declaration: Declaration, payload_bytes: bytes, signature: bytes, public_key: bytes,
           endorser: Endorser | None = None) -> Endorsement:
    """Verify and store one endorsement (one transaction); a replay returns the stored row unchanged.

    ``endorser``: who the caller proved to be (an e-mail link, an account); a new key is then registered
    to it. Without it, the key must already be this endorser's. On PostgreSQL the writes are one statement
    (``endorsement_intake.store``); whatever that path does not settle takes the general one below.
    """
    signed = Signed(payload_bytes, signature, public_key)
    fields = _read(payload_bytes, statements.ENDORSEMENT)
    named = _check_facts(declaration, fields, public_key, endorser)
    _verify(signed)
    sha256 = hashlib.sha256(payload_bytes).hexdigest()
    if db.engine.dialect.name == "postgresql":  # one statement; None: the general path below decides
        stored = _store(declaration, named, signed, fields, sha256, register=endorser is not None)
        if stored is not None:
            return stored
    existing = db.session.scalar(select(Endorsement).where(Endorsement.payload_sha256 == sha256))
    if existing is not None:  # a replay: nothing changes
        if existing.withdrawn_at is not None:
            raise Conflict(_("This endorsement was withdrawn. To endorse again, sign a new statement."),
                           code="withdrawn")
        return existing
    endorsed_at = _check_time(fields["endorsed_at"], utcnow())
    key = endorsers.key_for(named, public_key, register=endorser is not None)
    record = Endorsement(declaration_id=declaration.id, endorser_id=named.id, key_id=key.id,
                         endorser_kind=named.kind, country=named.country, payload=payload_bytes,
                         payload_sha256=sha256, signature=signature, endorsed_at=endorsed_at)
    db.session.add(record)
    try:
        db.session.flush()
    except IntegrityError as exc:
        transactions.rollback()
        raise Conflict(_("This endorser already has a standing endorsement of this declaration. Withdraw it first."),
                       code="already_endorsed") from exc
    _log(log_entry.ENDORSEMENT_ACCEPTED, declaration, named, key, payload_bytes, signature)
    _after_accept(declaration, named, record)
    transactions.commit(keep=(record, named, key, declaration))
    endorsement_queries.changed(declaration.id, record.endorser_kind, record.country, +1)
    return record


def _store(declaration: Declaration, named: Endorser, signed: Signed, fields: dict[str, Any], sha256: str, *,
           register: bool) -> Endorsement | None:
    """``accept``'s writes in one statement (``endorsement_intake.store``, PostgreSQL), then the commit."""
    now = utcnow()
    try:
        endorsed_at = _check_time(fields["endorsed_at"], now)
    except EndorsementRejected:
        return None  # the general path: the replay of older bytes is still the stored row
    if payload.is_weak_public_key(signed.public_key):
        return None  # the general path refuses it (after the replay check, as always)
    fingerprint = fields["key_fingerprint"]  # the key's own (``_check_facts``)
    entry = log_entry.make(log_entry.ENDORSEMENT_ACCEPTED, now, declaration=declaration.slug,
                           endorser=named.public_id, endorser_kind=named.kind, key_fingerprint=fingerprint,
                           payload_sha256=sha256, signature_sha256=log_entry.sha256_hex(signed.signature))
    intake = endorsement_intake
    event = webhooks.message_body(intake.EVENT, intake.event_data(declaration, named, sha256, endorsed_at), now)
    stored = intake.store(intake.Row(
        declaration_id=declaration.id, endorser_id=named.id, endorser_kind=named.kind, country=named.country,
        payload=signed.payload, payload_sha256=sha256, signature=signed.signature, public_key=signed.public_key,
        fingerprint=fingerprint, endorsed_at=endorsed_at, accepted_at=now, register=register,
        email=named.email or None, email_context=intake.receipt_context(declaration, named, sha256),
        log_entry=entry, event_body=event))
    if stored is None or not stored.new:  # the general path, or a replay (nothing written, nothing to commit)
        return None if stored is None else stored.record
    record = stored.record
    transactions.commit(keep=(record, named, declaration))
    endorsement_queries.changed(declaration.id, record.endorser_kind, record.country, +1)
    return record


def _log(kind: str, declaration: Declaration, endorser: Endorser, key: EndorserKey, data: bytes, signature: bytes,
         *, queue: bool = True, **extra: str) -> None:
    tlog.append(kind, queue=queue, declaration=declaration.slug, endorser=endorser.public_id,
                endorser_kind=endorser.kind, key_fingerprint=key.fingerprint,
                payload_sha256=log_entry.sha256_hex(data), signature_sha256=log_entry.sha256_hex(signature), **extra)


def links(declaration: Declaration, record: Endorsement) -> dict[str, str]:
    """The public page of one endorsement and its withdrawal page (absolute URLs)."""
    return endorsement_intake.links(declaration, record.payload_sha256)


def _after_accept(declaration: Declaration, endorser: Endorser, record: Endorsement) -> None:
    """The endorser's confirmation e-mail and the webhook event, in the caller's transaction."""
    if endorser.email:
        outbox.queue_email(f"endorsement_receipt:{record.id}", endorser.email, "endorsement_receipt", new_key=True,
                           **endorsement_intake.receipt_context(declaration, endorser, record.payload_sha256))
    webhooks.emit(endorsement_intake.EVENT, endorsement_intake.event_data(declaration, endorser, record.payload_sha256,
                                                        record.endorsed_at))


def withdraw(declaration: Declaration, payload_bytes: bytes, signature: bytes, public_key: bytes,
             endorser: Endorser | None = None) -> Endorsement:
    """Store a signed withdrawal on the endorsement it names; the same withdrawal again changes nothing."""
    fields = _read(payload_bytes, statements.ENDORSEMENT_WITHDRAWAL)
    named = _check_facts(declaration, fields, public_key, endorser)
    _verify(Signed(payload_bytes, signature, public_key))
    record = db.session.scalar(select(Endorsement).where(
        Endorsement.payload_sha256 == fields["withdraws_payload_sha256"],
        Endorsement.declaration_id == declaration.id, Endorsement.endorser_id == named.id))
    if record is None:
        raise NotFound(_("No endorsement of this declaration by this endorser has that SHA-256."))
    if record.withdrawn_at is not None:
        if record.withdrawal_payload == payload_bytes:
            return record  # a replay
        raise Conflict(_("This endorsement has already been withdrawn."), code="already_withdrawn")
    withdrawn_at = _check_time(fields["withdrawn_at"], utcnow())
    key = endorsers.key_for(named, public_key, register=endorser is not None)
    record.withdrawn_at = max(withdrawn_at, record.accepted_at)
    record.withdrawal_payload = payload_bytes
    record.withdrawal_signature = signature
    record.withdrawal_key_id = key.id
    _log(log_entry.ENDORSEMENT_WITHDRAWN, declaration, named, key, payload_bytes, signature,
         withdraws_payload_sha256=record.payload_sha256)
    transactions.commit(keep=(record, named, declaration))
    if record.hidden_at is None:
        endorsement_queries.changed(declaration.id, record.endorser_kind, record.country, -1)
    return record


def standing_of(declaration: Declaration, endorser: Endorser) -> Endorsement | None:
    return db.session.scalar(select(Endorsement).where(
        Endorsement.declaration_id == declaration.id, Endorsement.endorser_id == endorser.id,
        Endorsement.withdrawn_at.is_(None)))


def by_sha256(declaration: Declaration, sha256: str) -> Endorsement:
    record = db.session.scalar(select(Endorsement).where(
        Endorsement.declaration_id == declaration.id, Endorsement.payload_sha256 == sha256))
    if record is None:
        raise NotFound(_("No such endorsement."))
    return record


# --- The bulk path (the seeding command, imports, the 100k benchmark) --------------------------------------


@dataclass
class BulkResult:
    accepted: int = 0
    replayed: int = 0  # the same bytes were already stored
    refused: int = 0  # not verified, another standing endorsement, a bad statement
    errors: list[str] | None = None


def accept_many(declaration: Declaration, items: Sequence[Signed], *, batch: int = 1000,
                register_keys: bool = True, check_time: bool = False) -> BulkResult:
    """Verify and insert many already-signed endorsements: one transaction and one INSERT per batch.

    A trusted path (no HTTP caller): unknown keys are registered to the endorser the statement names when
    ``register_keys``. Every statement is checked as in ``accept`` (the time window only if ``check_time``);
    a refused item is counted and skipped, never stored. One log sequencing task per batch.
    """
    result = BulkResult(errors=[])
    expected = {"issuer": str(current_app.config["PUBLIC_URL"]), "declaration_slug": declaration.slug,
                "declaration_title": declaration.title, "bundle_manifest_sha256": manifest_sha256(declaration)}
    for start in range(0, len(items), batch):
        _accept_batch(declaration, items[start:start + batch], expected, result, register_keys, check_time)
    return result


def _accept_batch(declaration: Declaration, items: Sequence[Signed], expected: dict[str, str], result: BulkResult,
                  register_keys: bool, check_time: bool) -> None:
    assert result.errors is not None  # noqa: S101 - made by accept_many
    now = utcnow()
    parsed: list[tuple[Signed, dict[str, Any], str]] = []
    for item in items:
        try:
            fields = _read(item.payload, statements.ENDORSEMENT)
            wrong = [name for name in ("issuer", "declaration_slug", "declaration_title", "bundle_manifest_sha256")
                     if fields[name] != expected[name]]
            if wrong or fields["key_fingerprint"] != payload.fingerprint(item.public_key):
                raise EndorsementRejected(_("the statement does not match the public facts or its key"))
            if check_time:
                _check_time(fields["endorsed_at"], now)
            _verify(item)
        except (ServiceError, payload.PayloadError) as exc:
            result.refused += 1
            result.errors.append(str(exc))
            continue
        parsed.append((item, fields, hashlib.sha256(item.payload).hexdigest()))
    ids = {fields["endorser_id"] for _item, fields, _sha in parsed}
    named = {e.public_id: e for e in db.session.scalars(select(Endorser).where(Endorser.public_id.in_(ids)))}
    known = set(db.session.scalars(select(Endorsement.payload_sha256).where(
        Endorsement.payload_sha256.in_([sha for _item, _fields, sha in parsed]))))
    standing = set(db.session.scalars(select(Endorsement.endorser_id).where(
        Endorsement.declaration_id == declaration.id, Endorsement.withdrawn_at.is_(None),
        Endorsement.endorser_id.in_([e.id for e in named.values()]))))
    fingerprints = {payload.fingerprint(item.public_key) for item, _fields, _sha in parsed}
    keys = {k.fingerprint: k for k in db.session.scalars(select(EndorserKey).where(
        EndorserKey.fingerprint.in_(fingerprints)))}
    rows: list[dict[str, Any]] = []
    logged: list[tuple[Endorser, str, Signed]] = []
    for item, fields, sha in parsed:
        endorser = named.get(fields["endorser_id"])
        if sha in known:
            result.replayed += 1
            continue
        problem = _bulk_problem(endorser, fields, standing)
        key = None
        if problem is None and endorser is not None:
            key = keys.get(fields["key_fingerprint"])
            if key is None and register_keys:
                key = keys[fields["key_fingerprint"]] = EndorserKey(
                    endorser_id=endorser.id, public_key=item.public_key, fingerprint=fields["key_fingerprint"])
                db.session.add(key)
            if key is None or key.endorser_id != endorser.id:
                problem = "the key is not this endorser's"
        if problem is not None or endorser is None or key is None:
            result.refused += 1
            result.errors.append(problem or "unknown endorser")
            continue
        standing.add(endorser.id)
        known.add(sha)
        rows.append({"declaration_id": declaration.id, "endorser_id": endorser.id, "fingerprint": key.fingerprint,
                     "endorser_kind": endorser.kind, "country": endorser.country, "payload": item.payload,
                     "payload_sha256": sha, "signature": item.signature, "accepted_at": now,
                     "endorsed_at": payload.parse_timestamp(fields["endorsed_at"])})
        logged.append((endorser, fields["key_fingerprint"], item))
    if rows:
        db.session.flush()  # the new keys get their ids
        for row in rows:
            row["key_id"] = keys[row.pop("fingerprint")].id
        db.session.execute(insert(Endorsement), rows)
        for index, (endorser, fingerprint, item) in enumerate(logged):
            _log(log_entry.ENDORSEMENT_ACCEPTED, declaration, endorser, keys[fingerprint], item.payload,
                 item.signature, queue=index == len(logged) - 1)
    transactions.commit()
    endorsement_queries.forget(declaration.id)
    result.accepted += len(rows)


def _bulk_problem(endorser: Endorser | None, fields: dict[str, Any], standing: set[int]) -> str | None:
    if endorser is None:
        return "unknown endorser"
    if fields["endorser_kind"] != endorser.kind or fields["country"] != endorser.country:
        return "the statement does not match the endorser"
    if endorser.kind != "person" and endorser.verified_at is None:
        return "the endorser is not verified"
    if endorser.id in standing:
        return "the endorser already has a standing endorsement"
    return None


def statement_fields(declaration: Declaration, endorser: Endorser, public_key: bytes, at: datetime,
                     withdraws: str | None = None) -> dict[str, Any]:
    """The fields of an endorsement (or, with ``withdraws``, of its withdrawal) — what the browser builds."""
    fields: dict[str, Any] = {**facts(declaration, endorser), "key_fingerprint": payload.fingerprint(public_key)}
    if withdraws is None:
        fields.update(format=statements.ENDORSEMENT.name, endorsed_at=payload.timestamp(at))
    else:
        fields.update(format=statements.ENDORSEMENT_WITHDRAWAL.name, withdrawn_at=payload.timestamp(at),
                      withdraws_payload_sha256=withdraws)
    return fields
