"""Recording audit events. Events are only ever added, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, cast, or_, select

from ..extensions import db
from ..models import AuditEvent, Passkey, SigningKey, User


def record(action: str, obj: object, actor: User | None, **details: Any) -> AuditEvent:
    """Add an audit event for ``obj`` to the current transaction (the caller commits)."""
    object_type = getattr(obj, "__tablename__", type(obj).__name__.lower())
    object_id = getattr(obj, "id", None)
    if object_id is None:
        db.session.flush()
        object_id = getattr(obj, "id", "")
    event = AuditEvent(
        action=action,
        object_type=str(object_type),
        object_id=str(object_id),
        actor_id=actor.id if actor is not None else None,
        details=details,
    )
    db.session.add(event)
    return event


# What the account page shows its owner, in their words.
SECURITY_EVENTS = {
    "user.login": _l("Logged in"),
    "user.login_failed": _l("Failed log-in"),
    "session.ended": _l("Session ended"),
    "session.logout_everywhere": _l("Logged out everywhere"),
    "user.password_changed": _l("Password changed"),
    "user.password_reset": _l("Password reset"),
    "user.second_factor_enrolled": _l("Second factor turned on"),
    "user.second_factor_removed": _l("Second factor turned off"),
    "user.second_factor_failed": _l("Wrong second factor"),
    "user.second_factor_reset": _l("Second factor reset by the secretariat"),
    "user.recovery_code_used": _l("Recovery code used"),
    "user.recovery_codes_renewed": _l("New recovery codes"),
    "key.enrol_wrong_password": _l("Key enrolment refused (wrong password)"),
}
# Events about the account's keys and passkeys (their object is the key): shown to the account owner when the
# owner or someone else acted on them.
OWNED_OBJECT_EVENTS = {
    "key.enrolled": ("signing_keys", _l("Signing key enrolled")),
    "key.revoked": ("signing_keys", _l("Signing key revoked")),
    "passkey.added": ("passkeys", _l("Passkey added")),
    "passkey.removed": ("passkeys", _l("Passkey removed")),
}
SECURITY_EVENT_LABELS = {**SECURITY_EVENTS, **{action: label for action, (_t, label) in OWNED_OBJECT_EVENTS.items()}}


def security_events_of(user: User, limit: int = 10) -> list[AuditEvent]:
    """The latest security events of ``user``'s account, newest first: log-ins and failures, sessions ended,
    password and second-factor changes, and the enrolment and revocation of its signing keys and passkeys."""
    owned = {
        "signing_keys": select(cast(SigningKey.id, String)).where(SigningKey.user_id == user.id),
        "passkeys": select(cast(Passkey.id, String)).where(Passkey.user_id == user.id),
    }
    about_account = and_(AuditEvent.object_type == "users", AuditEvent.object_id == str(user.id),
                         AuditEvent.action.in_(SECURITY_EVENTS))
    about_owned = [
        and_(AuditEvent.action == action, AuditEvent.object_type == table, AuditEvent.object_id.in_(owned[table]))
        for action, (table, _label) in OWNED_OBJECT_EVENTS.items()
    ]
    return list(db.session.scalars(
        select(AuditEvent).where(or_(about_account, *about_owned)).order_by(AuditEvent.id.desc()).limit(limit)
    ))
