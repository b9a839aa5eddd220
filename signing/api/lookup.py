"""Loading what a URL names, with the same refusals as the web guards (404 unknown, 403 role, 409 state)."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import Declaration, Revision, Role, SigningKey, User
from ..services import Forbidden, NotFound, keys, workflow
from ..services.workflow import Action
from .bearer import current_user
from .intake import is_fingerprint

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


# Every declaration URL runs this statement (built once): the declaration with its open revision and that
# revision's language versions (which a signature names), in one query.
_BY_SLUG = (
    select(Declaration).where(Declaration.slug == bindparam("slug"))
    .options(joinedload(Declaration.open_revision).joinedload(Revision.version_rows))
)


def named(slug: str) -> Declaration:
    """The declaration (its open revision loaded with it), or 404; who may do what with it is not checked here."""
    if len(slug) > 80 or not _SLUG.match(slug):
        raise NotFound(_("No such declaration."))
    found = db.session.execute(_BY_SLUG, {"slug": slug}).unique().scalar_one_or_none()
    if found is None:
        raise NotFound(_("No such declaration."))
    return found


def declaration(slug: str, action: Action = Action.VIEW) -> Declaration:
    """The declaration, if the token's user may ``action`` it now (its open revision loaded with it)."""
    found = named(slug)
    workflow.require(action, found, current_user())
    return found


def key(fingerprint: str) -> SigningKey:
    if not is_fingerprint(fingerprint):
        raise NotFound(_("No key with that fingerprint."))
    return keys.get_by_fingerprint(fingerprint)


def keys_visible_to(user: User, owner_id: int | None) -> list[SigningKey]:
    """Your own keys; for the secretariat, everyone's or those of ``owner_id``."""
    if owner_id is None or owner_id == user.id:
        if user.role == Role.SECRETARIAT and owner_id is None:
            return list(db.session.scalars(select(SigningKey).order_by(SigningKey.id)))
        return keys.keys_of(user)
    if user.role != Role.SECRETARIAT:
        raise Forbidden(_("Only the secretariat may list another person's keys."))
    owner = db.session.get(User, owner_id)
    if owner is None:
        raise NotFound(_("No such user."))
    return keys.keys_of(owner)
