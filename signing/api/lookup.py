"""Loading what a URL names, with the same refusals as the web guards (404 unknown, 403 role, 409 state)."""

from __future__ import annotations

import re

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from ..core.payload import PayloadError, b64decode
from ..extensions import db
from ..models import Declaration, Role, SigningKey, User
from ..services import Forbidden, NotFound, ServiceError, keys, workflow
from ..services.workflow import Action
from .bearer import current_user

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_FINGERPRINT = re.compile(r"^sha256:[0-9a-f]{64}$")


# Every declaration URL runs this statement (built once): the declaration with its open revision.
_BY_SLUG = (
    select(Declaration).where(Declaration.slug == bindparam("slug")).options(joinedload(Declaration.open_revision))
)


def declaration(slug: str, action: Action = Action.VIEW) -> Declaration:
    """The declaration, if the token's user may ``action`` it now (its open revision loaded with it)."""
    if len(slug) > 80 or not _SLUG.match(slug):
        raise NotFound("No such declaration.")
    found = db.session.scalar(_BY_SLUG, {"slug": slug})
    if found is None:
        raise NotFound("No such declaration.")
    workflow.require(action, found, current_user())
    return found


def key(fingerprint: str) -> SigningKey:
    if not _FINGERPRINT.match(fingerprint):
        raise NotFound("No key with that fingerprint.")
    return keys.get_by_fingerprint(fingerprint)


def keys_visible_to(user: User, owner_id: int | None) -> list[SigningKey]:
    """Your own keys; for the secretariat, everyone's or those of ``owner_id``."""
    if owner_id is None or owner_id == user.id:
        if user.role == Role.SECRETARIAT and owner_id is None:
            return list(db.session.scalars(select(SigningKey).order_by(SigningKey.id)))
        return keys.keys_of(user)
    if user.role != Role.SECRETARIAT:
        raise Forbidden("Only the secretariat may list another person's keys.")
    owner = db.session.get(User, owner_id)
    if owner is None:
        raise NotFound("No such user.")
    return keys.keys_of(owner)


def fingerprint(value: str) -> str:
    """A fingerprint from a request body: well-formed, else 400 (unknown ones are 404 in the service)."""
    if not _FINGERPRINT.match(value):
        raise ServiceError("key_fingerprint must be 'sha256:' followed by 64 lower-case hex digits.")
    return value


def decode(value: str, what: str, size: int | None = None) -> bytes:
    """Base64 from a request body; 400 if it is not base64 or not ``size`` bytes long."""
    try:
        raw = b64decode(value, what)
    except PayloadError as exc:
        raise ServiceError(f"{exc}.", code="invalid_base64") from exc
    if size is not None and len(raw) != size:
        raise ServiceError(f"{what} must be {size} bytes, not {len(raw)}.", code="invalid_size")
    if not raw:
        raise ServiceError(f"{what} is empty.")
    return raw
