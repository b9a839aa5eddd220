"""Signed, single-use, expiring links for invitations and password resets.

The link carries a random secret signed with ``SECRET_KEY`` (itsdangerous, salted
per purpose). Only the SHA-256 of the secret is stored; a link is valid while its
row is unexpired, unused and not superseded by a newer link of the same purpose.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update

from ..extensions import db
from ..models import AccountLink, LinkPurpose, User, utcnow
from . import ServiceError


class LinkError(ServiceError):
    status = 400
    code = "invalid_link"


class LinkGone(LinkError):
    status = 410
    code = "link_gone"


def _serializer(purpose: LinkPurpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"accord.link.{purpose.value}")


def _max_age(purpose: LinkPurpose) -> timedelta:
    key = "INVITATION_MAX_AGE" if purpose is LinkPurpose.INVITATION else "PASSWORD_RESET_MAX_AGE"
    value: timedelta = current_app.config[key]
    return value


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def issue(user: User, purpose: LinkPurpose) -> str:
    """Add a new link to the session, revoking older unused ones; returns the token for the URL."""
    now = utcnow()
    db.session.execute(
        update(AccountLink)
        .where(
            AccountLink.user_id == user.id,
            AccountLink.purpose == purpose.value,
            AccountLink.used_at.is_(None),
            AccountLink.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    secret = secrets.token_urlsafe(32)
    db.session.add(
        AccountLink(
            user_id=user.id,
            purpose=purpose.value,
            token_hash=_digest(secret),
            created_at=now,
            expires_at=now + _max_age(purpose),
        )
    )
    return _serializer(purpose).dumps(secret)


def resolve(token: str, purpose: LinkPurpose) -> AccountLink:
    """Return the live link row for ``token`` or raise a ``LinkError`` saying why not."""
    if not token or len(token) > 512:
        raise LinkError(_("This link is not valid. Check that you copied the whole address."))
    try:
        secret = _serializer(purpose).loads(token, max_age=int(_max_age(purpose).total_seconds()))
    except SignatureExpired as exc:
        raise LinkGone(_("This link has expired. Ask for a new one.")) from exc
    except BadSignature as exc:
        raise LinkError(_("This link is not valid. Check that you copied the whole address.")) from exc
    if not isinstance(secret, str):
        raise LinkError(_("This link is not valid."))
    link = db.session.scalar(
        select(AccountLink).where(AccountLink.token_hash == _digest(secret), AccountLink.purpose == purpose.value)
    )
    if link is None:
        raise LinkError(_("This link is not valid. Check that you copied the whole address."))
    if link.used_at is not None:
        raise LinkGone(_("This link has already been used. Ask for a new one if you need it."))
    if link.revoked_at is not None:
        raise LinkGone(_("This link was replaced by a newer one. Use the most recent e-mail."))
    if link.expires_at <= utcnow():
        raise LinkGone(_("This link has expired. Ask for a new one."))
    if not link.user.active:
        raise LinkGone(_("This account has been deactivated."))
    return link
