"""Endorsers and their keys: random public ids, people by e-mail address, organisations, cities; name erasure.

An endorser's statements name only its ``public_id`` (``en_`` + 26 lowercase base32 characters), made here.
E-mail addresses stay private; a name is shown only with consent and can be erased (the statements stay).
"""

from __future__ import annotations

import base64
import re
import secrets
from functools import cache

from babel import Locale
from flask_babel import gettext as _
from sqlalchemy import func, inspect, select, update

from ..core import payload
from ..extensions import db
from ..models import Endorser, EndorserKey, EndorserKind, User, utcnow
from . import Forbidden, ServiceError, accounts, audit, endorsement_queries

PUBLIC_ID = re.compile(r"^en_[a-z2-7]{26}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def new_public_id() -> str:
    """``en_`` and 26 lowercase base32 characters (130 random bits)."""
    return "en_" + base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()[:26]


@cache
def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English name (from Babel's CLDR data)."""
    territories = Locale("en").territories
    return {code: name for code, name in sorted(territories.items(), key=lambda item: item[1])
            if len(code) == 2 and code.isalpha() and code not in ("EU", "EZ", "UN", "QO", "XA", "XB", "ZZ")}


def code_for(name: str) -> str:
    """The alpha-2 code of a country named in English (a member city's ``country``), or ""."""
    def norm(text: str) -> str:
        return " ".join(text.replace("&", "and").lower().split())

    wanted = norm(name or "")
    return next((code for code, english in countries().items() if norm(english) == wanted), "")


def clean_country(value: str) -> str:
    """An upper-case alpha-2 code, or "" for none; a clear 400 otherwise."""
    code = (value or "").strip().upper()
    if code and code not in countries():
        raise ServiceError(_("Choose a country from the list (or none)."), code="bad_country")
    return code


def clean_email(value: str) -> str:
    """A valid address, lower-cased (syntax only, no DNS look-up); 400 otherwise."""
    email = (value or "").strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise ServiceError(_("Enter a valid e-mail address."), code="bad_email")
    return accounts.normalise_email(email)


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1]


def by_public_id(public_id: str) -> Endorser | None:
    if not isinstance(public_id, str) or not PUBLIC_ID.match(public_id):
        return None
    return db.session.scalar(select(Endorser).where(Endorser.public_id == public_id))


_COLUMNS = tuple(Endorser.__table__.columns)


def read_by_public_id(public_id: str) -> Endorser | None:
    """``by_public_id`` without the ORM's loading: one Core select of the row, a transient ``Endorser`` made of it.

    The object is never added to the session (nothing of it is ever written, nothing to invalidate: it is
    read afresh each time); for a caller that only reads the endorser (the one-request endorsement).
    """
    if not isinstance(public_id, str) or not PUBLIC_ID.match(public_id):
        return None
    row = db.session.connection().execute(select(*_COLUMNS).where(Endorser.public_id == public_id)).first()
    return None if row is None else Endorser(**{column.key: row[index] for index, column in enumerate(_COLUMNS)})


def person_for_email(email: str) -> Endorser:
    """The person endorser of this address, made on first use (caller commits)."""
    email = clean_email(email)
    found = db.session.scalar(select(Endorser).where(Endorser.kind == EndorserKind.PERSON.value,
                                                     func.lower(Endorser.email) == email))
    if found is not None:
        return found
    person = Endorser(public_id=new_public_id(), kind=EndorserKind.PERSON.value, country="", email=email)
    db.session.add(person)
    db.session.flush()
    return person


def for_city_delegate(user: User) -> Endorser:
    """The ``city`` endorser of a member city's delegate (one per city, verified by membership; caller commits)."""
    if not user.is_delegate or user.city is None:
        raise Forbidden(_("Only a member city's delegate endorses for a city."))
    found = db.session.scalar(select(Endorser).where(Endorser.city_id == user.city.id))
    if found is not None:
        return found
    city = Endorser(public_id=new_public_id(), kind=EndorserKind.CITY.value, country=code_for(user.city.country),
                    city_id=user.city.id,
                    display_name=user.city.name, show_name=True, verified_at=utcnow())
    db.session.add(city)
    db.session.flush()
    return city


def for_user(user: User) -> Endorser | None:
    """The organisation endorser whose account this is, or the city endorser of a delegate's city."""
    found: Endorser | None = db.session.scalar(select(Endorser).where(Endorser.user_id == user.id))
    if found is None and user.is_delegate and user.city_id is not None:
        found = db.session.scalar(select(Endorser).where(Endorser.city_id == user.city_id))
    return found


def key_for(endorser: Endorser, public_key: bytes, *, register: bool) -> EndorserKey:
    """The endorser's key with these bytes; registered now if ``register`` (the caller proved who the endorser is).

    A key of another endorser, a weak key or an unknown key without ``register`` is refused (403/400).
    """
    if payload.is_weak_public_key(public_key):
        raise ServiceError(_("This public key is not a usable Ed25519 key."), code="bad_key")
    fingerprint = payload.fingerprint(public_key)
    key = db.session.scalar(select(EndorserKey).where(EndorserKey.fingerprint == fingerprint))
    if key is not None:
        if key.endorser_id != endorser.id or bytes(key.public_key) != public_key:
            raise Forbidden(_("This key belongs to another endorser."))
        return key
    if not register:
        raise Forbidden(_("This key is not registered for this endorser. Open a new link from your e-mail."))
    key = EndorserKey(endorser_id=endorser.id, public_key=public_key, fingerprint=fingerprint)
    db.session.add(key)
    db.session.flush()
    return key


def set_name(endorser: Endorser, name: str | None, show: bool) -> None:
    """Record the name and the consent to show it (caller commits). An empty name shows nothing."""
    cleaned = (name or "").strip()[:200] or None
    endorser.display_name = cleaned
    endorser.show_name = bool(show and cleaned)
    if cleaned is not None:
        endorser.erased_at = None


_DETAILS = ("country", "display_name", "show_name", "erased_at")


def give_details(endorser: Endorser, *, country: str | None = None, name: str | None = None,
                 show: bool = False) -> bool:
    """A person's country and name as given with their endorsement (caller commits); True if anything changed.

    A loaded endorser is changed as any ORM object; one read with ``read_by_public_id`` (never in the session)
    is written with one ``UPDATE`` of the changed columns, only if something changed.
    """
    before = {column: getattr(endorser, column) for column in _DETAILS}
    if country is not None:
        endorser.country = clean_country(country)
    if name is not None:
        set_name(endorser, name, show)
    changed = {column: getattr(endorser, column) for column in _DETAILS if getattr(endorser, column) != before[column]}
    if changed and inspect(endorser).transient:
        db.session.execute(update(Endorser).where(Endorser.id == endorser.id).values(**changed))
        endorsement_queries.note_change()
    return bool(changed)


def erase_name(endorser: Endorser, actor: User | None) -> None:
    """Erase the name on request: the signed statements stay, anonymous (they never held the name)."""
    endorser.display_name = None
    endorser.show_name = False
    endorser.erased_at = utcnow()
    audit.record("endorser.name_erased", endorser, actor, endorser=endorser.public_id)
