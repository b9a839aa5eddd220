"""The secretariat's one-click nudges per city on the dashboard: "remind now" and "resend invitation".

Each is rate-limited per declaration and city (``NUDGE_INTERVAL_MINUTES``, default 60: the last nudge is
found in the audit log, where every nudge is recorded) so that a double click or an impatient colleague
does not flood a city's delegates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import AuditEvent, City, Declaration, Role, Status, User, utcnow
from . import Conflict, ServiceError, accounts, audit, outbox, progress, transactions
from .workflow import Action, require

REMINDED = "city.reminded"
INVITATIONS_RESENT = "city.invitations_resent"


class TooSoon(ServiceError):
    status = 429
    code = "too_soon"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Subject:
    """What the audit event is about: one city on one declaration."""

    id: str
    __tablename__ = "declaration_city"


def _subject(declaration: Declaration, city: City) -> _Subject:
    return _Subject(f"{declaration.id}:{city.id}")


def _interval() -> timedelta:
    return timedelta(minutes=int(current_app.config["NUDGE_INTERVAL_MINUTES"]))


def _check_rate(action: str, declaration: Declaration, city: City) -> None:
    last = db.session.scalar(
        select(AuditEvent.occurred_at)
        .where(AuditEvent.action == action, AuditEvent.object_type == _Subject.__tablename__,
               AuditEvent.object_id == _subject(declaration, city).id)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    if last is None:
        return
    wait = last + _interval() - utcnow()
    if wait > timedelta(0):
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        raise TooSoon(f"{city.name} was nudged less than {int(_interval().total_seconds() // 60)} minutes ago. "
                      f"Try again in {minutes} minute(s).", retry_after=int(wait.total_seconds()) + 1)


def _delegates(city: City, joined: bool) -> list[User]:
    has_password = User.password_hash.is_not(None) if joined else User.password_hash.is_(None)
    return list(db.session.scalars(
        select(User).where(User.role == Role.DELEGATE.value, User.city_id == city.id, User.active.is_(True),
                           has_password).order_by(User.id)))


def remind(declaration: Declaration, city: City, actor: User) -> int:
    """E-mail every joined delegate of ``city`` that their city's signature is awaited; returns how many."""
    require(Action.DASHBOARD, declaration, actor)
    if declaration.state is not Status.OPEN_FOR_SIGNATURE or declaration.open_revision is None:
        raise Conflict(_("Reminders are sent while the declaration is open for signature."))
    state = progress.build(declaration)
    if city.id not in {c.id for c in state.asked}:
        raise Conflict(_("%(name)s is not asked to sign this declaration.", name=city.name))
    if city.id not in {c.id for c in state.not_signed}:
        raise Conflict(_("%(name)s has already signed.", name=city.name))
    delegates = _delegates(city, joined=True)
    if not delegates:
        raise Conflict(_("No delegate of %(name)s has joined yet: resend the invitation instead.",
                         name=city.name))
    _check_rate(REMINDED, declaration, city)
    revision = declaration.open_revision
    deadline = declaration.signing_deadline
    stamp = utcnow().timestamp()
    for user in delegates:
        outbox.queue_email(
            f"remind_now:{declaration.id}:{city.id}:{stamp:.6f}:user{user.id}", user.email, "remind_now",
            display_name=user.display_name, title=declaration.title, slug=declaration.slug, number=revision.number,
            city=city.name, deadline=deadline.strftime("%Y-%m-%d %H:%M UTC") if deadline else "",
            signed=state.signed_count, signatories=state.asked_count, sender=actor.display_name,
        )
    audit.record(REMINDED, _subject(declaration, city), actor, declaration=declaration.slug, city=city.slug,
                 delegates=len(delegates))
    transactions.commit()
    return len(delegates)


def resend_invitations(declaration: Declaration, city: City, actor: User) -> int:
    """Send the invitation again to every delegate of ``city`` who has not joined; returns how many."""
    require(Action.DASHBOARD, declaration, actor)
    pending = _delegates(city, joined=False)
    if not pending:
        raise Conflict(_("Every delegate of %(name)s has already accepted the invitation.", name=city.name))
    _check_rate(INVITATIONS_RESENT, declaration, city)
    for user in pending:
        accounts.resend_invitation(user, actor)  # queues the e-mail and records user.invitation_resent
    audit.record(INVITATIONS_RESENT, _subject(declaration, city), actor, declaration=declaration.slug,
                 city=city.slug, delegates=len(pending))
    transactions.commit()
    return len(pending)
