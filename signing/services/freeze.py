"""Freezing: once the signing rule is met, seal the signed revision into a bundle.

``queue_if_rule_met`` runs in the signing transaction and writes an outbox task;
``request`` is the secretariat's freeze at or after the deadline; the task runs
``freeze_declaration``, which is idempotent: a frozen declaration keeps its one
bundle, and a concurrent second run loses on the unique constraint.
"""

from __future__ import annotations

import hashlib
import logging

from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.exc import IntegrityError

from ..core import languages, log_entry, payload
from ..core.bundle import BundleInput, BundleVersion, SignedItem, WithdrawnItem, build_bundle
from ..core.bundle_mandates import MandateItem, RevocationItem
from ..extensions import db
from ..models import Bundle, Declaration, Signatory, Signature, SignatureStatus, Status, User, Withdrawal, utcnow
from . import Conflict, audit, mandate_rules, outbox, platform_key, seal, tlog, transactions, webhooks
from .workflow import Action, require

log = logging.getLogger(__name__)


class FreezeError(RuntimeError):
    """Freezing was refused because something does not verify; nothing changed."""


# The rule check runs on every signature: its statements are built once, with bound parameters.
_STANDING = (
    select(func.count(Signature.id))
    .where(Signature.revision_id == bindparam("revision_id"), Signature.status == SignatureStatus.VALID.value)
    .scalar_subquery()
)
_SIGNATORIES = (
    select(func.count(Signatory.id)).where(Signatory.declaration_id == bindparam("declaration_id")).scalar_subquery()
)
_REQUIRED = bindparam("required", type_=Integer)


def _quorum(declaration: Declaration) -> int | None:
    """The quorum, or None for the rule "all" (every signatory city)."""
    rule = declaration.signing_rule or {"kind": "all"}
    return int(rule["required"]) if rule.get("kind") == "quorum" else None


def required_signatures(declaration: Declaration) -> int:
    quorum = _quorum(declaration)
    if quorum is not None:
        return quorum
    return int(db.session.scalar(select(_SIGNATORIES), {"declaration_id": declaration.id}) or 0)


def standing_count(declaration: Declaration) -> int:
    return int(db.session.scalar(select(_STANDING), {"revision_id": declaration.open_revision_id}) or 0)


_RULE_ALL_MET = select(_STANDING >= _SIGNATORIES)
_RULE_QUORUM_MET = select(_STANDING >= _REQUIRED)


def rule_met(declaration: Declaration) -> bool:
    """One query, both counts (the signatories are counted, never loaded)."""
    if declaration.open_revision_id is None:
        return False
    quorum = _quorum(declaration)
    if quorum is None:
        met = db.session.scalar(_RULE_ALL_MET, {"revision_id": declaration.open_revision_id,
                                                "declaration_id": declaration.id})
    else:
        met = db.session.scalar(_RULE_QUORUM_MET, {"revision_id": declaration.open_revision_id, "required": quorum})
    return bool(met)


def _queue(declaration: Declaration, reason: str) -> None:
    # The key names the signing round: a task of an earlier round (run after a return to consultation,
    # finding nothing to freeze) must not stand in for this one.
    opened = declaration.signing_opened_at
    round_ = f"{opened.timestamp():.6f}" if opened else "-"
    outbox.queue_task(f"freeze:{declaration.id}:{declaration.open_revision_id}:{round_}", "freeze",
                      declaration_id=declaration.id, reason=reason)


def queue_if_rule_met(declaration: Declaration) -> bool:
    """Called inside the signing transaction (the caller commits)."""
    if declaration.state is Status.OPEN_FOR_SIGNATURE and rule_met(declaration):
        _queue(declaration, "signing rule met")
        return True
    return False


def request(declaration: Declaration, actor: User) -> None:
    """The secretariat freezes: allowed once the rule is met or the deadline has passed."""
    require(Action.FREEZE, declaration, actor)
    deadline_passed = declaration.signing_deadline is not None and declaration.signing_deadline <= utcnow()
    if not (rule_met(declaration) or deadline_passed):
        raise Conflict(_("The signing rule is not met and the deadline has not passed; it cannot be frozen yet."))
    if standing_count(declaration) == 0:
        raise Conflict(_("No city has signed: there is nothing to freeze."))
    audit.record("declaration.freeze_requested", declaration, actor, signatures=standing_count(declaration))
    _queue(declaration, "requested by the secretariat")
    transactions.commit()


def _signed_item(record: Signature) -> SignedItem:
    if not payload.verify(record.key.public_key, record.signature, record.payload):
        raise FreezeError(f"the signature of {record.city.slug} no longer verifies")
    fields = payload.parse(record.payload)
    if fields["text_sha256"] != record.revision.sha256 or fields["city_slug"] != record.city.slug:
        raise FreezeError(f"the signature of {record.city.slug} names another text or city")
    return SignedItem(
        city_slug=record.city.slug, city_name=record.city.name, signer_name=fields["signer_name"],
        signed_at=record.signed_at, public_key=record.key.public_key, payload=record.payload,
        signature=record.signature,
    )


def _mandates(signed: list[SignedItem]) -> list[MandateItem]:
    """The mandates the signatures name (format 2's ``mandate_sha256``), each with its revocation if any."""
    named = {payload.parse(item.payload).get("mandate_sha256", "") for item in signed} - {""}
    items = []
    for mandate in mandate_rules.by_sha256(named):
        if not payload.verify(mandate.mayor_key.public_key, mandate.signature, mandate.payload):
            raise FreezeError(f"the mandate {mandate.payload_sha256} no longer verifies")
        revoked = mandate.revocation
        items.append(MandateItem(
            city_slug=mandate.city.slug, payload=mandate.payload, signature=mandate.signature,
            public_key=mandate.mayor_key.public_key,
            revocation=RevocationItem(revoked.payload, revoked.signature, revoked.mayor_key.public_key,
                                      revoked.revoked_at) if revoked is not None else None,
        ))
    if len(items) != len(named):
        raise FreezeError("a signature names a mandate this server does not hold")
    return items


def freeze_declaration(declaration_id: int, reason: str = "") -> int | None:
    """Build and store the bundle and mark the declaration frozen. Returns the bundle id."""
    declaration = db.session.scalar(select(Declaration).where(Declaration.id == declaration_id).with_for_update())
    if declaration is None:
        return None
    existing = db.session.scalar(select(Bundle.id).where(Bundle.declaration_id == declaration_id))
    if declaration.state is Status.FROZEN or existing is not None:
        db.session.rollback()
        return existing
    if declaration.state is not Status.OPEN_FOR_SIGNATURE or declaration.open_revision is None:
        db.session.rollback()
        log.info("declaration %s is %s: nothing to freeze", declaration_id, declaration.status)
        return None
    revision = declaration.open_revision
    records = list(db.session.scalars(
        select(Signature).where(Signature.revision_id == revision.id).order_by(Signature.id)
    ))
    standing = [_signed_item(r) for r in records if r.status == SignatureStatus.VALID.value]
    withdrawn = []
    for w in db.session.scalars(
        select(Withdrawal).join(Signature, Withdrawal.signature_id == Signature.id)
        .where(Signature.revision_id == revision.id).order_by(Withdrawal.id)
    ):
        if not payload.verify(w.key.public_key, w.signature, w.payload):
            raise FreezeError(f"a withdrawal by {w.original.city.slug} does not verify")
        withdrawn.append(WithdrawnItem(
            signed=_signed_item_unchecked(w.original), withdrawn_at=w.withdrawn_at, public_key=w.key.public_key,
            payload=w.payload, signature=w.signature,
        ))
    if not standing:
        raise FreezeError("no standing signature")
    frozen_at = utcnow().replace(microsecond=0)
    key = platform_key.load()
    credentials = seal.load()
    verify_url = f"{current_app.config['PUBLIC_URL']}/public/declarations/{declaration.slug}"
    # Imported here: fpdf2 (with Pillow and fontTools) adds some 30 MB to every process that imports it, and
    # only the freeze renders a PDF.
    from ..core import pdf

    document = pdf.render(
        title=declaration.title, text=revision.text, revision=revision.number, text_sha256=revision.sha256,
        frozen_at=frozen_at, verify_url=verify_url, platform_fingerprint=platform_key.fingerprint(key),
        signatories=[pdf.SignatoryRow(s.city_name, s.signer_name, s.signed_at,
                                      payload.fingerprint(s.public_key)) for s in standing],
        signing_rule=rule_in_words(declaration), not_signed=_not_signed(declaration, standing),
        versions=[pdf.VersionPage(v.tag, languages.name(v.tag), v.text, v.sha256, v.authoritative)
                  for v in revision.versions] if len(revision.versions) > 1 else [],  # one version: as before
    )
    document = seal.seal(document, credentials, frozen_at)
    archive, manifest = build_bundle(
        BundleInput(
            declaration_slug=declaration.slug, declaration_title=declaration.title, revision=revision.number,
            text=revision.text, text_sha256=revision.sha256, signing_rule=declaration.signing_rule or {"kind": "all"},
            signing_opened_at=declaration.signing_opened_at, signing_deadline=declaration.signing_deadline,
            frozen_at=frozen_at, issuer=current_app.config["PUBLIC_URL"],
            signatories=[s.city.slug for s in declaration.signatories], signatures=standing, withdrawals=withdrawn,
            versions=[BundleVersion(v.tag, v.text, v.authoritative) for v in revision.versions],
            require_mandates=declaration.require_mandates,
            mandates=_mandates([*standing, *(w.signed for w in withdrawn)]),
        ),
        document, key, credentials.certificate_pem,
    )
    bundle = Bundle(
        declaration_id=declaration.id, revision_id=revision.id, frozen_at=frozen_at, manifest=manifest,
        archive=archive, archive_sha256=hashlib.sha256(archive).hexdigest(), pdf=document,
        platform_key_fingerprint=platform_key.fingerprint(key),
    )
    db.session.add(bundle)
    declaration.status = Status.FROZEN.value
    declaration.frozen_at = frozen_at
    try:
        db.session.flush()
    except IntegrityError:  # another worker froze it first
        transactions.rollback()
        return db.session.scalar(select(Bundle.id).where(Bundle.declaration_id == declaration_id))
    audit.record("declaration.frozen", declaration, None, revision=revision.number, sha256=revision.sha256,
                 signatures=len(standing), bundle_sha256=bundle.archive_sha256, reason=reason)
    tlog.append(log_entry.DECLARATION_FROZEN, queue=False, declaration=declaration.slug, revision=revision.number,
                text_sha256=revision.sha256, manifest_sha256=log_entry.sha256_hex(manifest))
    tlog.sequence_in_transaction()  # the bundle's checkpoint, with the freeze in it, is signed with the freeze
    for user in _everyone():
        outbox.queue_email(f"frozen:{declaration.id}:user{user.id}", user.email, "frozen",
                           display_name=user.display_name, title=declaration.title, slug=declaration.slug,
                           number=revision.number, sha256=revision.sha256, signatures=len(standing),
                           verify_url=verify_url)
    webhooks.emit("declaration.frozen", {
        "declaration": webhooks.declaration_data(declaration),
        "revision": {"number": revision.number, "sha256": revision.sha256},
        "bundle": {"sha256": bundle.archive_sha256, "signatures": len(standing), "frozen_at": frozen_at.isoformat()},
    })
    transactions.commit()
    return bundle.id


def rule_in_words(declaration: Declaration) -> str:
    quorum = _quorum(declaration)
    asked = len(declaration.signatories)
    if quorum is None:
        return f"all {asked} cities asked must sign"
    return f"a quorum of {quorum} of the {asked} cities asked"


def _not_signed(declaration: Declaration, standing: list[SignedItem]) -> list[str]:
    signed = {item.city_slug for item in standing}
    return [s.city.name for s in declaration.signatories if s.city.slug not in signed]


def _signed_item_unchecked(record: Signature) -> SignedItem:
    return SignedItem(
        city_slug=record.city.slug, city_name=record.city.name,
        signer_name=payload.parse(record.payload)["signer_name"], signed_at=record.signed_at,
        public_key=record.key.public_key, payload=record.payload, signature=record.signature,
    )


def _everyone() -> list[User]:
    return list(db.session.scalars(
        select(User).where(User.active.is_(True), User.password_hash.is_not(None)).order_by(User.id)
    ))


def bundle_of(declaration: Declaration) -> Bundle | None:
    return db.session.scalar(select(Bundle).where(Bundle.declaration_id == declaration.id))


def init_app(app: Flask) -> None:
    """Register the outbox task that freezes a declaration (``queue_if_rule_met`` queues it)."""
    outbox.register_task(app, "freeze", freeze_declaration)
