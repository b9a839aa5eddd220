"""Which mandates stand, and what they cover: the questions the signing path and the pages ask.

A mandate stands at a moment when it is stored (signed by the city's mayor), not revoked, and the moment lies
in ``[valid_from, valid_until)``. It covers a signature when it also names the delegate, the key (among its
fingerprints) and a scope covering the declaration ("network", or "declaration:<slug>").
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..core import payload
from ..extensions import db
from ..models import Declaration, Mandate, MandateRevocation, Role, Signatory, SigningKey, User, utcnow
from . import Forbidden


class MandateMissing(Forbidden):
    """A declaration requires mandates and none covers this delegate and key now."""

    code = "mandate_missing"


def mayor_of(city_id: int | None) -> User | None:
    if city_id is None:
        return None
    return db.session.scalar(select(User).where(User.city_id == city_id, User.role == Role.MAYOR.value))


def _candidates(city_id: int, delegate_id: int | None, moment: datetime) -> list[Mandate]:
    """Mandates of the city (and delegate) valid at ``moment`` and not revoked."""
    query = (
        select(Mandate)
        .outerjoin(MandateRevocation, MandateRevocation.mandate_id == Mandate.id)
        .where(Mandate.city_id == city_id, Mandate.valid_from <= moment, Mandate.valid_until > moment,
               MandateRevocation.id.is_(None))
        .order_by(Mandate.valid_until.desc(), Mandate.id.desc())
    )
    if delegate_id is not None:
        query = query.where(Mandate.delegate_id == delegate_id)
    return list(db.session.scalars(query))


def covering(declaration: Declaration, user: User, key: SigningKey, moment: datetime | None = None, *,
             named: str | None = None) -> Mandate | None:
    """The standing mandate covering ``user`` signing ``declaration`` with ``key`` at ``moment`` (default: now).

    ``named``: only the mandate whose bytes have this SHA-256.
    """
    if user.city_id is None or user.city is None:
        return None
    moment = moment or utcnow()
    for mandate in _candidates(user.city_id, user.id, moment):
        if named is not None and mandate.payload_sha256 != named:
            continue
        if key.fingerprint in mandate.delegate_key_fingerprints and \
                payload.mandate_scope_covers(mandate.scope, declaration.slug):
            return mandate
    return None


def whom_to_ask(city_id: int | None) -> str:
    mayor = mayor_of(city_id)
    if mayor is None:
        return str(_("Your city has no mayor on Accord yet: ask the secretariat to invite one."))
    return str(_("Ask %(mayor)s, the mayor of your city, for a mandate on their Mandates page.",
                 mayor=mayor.display_name))


def missing(declaration: Declaration, user: User, key: SigningKey | None = None) -> str | None:
    """Why ``user`` cannot sign ``declaration`` for lack of a mandate now (None when nothing is missing).

    Without ``key``: whether any of their active keys is covered.
    """
    if not declaration.require_mandates or user.role != Role.DELEGATE.value:
        return None
    keys = [key] if key is not None else list(db.session.scalars(
        select(SigningKey).where(SigningKey.user_id == user.id, SigningKey.revoked_at.is_(None))))
    if any(covering(declaration, user, each) is not None for each in keys):
        return None
    standing = _candidates(user.city_id, user.id, utcnow()) if user.city_id is not None else []
    if key is not None and any(payload.mandate_scope_covers(m.scope, declaration.slug) for m in standing):
        what = _("This declaration requires a mayor's mandate, and your mandate does not cover the key %(key)s.",
                 key=key.fingerprint)
    elif standing:
        what = _("This declaration requires a mayor's mandate, and your mandate does not cover this declaration.")
    elif not keys:
        what = _("This declaration requires a mayor's mandate for your key: enrol a key first, then ask for one.")
    else:
        what = _("This declaration requires a mayor's mandate, and no mandate in force names you.")
    return f"{what} {whom_to_ask(user.city_id)}"


def require(declaration: Declaration, user: User, key: SigningKey, moment: datetime | None = None) -> Mandate | None:
    """The covering mandate when the declaration requires one (``MandateMissing`` if none), else None."""
    if not declaration.require_mandates:
        return None
    mandate = covering(declaration, user, key, moment)
    if mandate is None:
        raise MandateMissing(missing(declaration, user, key) or _("No mandate covers this signature."))
    return mandate


def require_named(declaration: Declaration, user: User, key: SigningKey, named_sha256: object) -> Mandate | None:
    """At acceptance: the mandate the statement names (``mandate_sha256``) still stands and covers this signature.

    A statement without the field (format 1) needs some covering mandate when the declaration requires one.
    """
    if not declaration.require_mandates:
        return None
    if not isinstance(named_sha256, str):
        return require(declaration, user, key)
    mandate = covering(declaration, user, key, named=named_sha256)
    if mandate is None:
        raise MandateMissing(_("The mandate this statement names no longer covers your signature (revoked or "
                               "expired). %(ask)s", ask=whom_to_ask(user.city_id)))
    return mandate


def of_city(city_id: int) -> list[Mandate]:
    """Every mandate of the city, newest first, with their revocations and delegates loaded."""
    return list(db.session.scalars(
        select(Mandate).where(Mandate.city_id == city_id)
        .options(selectinload(Mandate.revocation), selectinload(Mandate.delegate))
        .order_by(Mandate.id.desc())
    ))


def cities_in_place(declaration: Declaration) -> dict[int, bool]:
    """For each signatory city: whether a standing mandate covering this declaration names one of its delegates."""
    now = utcnow()
    result: dict[int, bool] = {}
    for city_id in db.session.scalars(select(Signatory.city_id).where(Signatory.declaration_id == declaration.id)):
        result[city_id] = any(payload.mandate_scope_covers(m.scope, declaration.slug)
                              for m in _candidates(city_id, None, now))
    return result


def by_sha256(hashes: set[str]) -> list[Mandate]:
    """The mandates with these SHA-256s (those the signatures of a frozen bundle name), revocations loaded."""
    if not hashes:
        return []
    return list(db.session.scalars(
        select(Mandate).where(Mandate.payload_sha256.in_(sorted(hashes)))
        .options(selectinload(Mandate.revocation), selectinload(Mandate.mayor_key), selectinload(Mandate.city))
        .order_by(Mandate.id)
    ))
