"""Model objects → API bodies. Reads only; the services decide everything else."""

from __future__ import annotations

import hashlib

from ..core.payload import b64encode, parse
from ..models import Declaration, IssuedPayload, Revision, Signature, SigningKey, User, Withdrawal, WitnessKey
from ..services import cities, review, signatures, witness
from . import schemas, schemas_log


def me(user: User) -> schemas.Me:
    city = schemas.CityRef(slug=user.city.slug, name=user.city.name) if user.city else None
    return schemas.Me(id=user.id, email=user.email, display_name=user.display_name, role=user.role,  # type: ignore[arg-type]
                      city=city)


def _open_revision(declaration: Declaration) -> schemas.RevisionRef | None:
    revision = declaration.open_revision
    return schemas.RevisionRef(number=revision.number, sha256=revision.sha256) if revision else None


def declaration_summary(declaration: Declaration) -> schemas.DeclarationSummary:
    return schemas.DeclarationSummary(
        slug=declaration.slug, title=declaration.title, status=declaration.state.value,
        latest_revision=declaration.latest.number, open_revision=_open_revision(declaration),
        signing_deadline=declaration.signing_deadline,
    )


def declaration_list(found: list[Declaration]) -> schemas.DeclarationList:
    return schemas.DeclarationList([declaration_summary(d) for d in found])


def _city_rows(declaration: Declaration) -> list[schemas.CityStatus]:
    signatory_ids = {s.city_id for s in declaration.signatories}
    approvals = review.latest_approvals(declaration.id)
    latest: dict[int, Signature] = {}
    for record in signatures.signatures_of(declaration):  # ordered: the latest attempt per city wins
        if record.revision_id == declaration.open_revision_id:
            latest[record.city_id] = record
    rows = []
    for city in cities.list_cities():
        status: str | None = None
        if declaration.open_revision_id is not None:
            if city.id not in signatory_ids:
                status = "not_asked"
            elif city.id not in latest:
                status = "not_signed"
            else:
                status = latest[city.id].status
        approval = approvals.get(city.id)
        rows.append(schemas.CityStatus(
            slug=city.slug, name=city.name, signatory=city.id in signatory_ids,
            approved_revision=approval.revision.number if approval else None,
            signature_status=status,  # type: ignore[arg-type]
        ))
    return rows


def declaration_detail(declaration: Declaration) -> schemas.DeclarationDetail:
    rule = declaration.signing_rule if declaration.open_revision_id is not None else None
    return schemas.DeclarationDetail(
        **declaration_summary(declaration).model_dump(),
        signing_rule=rule,  # type: ignore[arg-type]  # validated into RuleAll / RuleQuorum
        cities=_city_rows(declaration),
    )


def revision_list(declaration: Declaration) -> schemas.RevisionList:
    return schemas.RevisionList([
        schemas.RevisionSummary(
            number=r.number, sha256=r.sha256, created_at=r.created_at, note=r.note,
            author=r.author.display_name if r.author else None,
        )
        for r in declaration.revisions
    ])


def revision_detail(revision: Revision) -> schemas.RevisionDetail:
    return schemas.RevisionDetail(
        number=revision.number, text=revision.text, sha256=revision.sha256, created_at=revision.created_at,
        note=revision.note, authoritative_language=revision.authoritative_language,
        versions=[schemas.RevisionVersionOut(tag=v.tag, text=v.text, sha256=v.sha256, authoritative=v.authoritative)
                  for v in revision.versions],
    )


def key(record: SigningKey) -> schemas.KeyOut:
    return schemas.KeyOut(
        fingerprint=record.fingerprint, label=record.label, origin=record.origin,
        public_key=b64encode(record.public_key), created_at=record.created_at, revoked_at=record.revoked_at,
        active=record.active, user_id=record.user_id, owner=record.user.display_name,
    )


def key_list(found: list[SigningKey]) -> schemas.KeyList:
    return schemas.KeyList([key(k) for k in found])


def issued(record: IssuedPayload) -> schemas.IssuedPayloadOut:
    return schemas.IssuedPayloadOut(payload=b64encode(record.payload), payload_sha256=record.payload_sha256,
                                    expires_at=record.expires_at)


def signature_receipt(record: Signature) -> schemas.SignatureReceipt:
    return schemas.SignatureReceipt(
        signature_id=record.id, city=record.city.slug, city_name=record.city.name, revision=record.revision.number,
        signed_at=record.signed_at, payload_sha256=record.payload_sha256, key_fingerprint=record.key.fingerprint,
    )


def withdrawal_receipt(record: Withdrawal) -> schemas.WithdrawalReceipt:
    original = record.original
    return schemas.WithdrawalReceipt(
        signature_id=original.id, city=original.city.slug, city_name=original.city.name,
        revision=original.revision.number, withdrawn_at=record.withdrawn_at,
        payload_sha256=hashlib.sha256(record.payload).hexdigest(),
        withdraws_payload_sha256=str(parse(record.payload)["withdraws_payload_sha256"]),
        key_fingerprint=record.key.fingerprint,
    )


def signature_list(declaration: Declaration) -> schemas.SignatureList:
    rows = []
    for record in signatures.signatures_of(declaration):
        receipt = signatures.receipt(record)
        rows.append(schemas.SignatureOut(
            city=record.city.slug, city_name=record.city.name, signer=record.user.display_name,
            revision=record.revision.number, payload=str(receipt["payload_base64"]),
            payload_sha256=record.payload_sha256, signature=str(receipt["signature_base64"]),
            public_key=str(receipt["public_key_base64"]), key_fingerprint=record.key.fingerprint,
            status=record.status,  # type: ignore[arg-type]
            signed_at=record.signed_at,
        ))
    return schemas.SignatureList(rows)


def witness_key(key: WitnessKey) -> schemas_log.WitnessOut:
    return schemas_log.WitnessOut(name=key.name, city=key.city.slug, fingerprint=key.fingerprint,
                                  verifier_key=witness.verifier(key).encode(), origin=key.origin)
