"""The secretariat's side of endorsements: organisations' account requests and their verification, moderation.

An organisation (or a city outside the network) asks for an account with its name, country, website and a
contact address; the secretariat verifies it, which makes it an ``endorser`` account invited by e-mail (the
usual invitation link) and gives it the verified badge. Moderation hides an endorsement from the public list
with a reason, audit-logged; the signed statement is never deleted or changed.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import Endorsement, Endorser, EndorserKind, Role, User, utcnow
from . import (
    Conflict,
    NotFound,
    ServiceError,
    accounts,
    audit,
    endorsement_queries,
    endorsers,
    outbox,
    refuse_bidi,
    transactions,
)

REQUEST_KINDS = (EndorserKind.ORGANISATION.value, EndorserKind.CITY.value)
_SECRETARIAT = select(User.id, User.email).where(User.role == Role.SECRETARIAT.value, User.active.is_(True))


def _clean_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not 2 <= len(cleaned) <= 200:
        raise ServiceError(_("Give the organisation's name (2 to 200 characters)."), code="bad_name")
    return refuse_bidi(cleaned, "name")


def _clean_website(website: str) -> str | None:
    cleaned = (website or "").strip()
    if not cleaned:
        return None
    if len(cleaned) > 300 or not cleaned.startswith(("https://", "http://")) or any(c.isspace() for c in cleaned):
        raise ServiceError(_("The website must be an address starting with https:// (or left empty)."),
                           code="bad_website")
    return cleaned


def request_account(kind: str, name: str, country: str, website: str, email: str) -> Endorser:
    """An organisation's (or an outside city's) request: an unverified endorser; the secretariat is told."""
    if kind not in REQUEST_KINDS:
        raise ServiceError(_("Choose an organisation or a city."), code="bad_kind")
    endorser = Endorser(public_id=endorsers.new_public_id(), kind=kind, country=endorsers.clean_country(country),
                        display_name=_clean_name(name), show_name=True, website=_clean_website(website),
                        email=endorsers.clean_email(email))
    db.session.add(endorser)
    db.session.flush()
    audit.record("endorser.requested", endorser, None, endorser=endorser.public_id, kind=kind)
    for member_id, member_email in db.session.execute(_SECRETARIAT).all():
        outbox.queue_email(f"endorser_requested:{endorser.id}:user{member_id}", member_email, "endorser_requested",
                           new_key=True, name=endorser.display_name, kind=kind, country=endorser.country,
                           website=endorser.website or "")
    transactions.commit(keep=(endorser,))
    return endorser


def pending() -> list[Endorser]:
    return list(db.session.scalars(select(Endorser).where(
        Endorser.kind.in_(REQUEST_KINDS), Endorser.verified_at.is_(None), Endorser.city_id.is_(None))
        .order_by(Endorser.id)))


def verified() -> list[Endorser]:
    return list(db.session.scalars(select(Endorser).where(
        Endorser.kind.in_(REQUEST_KINDS), Endorser.verified_at.is_not(None)).order_by(Endorser.display_name)))


def get(endorser_id: int) -> Endorser:
    endorser = db.session.get(Endorser, endorser_id)
    if endorser is None:
        raise NotFound(_("No such endorser."))
    return endorser


def verify(endorser: Endorser, actor: User) -> User:
    """Verify a requested organisation: its verified badge and an ``endorser`` account, invited by e-mail."""
    if endorser.kind not in REQUEST_KINDS or endorser.city_id is not None:
        raise Conflict(_("Only organisations and cities outside the network are verified here."))
    if endorser.verified_at is not None:
        raise Conflict(_("This endorser is already verified."))
    if endorser.email is None or endorser.display_name is None:
        raise Conflict(_("This request has no contact address or name."))
    user = accounts.invite(endorser.email, endorser.display_name, Role.ENDORSER.value, city=None, actor=actor)
    endorser.user_id = user.id
    endorser.verified_at = utcnow()
    endorser.verified_by_id = actor.id
    audit.record("endorser.verified", endorser, actor, endorser=endorser.public_id, user=user.id)
    transactions.commit(keep=(endorser,))
    return user


def endorsement(endorsement_id: int) -> Endorsement:
    record = db.session.get(Endorsement, endorsement_id)
    if record is None:
        raise NotFound(_("No such endorsement."))
    return record


def hide(record: Endorsement, reason: str, actor: User) -> None:
    """Hide from the public list and the counts, with a logged reason; the signed statement stays."""
    cleaned = " ".join((reason or "").split())
    if not 3 <= len(cleaned) <= 500:
        raise ServiceError(_("Give the reason for hiding it (3 to 500 characters)."), code="bad_reason")
    if record.hidden_at is not None:
        raise Conflict(_("This endorsement is already hidden."))
    record.hidden_at, record.hidden_reason, record.hidden_by_id = utcnow(), cleaned, actor.id
    audit.record("endorsement.hidden", record, actor, reason=cleaned, payload_sha256=record.payload_sha256)
    transactions.commit(keep=(record,))
    endorsement_queries.forget(record.declaration_id)


def unhide(record: Endorsement, actor: User) -> None:
    if record.hidden_at is None:
        raise Conflict(_("This endorsement is not hidden."))
    audit.record("endorsement.shown", record, actor, previous_reason=record.hidden_reason,
                 payload_sha256=record.payload_sha256)
    record.hidden_at, record.hidden_reason, record.hidden_by_id = None, None, None
    transactions.commit(keep=(record,))
    endorsement_queries.forget(record.declaration_id)


def recent(declaration_id: int | None = None, *, before: int | None = None, size: int = 50) -> list[Endorsement]:
    """For moderation: every endorsement (hidden and withdrawn ones too), newest first, keyset by id."""
    query = select(Endorsement).order_by(Endorsement.id.desc()).limit(size)
    if declaration_id is not None:
        query = query.where(Endorsement.declaration_id == declaration_id)
    if before is not None:
        query = query.where(Endorsement.id < before)
    return list(db.session.scalars(query))


def erase_name(endorser: Endorser, actor: User | None) -> None:
    """On request: the name is erased; the endorser's statements stay, anonymous (they never named it)."""
    endorsers.erase_name(endorser, actor)
    transactions.commit()
