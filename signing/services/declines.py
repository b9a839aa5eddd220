"""A delegate may decline to sign for their city, with an optional reason, and change their mind until freeze.

A decline is a note to the secretariat (the dashboard shows it and its reason), not a signed statement: it
does not count towards the rule and blocks nothing. The city may still sign: a signature made after the decline
supersedes it (``inbox.superseded``; the signing path writes nothing more), and ``retract`` removes it.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import delete, select

from ..extensions import db
from ..models import Declaration, SigningDecline, User, utcnow
from . import Conflict, ServiceError, audit, transactions
from .declarations import _lock, check_printable
from .inbox import decline_of, superseded
from .signatures import require_signer, standing_signature

MAX_REASON = 2_000


def decline(declaration: Declaration, user: User, reason: str) -> SigningDecline:
    _lock(declaration)
    require_signer(declaration, user)
    assert user.city_id is not None and declaration.open_revision_id is not None  # noqa: S101 - checked above
    reason = check_printable((reason or "").strip(), "reason")
    if len(reason) > MAX_REASON:
        raise ServiceError(_("The reason is %(reason)s characters long; %(MAX_REASON)s at most.",
                             reason=len(reason), MAX_REASON=MAX_REASON))
    if standing_signature(declaration, user.city_id) is not None:
        raise Conflict(_("Your city has signed this revision: withdraw the signature first if your city will not "
                         "sign after all."))
    record = db.session.scalar(select(SigningDecline).where(
        SigningDecline.revision_id == declaration.open_revision_id, SigningDecline.city_id == user.city_id))
    if record is None:
        record = SigningDecline(declaration_id=declaration.id, revision_id=declaration.open_revision_id,
                                city_id=user.city_id, user_id=user.id, reason=reason)
        db.session.add(record)
    else:
        record.reason, record.user_id, record.declined_at = reason, user.id, utcnow()
    db.session.flush()
    audit.record("signing.declined", declaration, user, city=user.city.slug if user.city else None,
                 revision=declaration.open_revision.number if declaration.open_revision else None, reason=reason)
    transactions.commit()
    return record


def retract(declaration: Declaration, user: User) -> None:
    """The delegate changes their mind: the city no longer declines (it may now sign)."""
    _lock(declaration)
    require_signer(declaration, user)
    if decline_of(declaration, user.city_id or 0) is None:
        raise Conflict(_("Your city has not declined to sign this revision."))
    db.session.execute(delete(SigningDecline).where(SigningDecline.revision_id == declaration.open_revision_id,
                                                    SigningDecline.city_id == user.city_id))
    audit.record("signing.decline_retracted", declaration, user, city=user.city.slug if user.city else None)
    transactions.commit()


def of_declaration(declaration: Declaration) -> dict[int, SigningDecline]:
    """city id -> its decline of the revision open for signature (the dashboard shows them with their reasons)."""
    if declaration.open_revision_id is None:
        return {}
    rows = db.session.scalars(select(SigningDecline).where(
        SigningDecline.revision_id == declaration.open_revision_id))
    return {row.city_id: row for row in rows if not superseded(row)}
