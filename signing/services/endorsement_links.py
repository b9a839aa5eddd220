"""People's one-time e-mail links: the address is confirmed by opening the link, which opens the endorsement step.

A link is asked for with an e-mail address only (no password). Links are limited per e-mail address and per
e-mail domain (``ENDORSEMENT_LINK_LIMIT_EMAIL`` / ``_DOMAIN``, in the rate limiter's storage: memory in the
embedded default, Redis in production); the web route also limits per network address. A link expires after
``ENDORSEMENT_LINK_TTL`` and works once; only its SHA-256 is stored. The answer never says whether the
address endorsed before.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from limits import parse_many
from sqlalchemy import select, update

from ..extensions import db, limiter
from ..models import Declaration, EndorsementLink, Endorser, utcnow
from . import ServiceError, endorsements, endorsers, outbox, transactions


class TooManyLinks(ServiceError):
    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.retry_after = 3600


class BadLink(ServiceError):
    status = 400
    code = "bad_link"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _hit(setting: str, scope: str, subject: str) -> bool:
    """Count one request of ``subject`` against every limit of ``setting``; False if one is exceeded."""
    allowed = True
    for item in parse_many(str(current_app.config[setting])):
        allowed = limiter.limiter.hit(item, "accord-endorse", scope, _digest(subject)) and allowed
    return allowed


def request_link(declaration: Declaration, email: str) -> None:
    """E-mail a one-time link to endorse ``declaration`` as the person of this address (caller: a public form)."""
    endorsements.manifest_sha256(declaration)  # 409 unless frozen
    address = endorsers.clean_email(email)
    if not _hit("ENDORSEMENT_LINK_LIMIT_EMAIL", "email", address):
        raise TooManyLinks(_("Too many links were asked for this address. Use the last one we sent, or try "
                             "again later."))
    if not _hit("ENDORSEMENT_LINK_LIMIT_DOMAIN", "domain", endorsers.email_domain(address)):
        raise TooManyLinks(_("Too many links were asked for addresses of this e-mail domain. Try again later."))
    person = endorsers.person_for_email(address)
    token = secrets.token_urlsafe(32)
    ttl: timedelta = current_app.config["ENDORSEMENT_LINK_TTL"]
    now = utcnow()
    link = EndorsementLink(endorser_id=person.id, declaration_id=declaration.id, token_hash=_digest(token),
                           created_at=now, expires_at=now + ttl)
    db.session.add(link)
    db.session.flush()
    base = current_app.config["PUBLIC_URL"]
    outbox.queue_email(f"endorsement_link:{link.id}", address, "endorsement_link", new_key=True,
                       title=declaration.title, slug=declaration.slug,
                       secret_url=f"{base}/d/{declaration.slug}/endorse/link/{token}",
                       hours=int(ttl.total_seconds() // 3600))
    transactions.commit()


def consume(declaration: Declaration, token: str) -> Endorser:
    """Use a link once: the person it was sent to, for this declaration; 400 if unknown, used or expired."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise BadLink(_("This link is not valid. Ask for a new one from the declaration's page."))
    link = db.session.scalar(select(EndorsementLink).where(EndorsementLink.token_hash == _digest(token)))
    if link is None or link.declaration_id != declaration.id:
        raise BadLink(_("This link is not valid. Ask for a new one from the declaration's page."))
    if link.used_at is not None:
        raise BadLink(_("This link has already been used. Ask for a new one from the declaration's page."))
    if link.expires_at <= utcnow():
        raise BadLink(_("This link has expired. Ask for a new one from the declaration's page."))
    claimed = db.session.execute(update(EndorsementLink).where(
        EndorsementLink.id == link.id, EndorsementLink.used_at.is_(None)).values(used_at=utcnow()))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        transactions.rollback()
        raise BadLink(_("This link has already been used. Ask for a new one from the declaration's page."))
    person = link.endorser
    transactions.commit(keep=(person,))
    return person
