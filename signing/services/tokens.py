"""Bearer tokens for the JSON API.

A token is ``acc_`` followed by 43 URL-safe characters (32 random bytes). It is
shown once, when it is created; the database keeps only its SHA-256 and a short
visible prefix that helps its owner tell tokens apart. A token works while it is
not revoked and its owner's account is active.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import ApiToken, Role, User, utcnow
from . import Conflict, Forbidden, NotFound, ServiceError, audit, refuse_bidi, transactions

TOKEN_PREFIX = "acc_"  # noqa: S105 - a format marker, not a secret
VISIBLE_CHARS = 12  # "acc_" and the first 8 random characters
MAX_NAME = 120
MAX_TOKEN_LENGTH = 200
DEFAULT_NAME = "API token"
# ``last_used_at`` is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split()) or DEFAULT_NAME
    if len(name) > MAX_NAME:
        raise ServiceError(_("The token name is too long (%(MAX_NAME)s characters at most).",
                             MAX_NAME=MAX_NAME))
    if any(ch == "\ufffd" or unicodedata.category(ch) in {"Cc", "Cs"} for ch in name):
        raise ServiceError(_("The token name contains characters that are not allowed."))
    return refuse_bidi(name, _("token name"))


def create(user: User, name: str | None = None, actor: User | None = None) -> tuple[ApiToken, str]:
    """Make a token for ``user``; returns the row and the secret (the only time it exists in clear)."""
    if not user.active:
        raise Conflict(_("This account is deactivated; its tokens would not work."))
    clean = _clean_name(name)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=clean, token_hash=token_hash(raw), prefix=raw[:VISIBLE_CHARS])
    db.session.add(token)
    db.session.flush()
    audit.record("api_token.created", token, actor, user=user.id, name=clean,
                 prefix=token.prefix)
    transactions.commit()
    return token, raw


def list_for(user: User) -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def get(token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
    if token is None:
        raise NotFound(_("No API token with that number."))
    return token


def revoke(token: ApiToken, actor: User | None) -> None:
    """Revoke a token: its owner, the secretariat, or the command line (``actor`` None)."""
    if actor is not None and actor.id != token.user_id and actor.role != Role.SECRETARIAT:
        raise Forbidden(_("Only the token's owner or the secretariat can revoke it."))
    if token.revoked_at is not None:
        raise Conflict(_("This token is already revoked."))
    token.revoked_at = utcnow()
    audit.record("api_token.revoked", token, actor, user=token.user_id, prefix=token.prefix)
    transactions.commit()


# Every API request runs this statement: built once, with a bound parameter.
_AUTHENTICATE = (
    select(User, ApiToken.id, ApiToken.last_used_at)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None), User.active.is_(True))
    .options(joinedload(User.city))
)


def authenticate(raw: str) -> User | None:
    """The active user a presented token belongs to, or None. Records when the token was used.

    One query: the token (not revoked) joined to its owner (active) and the owner's city, which
    every signing request reads; ``last_used_at`` is written (and committed) at most once a minute.
    """
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > MAX_TOKEN_LENGTH or not raw.isascii():
        return None
    row = db.session.execute(_AUTHENTICATE, {"token_hash": token_hash(raw)}).one_or_none()
    if row is None:
        return None
    user: User = row[0]
    token_id, last_used_at = row[1], row[2]
    now = utcnow()
    if last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION:
        db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
        transactions.commit(keep=(user, user.city))  # the request goes on with the user just read: no reload
    return user
