"""Recording audit events. Events are only ever added, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import AuditEvent, User


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
    "user.login": "Logged in",
    "user.login_failed": "Failed log-in",
    "session.ended": "Session ended",
    "session.logout_everywhere": "Logged out everywhere",
    "user.password_changed": "Password changed",
    "user.password_reset": "Password reset",
}


def security_events_of(user: User, limit: int = 10) -> list[AuditEvent]:
    """The latest security events about ``user``'s account (log-ins, failures, sessions ended), newest first."""
    return list(db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.object_type == "users", AuditEvent.object_id == str(user.id),
               AuditEvent.action.in_(SECURITY_EVENTS))
        .order_by(AuditEvent.id.desc()).limit(limit)
    ))
