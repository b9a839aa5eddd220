"""Whether an account has a second factor, and whether it must have one.

A second factor is a confirmed TOTP secret or at least one passkey. Secretariat accounts must have
one when ``REQUIRE_2FA_FOR_SECRETARIAT`` is on (the default in production).
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, select

from ..extensions import db
from ..models import AuditEvent, Passkey, RecoveryCode, Role, TotpSecret, User, utcnow
from . import ServiceError, audit, transactions

FAILED = "user.second_factor_failed"


def has_totp(user: User) -> bool:
    return db.session.scalar(
        select(TotpSecret.id).where(TotpSecret.user_id == user.id, TotpSecret.confirmed_at.is_not(None))
    ) is not None


def passkey_count(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(Passkey).where(Passkey.user_id == user.id)) or 0


def has_second_factor(user: User) -> bool:
    return has_totp(user) or passkey_count(user) > 0


def check_not_locked_out(user: User) -> None:
    """Refuse (429) while the account has had too many wrong second factors recently (from anywhere)."""
    since = utcnow() - current_app.config["SECOND_FACTOR_FAILURE_WINDOW"]
    failures = db.session.scalar(
        select(func.count()).select_from(AuditEvent)
        .where(AuditEvent.action == FAILED, AuditEvent.actor_id == user.id, AuditEvent.occurred_at >= since)
    ) or 0
    if failures >= current_app.config["SECOND_FACTOR_MAX_FAILURES"]:
        minutes = int(current_app.config["SECOND_FACTOR_FAILURE_WINDOW"].total_seconds() // 60)
        raise ServiceError(_("Too many wrong attempts for this account. Wait %(minutes)s minutes and try again.",
                             minutes=minutes),
                           status=429, code="too_many_attempts")


def required_for(user: User) -> bool:
    """True if this account may not be without a second factor."""
    return bool(current_app.config.get("REQUIRE_2FA_FOR_SECRETARIAT")) and user.role == Role.SECRETARIAT


def must_enrol(user: User) -> bool:
    """True if the account must enrol a second factor before doing anything else."""
    return required_for(user) and not has_second_factor(user)


def reset(user: User, actor: User | None) -> None:
    """Remove every second factor of ``user`` (lost device and recovery codes) and end their sessions.

    For the command line (``actor`` None): the account's owner then logs in with the password alone and,
    if the account must have one, enrols a new second factor first.
    """
    removed = {"totp": has_totp(user), "passkeys": passkey_count(user)}
    for model in (TotpSecret, RecoveryCode, Passkey):
        db.session.execute(delete(model).where(model.user_id == user.id))
    user.session_epoch += 1
    audit.record("user.second_factor_reset", user, actor, **removed)
    transactions.commit()
